package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/devtoken"
	"github.com/verdict-pdp/verdict/internal/httpapi"
)

// TestAuthenticateFarFutureExp: a valid token whose exp lies in the year
// 10000 or later yields a principal that encoding/json cannot render (its
// expires_at). /v1/authenticate must never answer that with a 200 and an
// empty body: it answers 500 with the envelope and logs why. A refusal as
// token_invalid is accepted too, should the verifier come to reject such
// tokens itself.
func TestAuthenticateFarFutureExp(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	var logs syncBuffer
	deps := s.deps
	deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	h := httpapi.New(deps)

	tests := []struct {
		name    string
		exp     int64
		renders bool // the principal has a JSON form
	}{
		{"last second of 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix(), true},
		{"first second of 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), false},
		{"exp 1e14", 1e14, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := signWithExp(t, s.issuer, tt.exp)
			req := httptest.NewRequest(http.MethodPost, "/v1/authenticate", strings.NewReader(`{"token":"`+token+`"}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Body.Len() == 0 {
				t.Fatalf("POST /v1/authenticate = %d with an empty body", rec.Code)
			}
			var got struct {
				Authenticated bool
				Reason        string
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			switch {
			case tt.renders:
				if rec.Code != http.StatusOK || !got.Authenticated {
					t.Errorf("POST /v1/authenticate = %d %s, want 200 authenticated", rec.Code, rec.Body)
				}
			case rec.Code == http.StatusOK:
				if got.Authenticated || got.Reason != "token_invalid" {
					t.Errorf("POST /v1/authenticate = 200 %s, want 500 internal or a token_invalid refusal", rec.Body)
				}
			default:
				if e := decodeEnvelope(t, rec); rec.Code != http.StatusInternalServerError || e.Code != "internal" {
					t.Errorf("POST /v1/authenticate = %d %s, want 500 internal", rec.Code, rec.Body)
				}
				if !strings.Contains(logs.String(), "year outside of range") {
					t.Errorf("the 500 was not logged with its cause; logs:\n%s", logs.String())
				}
			}
		})
	}
}

// signWithExp signs a dev token whose exp is exp.
func signWithExp(t *testing.T, issuer *devtoken.Issuer, exp int64) string {
	t.Helper()
	claims, err := issuer.Claims(devtoken.TokenRequest{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	claims["exp"] = exp
	token, err := issuer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// syncBuffer is a bytes.Buffer that handlers running in parallel may log to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
