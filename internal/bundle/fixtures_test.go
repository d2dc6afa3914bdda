package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

// bundleServer is a bundle server: it serves one bundle with an ETag and
// answers a matching If-None-Match with 304. A test switches what it
// serves, makes it fail, or shuts it down.
type bundleServer struct {
	*httptest.Server

	mu       sync.Mutex
	body     []byte
	etag     string
	status   int // when not 0, every request gets this status
	full     int // 200 responses
	notMod   int // 304 responses
	requests []time.Time
}

func newBundleServer(t *testing.T, body []byte) *bundleServer {
	t.Helper()
	s := &bundleServer{}
	s.serve(body)
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, time.Now())
	switch {
	case s.status != 0:
		http.Error(w, "failing on purpose", s.status)
	case s.etag != "" && r.Header.Get("If-None-Match") == s.etag:
		s.notMod++
		w.WriteHeader(http.StatusNotModified)
	default:
		s.full++
		w.Header().Set("ETag", s.etag)
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(s.body)
	}
}

// serve switches to body, with a new ETag.
func (s *bundleServer) serve(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(body)
	s.body, s.etag, s.status = body, `"`+hex.EncodeToString(sum[:8])+`"`, 0
}

func (s *bundleServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *bundleServer) counts() (full, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full, s.notMod
}

func (s *bundleServer) requestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.requests...)
}

// service is what the source activates bundles into: an engine compiled
// from each bundle's FS, as the service will.
type service struct {
	mu      sync.Mutex
	active  []*bundle.Bundle
	results chan bundle.Result
}

func newService() *service { return &service{results: make(chan bundle.Result, 1000)} }

func (s *service) activate(ctx context.Context, b *bundle.Bundle) error {
	if _, err := loadEngine(ctx, b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active = append(s.active, b)
	return nil
}

func (s *service) record(r bundle.Result) { s.results <- r }

// serving is the last bundle activated and how many were.
func (s *service) serving() (*bundle.Bundle, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.active) == 0 {
		return nil, 0
	}
	return s.active[len(s.active)-1], len(s.active)
}

// next is the next result reported.
func (s *service) next(t *testing.T) bundle.Result {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result reported within 10s")
		return ""
	}
}

// until reads results up to the first that is want, and returns those
// before it.
func (s *service) until(t *testing.T, want bundle.Result) []bundle.Result {
	t.Helper()
	var before []bundle.Result
	for {
		r := s.next(t)
		if r == want {
			return before
		}
		before = append(before, r)
	}
}

// bundles are the bundles the HTTP and file tests serve, built by OPA's
// build from one policy directory and signed with key.
type bundles struct {
	key signer
	// a and b are good bundles, revisions r1 and r2.
	a, b []byte
	// bad are bundles a verifying source refuses.
	bad map[string][]byte
}

func makeBundles(t *testing.T) bundles {
	t.Helper()
	dir := policyDir(t)
	// ES256: its keys are quick to make; TestVerify covers RS256 too.
	key, other := newSigner(t, "ES256"), newSigner(t, "ES256")
	out := bundles{key: key, a: build(t, dir, &key, "r1")}
	writeFile(t, filepath.Join(dir, "globex", "deny.rego"), `package verdict.rules.globex

deny contains {"reason": "frozen", "message": "the organization is frozen"} if input.resource.attributes.frozen == true
`)
	out.b = build(t, dir, &key, "r2")
	unsigned := build(t, dir, nil, "r3")
	otherKey := build(t, dir, &other, "r3")
	tampered := rewrite(t, out.b, func(files []tarFile) []tarFile {
		for i := range files {
			if files[i].name == "/globex/deny.rego" {
				files[i].data = "package verdict.rules.globex\n"
			}
		}
		return files
	})
	extra := rewrite(t, out.b, func(files []tarFile) []tarFile {
		return append(files, tarFile{name: "/globex/more.rego", data: "package verdict.rules.globex\n\nx := 1\n"})
	})
	// Signed, and compiles in OPA, but declares a package of Verdict's
	// built-in layer: the activation refuses it.
	writeFile(t, filepath.Join(dir, "globex", "authz.rego"), "package verdict.authz\n\nextra := 1\n")
	refusedByVerdict := build(t, dir, &key, "r4")
	out.bad = map[string][]byte{
		"unsigned": unsigned, "another key": otherKey, "tampered": tampered,
		"a file not signed": extra, "does not compile": refusedByVerdict,
	}
	return out
}
