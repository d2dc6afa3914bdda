package devtoken_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authn"
)

func TestHandlerMintsVerifiableTokens(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	srv := httptest.NewServer(iss.Handler())
	t.Cleanup(srv.Close)

	body := `{"user_id":"user_2xyz","org_id":"org_1","org_role":"admin","permissions":["org:reports:export"]}`
	resp, err := http.Post(srv.URL+"/dev/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /dev/tokens: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST /dev/tokens = %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got struct {
		Token  string         `json:"token"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if got.Claims["sub"] != "user_2xyz" || got.Claims["v"] != float64(2) {
		t.Errorf("claims = %v, want sub user_2xyz and v 2", got.Claims)
	}
	keys, err := authn.ParseJWKS(iss.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS() error = %v", err)
	}
	v, err := authn.NewVerifier(authn.Config{Keys: keys}).Authenticate(context.Background(), got.Token)
	if err != nil {
		t.Fatalf("Authenticate(minted token) error = %v", err)
	}
	p := v.Principal
	if diff := cmp.Diff([]string{"org:reports:export"}, p.OrgPermissions); diff != "" || p.OrgRole != "org:admin" {
		t.Errorf("principal role %q, permissions diff (-want +got):\n%s", p.OrgRole, diff)
	}
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	h := iss.Handler()
	tests := []struct {
		name     string
		method   string
		body     string
		wantCode int
		wantErr  string
	}{
		{"unknown field", http.MethodPost, `{"user":"x"}`, http.StatusBadRequest, "bad_request"},
		{"malformed JSON", http.MethodPost, `{"user_id":`, http.StatusBadRequest, "bad_request"},
		{"empty body", http.MethodPost, ``, http.StatusBadRequest, "bad_request"},
		{"two objects", http.MethodPost, `{} {}`, http.StatusBadRequest, "bad_request"},
		{"wrong type", http.MethodPost, `{"ttl_seconds":"1h"}`, http.StatusBadRequest, "bad_request"},
		{"invalid permission", http.MethodPost, `{"org_id":"o","permissions":["read"]}`, http.StatusBadRequest, "bad_request"},
		{"invalid format", http.MethodPost, `{"format":"v9"}`, http.StatusBadRequest, "bad_request"},
		{"too large", http.MethodPost, `{"user_id":"` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, "payload_too_large"},
		{"GET", http.MethodGet, ``, http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/dev/tokens", strings.NewReader(tt.body)))
			var got struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not the error envelope: %v", rec.Body.String(), err)
			}
			if rec.Code != tt.wantCode || got.Error.Code != tt.wantErr || got.Error.Message == "" {
				t.Errorf("%s %q = %d %+v, want %d %s with a message", tt.method, tt.name, rec.Code, got.Error, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestHandlerMessagesReadAsWritten: error messages keep "<" and "&" as
// written rather than as "\u003c", since people read them.
func TestHandlerMessagesReadAsWritten(t *testing.T) {
	t.Parallel()
	h := newIssuer(t).Handler()
	tests := []struct {
		name, body, wantBody string
	}{
		{"invalid permission", `{"org_id":"o","permissions":["read"]}`,
			`{"error":{"code":"bad_request","message":"invalid token request: permission \"read\" is not of the form org:<feature>:<permission>"}}`},
		{"invalid feature", `{"features":["beta&co"]}`,
			`{"error":{"code":"bad_request","message":"invalid token request: features entry \"beta&co\" is not of the form <o|u|ou|uo>:<name>"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev/tokens", strings.NewReader(tt.body)))
			if got := strings.TrimSuffix(rec.Body.String(), "\n"); rec.Code != http.StatusBadRequest || got != tt.wantBody {
				t.Errorf("POST /dev/tokens %s = %d %s, want 400 %s", tt.body, rec.Code, got, tt.wantBody)
			}
		})
	}
}
