package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

// lockedBuffer collects the program's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines returns the JSON log records written so far.
func (b *lockedBuffer) logLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// instance is a running `verdict serve`, started through run().
type instance struct {
	base     string
	policies string // a private copy of policies/, free to edit
	issuer   *devtoken.Issuer
	out      *lockedBuffer
	stop     context.CancelFunc
	done     chan error
}

// startServe runs the real program on 127.0.0.1:0 with a JWKS served by
// httptest and a private copy of the shipped policies. extra are more flags.
func startServe(t *testing.T, extra ...string) *instance {
	t.Helper()
	issuer := newIssuer(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(issuer.JWKS())
	}))
	t.Cleanup(jwks.Close)
	inst := startProgram(t, issuer, append([]string{"--jwks-url", jwks.URL}, extra...), emptyEnv)
	waitReady(t, inst.base)
	return inst
}

func newIssuer(t *testing.T) *devtoken.Issuer {
	t.Helper()
	issuer, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	return issuer
}

// startProgram runs `verdict serve` with args (a key source among them)
// until the test ends, and waits until it listens.
func startProgram(t *testing.T, issuer *devtoken.Issuer, args []string, getenv func(string) string) *instance {
	t.Helper()
	dir := copyPolicies(t)
	inst := startServing(t, issuer, append([]string{"--policies", dir}, args...), getenv)
	inst.policies = dir
	return inst
}

// startServing runs `verdict serve` with args alone (a key source and a
// policy source among them) on 127.0.0.1:0 until the test ends, and waits
// until it listens.
func startServing(t *testing.T, issuer *devtoken.Issuer, args []string, getenv func(string) string) *instance {
	t.Helper()
	args = append([]string{"verdict", "serve", "--addr", "127.0.0.1:0"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{issuer: issuer, out: &lockedBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() { inst.done <- run(ctx, args, getenv, inst.out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-inst.done:
			if err != nil {
				t.Errorf("run returned %v after shutdown", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down within 15 s")
		}
	})
	inst.base = "http://" + waitListening(t, inst)
	return inst
}

func emptyEnv(string) string { return "" }

// waitListening reads the "listening" log record for the bound address.
func waitListening(t *testing.T, inst *instance) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, rec := range inst.out.logLines() {
			if rec["msg"] == "listening" {
				return rec["addr"].(string)
			}
		}
		select {
		case err := <-inst.done:
			t.Fatalf("run exited before listening: %v\n%s", err, inst.out)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening record after 10 s:\n%s", inst.out)
	return ""
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s/readyz not 200 after 10 s", base)
}

// copyPolicies copies the shipped policies (Rego and data only) into a
// temporary directory.
func copyPolicies(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("../../policies")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".rego" && ext != ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../../policies", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// post sends a JSON body and decodes the JSON answer into out (when non-nil).
func (inst *instance) post(t *testing.T, path string, body any, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return inst.postRaw(t, path, "application/json", string(b), out)
}

func (inst *instance) postRaw(t *testing.T, path, contentType, body string, out any) int {
	t.Helper()
	resp, err := http.Post(inst.base+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("POST %s: status %d, body %q is not JSON: %v", path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// mint signs claims with the instance's key, filling in the times a session
// token needs when the claims leave them out.
func (inst *instance) mint(t *testing.T, claims map[string]any) string {
	t.Helper()
	now := time.Now().Unix()
	full := map[string]any{"iat": now, "nbf": now - 5, "exp": now + 300}
	for k, v := range claims {
		full[k] = v
	}
	token, err := inst.issuer.Sign(full)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// decision is the /v1/check answer.
type decision struct {
	DecisionID     string `json:"decision_id"`
	Allow          bool   `json:"allow"`
	Reason         string `json:"reason"`
	Message        string `json:"message"`
	PolicyRevision string `json:"policy_revision"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}
