package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestWithdrawnKeyEndsCachedTokens: once the JWKS stops publishing a key,
// an admin token it signed is refused, even one answered before from the
// token and decision caches and whose exp is millennia away.
func TestWithdrawnKeyEndsCachedTokens(t *testing.T) {
	t.Parallel()
	old, next := newIssuer(t), newIssuer(t)
	var published atomic.Pointer[[]byte]
	jwks := old.JWKS()
	published.Store(&jwks)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*published.Load())
	}))
	t.Cleanup(srv.Close)
	inst := startProgram(t, old, []string{"--jwks-url", srv.URL}, emptyEnv)
	waitReady(t, inst.base)

	check := func(token string) decision {
		t.Helper()
		var got decision
		body := map[string]any{"token": token, "action": "org:sys_memberships:manage", "resource": orgA}
		if status := inst.post(t, "/v1/check", body, &got); status != http.StatusOK {
			t.Fatalf("check: status %d, want 200", status)
		}
		return got
	}
	admin := inst.mint(t, with(v1Admin, "exp", 1e14))
	for range 2 { // verified, then answered from the caches
		if got := check(admin); !got.Allow {
			t.Fatalf("before the rotation: %+v, want allowed", got)
		}
	}

	// The key is withdrawn. A token under the new key makes Verdict fetch
	// the JWKS again, once the refetch interval (1 s) since the first
	// load has passed.
	jwks = next.JWKS()
	published.Store(&jwks)
	time.Sleep(1100 * time.Millisecond)
	inst.issuer = next // mint under the new key from here on
	if got := check(inst.mint(t, v1Admin)); !got.Allow {
		t.Fatalf("token under the new key: %+v, want allowed", got)
	}
	if got := check(admin); got.Allow || got.Reason != "token_invalid" {
		t.Errorf("token under the withdrawn key: allow=%v reason=%s (%s); want denied with token_invalid",
			got.Allow, got.Reason, got.Message)
	}
}
