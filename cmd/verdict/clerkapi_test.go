package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClerkSecretKeySource serves the JWKS from a stand-in for Clerk's
// Backend API that demands the secret key, and checks that tokens verify,
// that readiness follows the keys, and that the secret never shows in logs
// or metrics.
func TestClerkSecretKeySource(t *testing.T) {
	t.Parallel()
	const secret = "sk_test_0123456789abcdefSECRET"
	issuer := newIssuer(t)
	var fetches, refused atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jwks" || r.Header.Get("Clerk-API-Version") == "" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+secret {
			refused.Add(1)
			http.Error(w, `{"errors":[{"code":"authentication_invalid"}]}`, http.StatusUnauthorized)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(issuer.JWKS())
	}))
	t.Cleanup(api.Close)

	t.Run("valid secret from CLERK_SECRET_KEY", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"CLERK_SECRET_KEY": secret}
		inst := startProgram(t, issuer, []string{"--clerk-api-url", api.URL}, func(k string) string { return env[k] })
		waitReady(t, inst.base)
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": inst.mint(t, v1Admin), "action": "billing:manage", "resource": orgA}, &d)
		if !d.Allow {
			t.Errorf("token signed by the Backend API's key: %+v, want allow", d)
		}
		if fetches.Load() == 0 {
			t.Error("the Backend API was never asked for the JWKS")
		}
		assertNoSecret(t, inst, secret)
	})

	t.Run("wrong secret keeps the service unready", func(t *testing.T) {
		t.Parallel()
		inst := startProgram(t, issuer, []string{"--clerk-api-url", api.URL, "--clerk-secret-key", "sk_test_wrong_SECRET2"}, emptyEnv)
		deadline := time.Now().Add(3 * time.Second)
		for refused.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		resp, err := http.Get(inst.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/readyz = %d with a refused secret, want 503", resp.StatusCode)
		}
		if refused.Load() < 2 {
			t.Errorf("refused fetches = %d, want retries", refused.Load())
		}
		var e apiError
		if status := inst.post(t, "/v1/check", map[string]any{"token": inst.mint(t, v1Admin), "action": "tasks:read", "resource": orgA}, &e); status != 500 {
			t.Errorf("check without keys = %d %+v, want 500 (never an allow)", status, e)
		}
		assertNoSecret(t, inst, "sk_test_wrong_SECRET2")
	})
}

func assertNoSecret(t *testing.T, inst *instance, secret string) {
	t.Helper()
	if strings.Contains(inst.out.String(), secret) {
		t.Errorf("the secret key appears in the log:\n%s", inst.out)
	}
	resp, err := http.Get(inst.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), secret) {
		t.Error("the secret key appears in /metrics")
	}
}
