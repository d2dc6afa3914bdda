package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/verdict-pdp/verdict/internal/httpapi"
)

// TestEveryResponseIsNoStoreNoSniff: every answer the router gives, success
// or error, routed or not, carries Cache-Control: no-store and
// X-Content-Type-Options: nosniff.
func TestEveryResponseIsNoStoreNoSniff(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	deps := s.deps
	deps.Extra = []httpapi.Route{
		// A route that writes its own bytes, as /dev/jwks.json does.
		{Method: http.MethodGet, Path: "/raw", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("{}"))
		})},
		{Method: http.MethodGet, Path: "/panic", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("boom")
		})},
	}
	h := httpapi.New(deps)
	notReady := s.deps
	notReady.Ready = func() error { return errors.New("no verification key loaded yet") }

	check := `{"token":"` + s.token + `","action":"tasks:read","resource":{"org_id":"org_1"}}`
	tests := []struct {
		name, method, path, contentType, body string
		handler                               http.Handler
		status                                int
	}{
		{"decision", "POST", "/v1/check", "application/json", check, h, 200},
		{"batch", "POST", "/v1/check/batch", "application/json", `{"token":"` + s.token + `","checks":[{"action":"tasks:read"}]}`, h, 200},
		{"authenticate", "POST", "/v1/authenticate", "application/json", `{"token":"` + s.token + `"}`, h, 200},
		{"has", "POST", "/v1/has", "application/json", `{"token":"` + s.token + `","check":{"role":"org:member"}}`, h, 200},
		{"bad request", "POST", "/v1/check", "application/json", `{`, h, 400},
		{"unsupported media type", "POST", "/v1/check", "text/plain", check, h, 415},
		{"not found", "GET", "/v2/check", "", "", h, 404},
		{"method not allowed", "GET", "/v1/check", "", "", h, 405},
		{"healthz", "GET", "/healthz", "", "", h, 200},
		{"readyz", "GET", "/readyz", "", "", h, 200},
		{"readyz not ready", "GET", "/readyz", "", "", httpapi.New(notReady), 503},
		{"metrics", "GET", "/metrics", "", "", h, 200},
		{"extra route writing raw bytes", "GET", "/raw", "", "", h, 200},
		{"panic", "GET", "/panic", "", "", h, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.status)
			}
			for name, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("%s %s: %s = %q, want %q", tt.method, tt.path, name, got, want)
				}
			}
		})
	}
}

// TestNotFoundDoesNotEchoThePath: a 404 says there is no such endpoint
// without repeating what the caller sent, so nothing a caller puts in a
// URL is reflected back.
func TestNotFoundDoesNotEchoThePath(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	for _, path := range []string{"/v2/check", "/%3Cscript%3Eprobe%3C/script%3E", "/v1/check/probe"} {
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		got := decodeEnvelope(t, rec)
		if rec.Code != http.StatusNotFound || got.Code != "not_found" {
			t.Errorf("GET %s = %d %s, want 404 not_found", path, rec.Code, rec.Body)
		}
		if strings.Contains(got.Message, "probe") || strings.Contains(got.Message, "/v2") || strings.Contains(got.Message, "<") {
			t.Errorf("GET %s: message %q repeats the request path", path, got.Message)
		}
	}
}

// envelope is the {"error": {...}} body of every error answer.
type envelope struct{ Code, Message string }

func decodeEnvelope(t *testing.T, rec *httptest.ResponseRecorder) envelope {
	t.Helper()
	var body struct {
		Error envelope `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" {
		t.Fatalf("body %q is not the error envelope: %v", rec.Body, err)
	}
	return body.Error
}
