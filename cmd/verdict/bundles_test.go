package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/compile"
)

// bundleHost serves one bundle with its ETag (a 304 to If-None-Match),
// or is down (503).
type bundleHost struct {
	mu   sync.Mutex
	body []byte // nil: down
}

func (h *bundleHost) serve(body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.body = body
}

func (h *bundleHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	body := h.body
	h.mu.Unlock()
	if body == nil {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	_, _ = w.Write(body)
}

// waitBody waits until a GET of url answers a body containing want.
func waitBody(t *testing.T, url, want string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if last = string(b); strings.Contains(last, want) {
			return
		}
	}
	t.Fatalf("GET %s never answered %q; last %q", url, want, last)
}

// opaBuild builds dir as `opa build -b dir --revision revision` does
// (OPA's own compile package), signed with key when given.
func opaBuild(t *testing.T, dir, revision string, key *rsa.PrivateKey) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	c := compile.New().WithAsBundle(true).WithRegoVersion(ast.RegoV1).
		WithFS(os.DirFS(filepath.Dir(dir))).WithPaths(filepath.Base(dir)).
		WithRevision(revision).WithOutput(&out)
	if key != nil {
		private := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		c = c.WithBundleSigningConfig(opabundle.NewSigningConfig(string(private), "RS256", ""))
	}
	err := c.Build(context.Background())
	return out.Bytes(), err
}

// TestServeFromABundle follows the README: `verdict lib`, then OPA's own
// build, signed; serve polls the bundle server. Unready while the server
// is down at start, serving once it is up; a bundle signed by nobody is
// refused and the policies serving stay; restarted with the server down,
// the cache starts it.
func TestServeFromABundle(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t)
	writeTestFile(t, dir, "lockdown.rego", lockdown)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "bundle.pub.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}

	// The shipped policies call the built-in library, so OPA cannot build
	// them alone; `verdict lib` is the documented step that makes it work.
	if _, err := opaBuild(t, dir, "r1", key); err == nil || !strings.Contains(err.Error(), "undefined function") {
		t.Fatalf("opa build without the library = %v, want an undefined function", err)
	}
	var out lockedBuffer
	if err := run(context.Background(), []string{"verdict", "lib", dir}, emptyEnv, &out); err != nil {
		t.Fatalf("verdict lib: %v", err)
	}
	signed, err := opaBuild(t, dir, "r1", key)
	if err != nil {
		t.Fatalf("opa build with the library: %v", err)
	}
	unsigned, err := opaBuild(t, dir, "r2", nil)
	if err != nil {
		t.Fatal(err)
	}

	host := &bundleHost{}
	server := httptest.NewServer(host)
	t.Cleanup(server.Close)
	issuer := newIssuer(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(issuer.JWKS()) }))
	t.Cleanup(jwks.Close)
	cache := t.TempDir()
	args := []string{
		"--jwks-url", jwks.URL, "--bundle-url", server.URL + "/bundle.tar.gz", "--bundle-poll", "50ms",
		"--bundle-verification-key", keyFile, "--bundle-cache-dir", cache,
	}
	check := func(inst *instance) decision {
		t.Helper()
		var got decision
		token := inst.mint(t, map[string]any{"sub": "user_1", "sid": "sess_1", "o": map[string]any{"id": "org_1", "rol": "admin", "slg": "acme"}, "v": 2})
		if status := inst.post(t, "/v1/check", map[string]any{"token": token, "action": "tasks:read", "resource": map[string]any{"org_id": "org_1"}}, &got); status != 200 {
			t.Fatalf("check = %d", status)
		}
		return got
	}
	readyz := func(inst *instance) int {
		t.Helper()
		resp, err := http.Get(inst.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	inst := startServing(t, issuer, args, emptyEnv)
	waitBody(t, inst.base+"/readyz", "waiting for the first bundle")
	// Nothing is decided by the built-in layer alone meanwhile.
	var refused struct {
		Error struct{ Code string } `json:"error"`
	}
	if status := inst.post(t, "/v1/check", map[string]any{"action": "org:invoices:approve"}, &refused); status != http.StatusServiceUnavailable || refused.Error.Code != "unavailable" {
		t.Errorf("a check before the first bundle = %d %+v, want 503 unavailable", status, refused)
	}
	host.serve(signed)
	waitReady(t, inst.base)
	if got := check(inst); got.Allow || got.Reason != "lockdown" {
		t.Errorf("a read under the bundle's lockdown = %+v, want lockdown", got)
	}
	served := check(inst).PolicyRevision

	host.serve(unsigned)
	for deadline := time.Now().Add(10 * time.Second); scrape(t, inst.base).counter("verdict_bundle_requests_total", "result", "refused") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("an unsigned bundle was never refused")
		}
	}
	m := scrape(t, inst.base)
	if got := check(inst); got.PolicyRevision != served || got.Reason != "lockdown" || readyz(inst) != 200 {
		t.Errorf("after a refused bundle: %+v, ready %d; want revision %s still serving", got, readyz(inst), served)
	}
	if m.counter("verdict_bundle_requests_total", "result", "activated") != 1 || m.counter("verdict_bundle_requests_total", "result", "error") == 0 {
		t.Errorf("bundle requests: activated %v, error %v", m.counter("verdict_bundle_requests_total", "result", "activated"), m.counter("verdict_bundle_requests_total", "result", "error"))
	}

	// Down at start, with the cache: serving at once, from the last good.
	host.serve(nil)
	again := startServing(t, issuer, args, emptyEnv)
	waitReady(t, again.base) // the bundle server stays down: only the cache can make it ready
	if got := check(again); got.PolicyRevision != served {
		t.Errorf("from the cache: %+v, want revision %s", got, served)
	}
}

// TestLibRefusesDataOPAWouldDrop: opa build packs only data.json and
// data.yaml, so a directory with other data files is refused before a
// bundle quietly loses them.
func TestLibRefusesDataOPAWouldDrop(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t)
	if err := os.Mkdir(filepath.Join(dir, "blocklist"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, dir, "blocklist/blocked.json", `{"blocked_users": ["user_9"]}`)
	var out lockedBuffer
	err := run(context.Background(), []string{"verdict", "lib", dir}, emptyEnv, &out)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "blocklist", "blocked.json")) {
		t.Fatalf("verdict lib = %v, want the file opa build would leave out", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, ".verdict-builtin")); !os.IsNotExist(statErr) {
		t.Error("the library was written all the same")
	}
}
