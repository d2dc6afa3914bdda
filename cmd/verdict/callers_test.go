package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/verdict-pdp/verdict/internal/callers"
	"github.com/verdict-pdp/verdict/internal/testcerts"
)

// TestCallersOverMutualTLS serves HTTPS with a client CA and an API keys
// file: the decision routes answer only a listed caller's key over a
// connection with a verified client certificate, a rotation of the file
// takes effect while serving, and health and metrics stay open (the
// kubelet's probes present no certificate).
func TestCallersOverMutualTLS(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := testcerts.NewAuthority(t, "server CA"), testcerts.NewAuthority(t, "client CA")
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cert, key := serverCA.Server(t, 1)
	keys := file("api-keys", []byte("# callers\nbilling "+callers.HashKey("billing-key-1")+"\n"))
	issuer := newIssuer(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(issuer.JWKS()) }))
	t.Cleanup(jwks.Close)
	inst := startProgram(t, issuer, []string{
		"--jwks-url", jwks.URL, "--api-keys-file", keys,
		"--tls-cert-file", file("tls.crt", cert), "--tls-key-file", file("tls.key", key), "--client-ca-file", file("ca.crt", clientCA.PEM),
	}, emptyEnv)
	base := strings.Replace(inst.base, "http://", "https://", 1)

	clientCert := clientCA.Client(t, 2)
	withCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool(), Certificates: []tls.Certificate{clientCert}}}}
	anonymous := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: serverCA.Pool()}}}

	do := func(c *http.Client, method, path, apiKey string) (int, string, http.Header) {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"token":"` + inst.mint(t, map[string]any{"sub": "user_1", "sid": "sess_1", "o": map[string]any{"id": "org_1", "rol": "admin", "slg": "acme"}, "v": 2}) + `","action":"tasks:read","resource":{"org_id":"org_1"}}`)
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	// Probes and metrics are open (readiness comes once the keys are
	// fetched, without an API key); the decision routes want a caller.
	waitFor("/readyz 200 without an API key", func() bool {
		code, _, _ := do(withCert, http.MethodGet, "/readyz", "")
		return code == 200
	})
	for _, tc := range []struct{ name, key, message string }{
		{"no key", "", "needs a caller's API key"},
		{"an unlisted key", "billing-key-2", "not one of a listed caller"},
	} {
		code, body, header := do(withCert, http.MethodPost, "/v1/check", tc.key)
		var envelope struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal([]byte(body), &envelope)
		if code != http.StatusUnauthorized || envelope.Error.Code != "unauthorized" || !strings.Contains(envelope.Error.Message, tc.message) || header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s (WWW-Authenticate %q), want 401 unauthorized %q", tc.name, code, body, header.Get("WWW-Authenticate"), tc.message)
		}
	}
	if code, body, _ := do(withCert, http.MethodPost, "/v1/check", "billing-key-1"); code != 200 || !strings.Contains(body, `"allow":true`) {
		t.Errorf("a listed caller's check = %d %s", code, body)
	}

	// Rotation while serving: the new key works, then the old one stops.
	file("api-keys", []byte("billing "+callers.HashKey("billing-key-2")+"\nbilling-old "+callers.HashKey("billing-key-1")+"\n"))
	waitFor("the new key", func() bool {
		code, _, _ := do(withCert, http.MethodPost, "/v1/check", "billing-key-2")
		return code == 200
	})
	file("api-keys", []byte("billing "+callers.HashKey("billing-key-2")+"\n"))
	waitFor("the old key to stop", func() bool {
		code, _, _ := do(withCert, http.MethodPost, "/v1/check", "billing-key-1")
		return code == 401
	})

	// Without a client certificate: probes answer, decisions do not.
	if code, _, _ := do(anonymous, http.MethodGet, "/healthz", ""); code != 200 {
		t.Errorf("/healthz without a client certificate = %d", code)
	}
	if code, body, _ := do(anonymous, http.MethodPost, "/v1/check", "billing-key-2"); code != 401 || !strings.Contains(body, "client certificate") {
		t.Errorf("a check without a client certificate = %d %s", code, body)
	}

	// Requests are counted by caller, route and status.
	_, text, _ := do(withCert, http.MethodGet, "/metrics", "")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	m := exposition(families)
	if m.counter("verdict_requests_total", "caller", "billing", "route", "/v1/check", "code", "200") < 2 ||
		m.counter("verdict_requests_total", "caller", "", "route", "/v1/check", "code", "401") < 4 ||
		m.counter("verdict_api_keys_reloads_total", "result", "success") < 2 {
		t.Errorf("request counts: billing 200s %v, 401s %v, key reloads %v",
			m.counter("verdict_requests_total", "caller", "billing", "route", "/v1/check", "code", "200"),
			m.counter("verdict_requests_total", "caller", "", "route", "/v1/check", "code", "401"),
			m.counter("verdict_api_keys_reloads_total", "result", "success"))
	}
}
