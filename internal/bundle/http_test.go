package bundle_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

// TestHTTPSource runs one source against a server through a sequence of
// changes, each step checking the result the poll reports and what serves.
func TestHTTPSource(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	srv := newBundleServer(t, bs.a)
	svc := newService()
	src, err := bundle.NewHTTPSource(bundle.HTTPOptions{
		URL: srv.URL, Interval: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		Read: bundle.ReadOptions{Key: bs.key.key}, Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := src.First(ctx)
	if err != nil {
		t.Fatalf("First: %v", err)
	}
	if first.Revision() != "r1" || svc.next(t) != bundle.ResultActivated {
		t.Fatalf("First = %s, want r1 activated", first.Revision())
	}
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()

	steps := []struct {
		name         string
		change       func()
		want         bundle.Result
		wantRevision string // serving after the step
		wantFull     int    // 200 responses during the step (-1: any)
	}{
		{name: "unchanged", change: func() {}, want: bundle.ResultNotModified, wantRevision: "r1", wantFull: 0},
		{name: "a new bundle", change: func() { srv.serve(bs.b) }, want: bundle.ResultActivated, wantRevision: "r2", wantFull: 1},
		{name: "unchanged again", change: func() {}, want: bundle.ResultNotModified, wantRevision: "r2", wantFull: 0},
		{name: "unsigned", change: func() { srv.serve(bs.bad["unsigned"]) }, want: bundle.ResultRefused, wantRevision: "r2", wantFull: 1},
		{name: "signed with another key", change: func() { srv.serve(bs.bad["another key"]) }, want: bundle.ResultRefused, wantRevision: "r2", wantFull: 1},
		{name: "tampered", change: func() { srv.serve(bs.bad["tampered"]) }, want: bundle.ResultRefused, wantRevision: "r2", wantFull: 1},
		{name: "the refused bundle is not retried", change: func() {}, want: bundle.ResultNotModified, wantRevision: "r2", wantFull: 0},
		{name: "a file not signed", change: func() { srv.serve(bs.bad["a file not signed"]) }, want: bundle.ResultRefused, wantRevision: "r2", wantFull: 1},
		{name: "refused by the activation", change: func() { srv.serve(bs.bad["does not compile"]) }, want: bundle.ResultRefused, wantRevision: "r2", wantFull: 1},
		{name: "nor is the one the activation refused", change: func() {}, want: bundle.ResultNotModified, wantRevision: "r2", wantFull: 0},
		{name: "back to the first bundle", change: func() { srv.serve(bs.a) }, want: bundle.ResultActivated, wantRevision: "r1", wantFull: 1},
		{name: "server errors", change: func() { srv.fail(http.StatusInternalServerError) }, want: bundle.ResultError, wantRevision: "r1", wantFull: 0},
		{name: "recovery", change: func() { srv.serve(bs.b) }, want: bundle.ResultActivated, wantRevision: "r2", wantFull: 1},
	}
	for _, step := range steps {
		// Whatever the previous step's polls reported is done with; polls
		// that went out before the change may still report "not
		// modified", or "error" while the server recovers.
		drain(svc.results)
		fullBefore, _ := srv.counts()
		step.change()
		for _, r := range svc.until(t, step.want) {
			if r != bundle.ResultNotModified && r != bundle.ResultError {
				t.Errorf("%s: result %s before %s", step.name, r, step.want)
			}
		}
		if b, _ := svc.serving(); b.Revision() != step.wantRevision {
			t.Errorf("%s: serving %s, want %s", step.name, b.Revision(), step.wantRevision)
		}
		if full, _ := srv.counts(); full-fullBefore != step.wantFull {
			t.Errorf("%s: %d full downloads, want %d", step.name, full-fullBefore, step.wantFull)
		}
	}

	srv.Close()
	if before := svc.until(t, bundle.ResultError); len(before) > 1 {
		t.Errorf("results after the server shut down: %v, then error", before)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of its context ending")
	}
}

// drain discards the results reported so far.
func drain(ch chan bundle.Result) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestHTTPBackoff: while the server fails, polls come less and less often,
// up to MaxBackoff; when it answers again, the bundle activates.
func TestHTTPBackoff(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	srv := newBundleServer(t, bs.a)
	srv.fail(http.StatusServiceUnavailable)
	svc := newService()
	src, err := bundle.NewHTTPSource(bundle.HTTPOptions{
		URL: srv.URL, Interval: time.Hour, MinBackoff: 20 * time.Millisecond, MaxBackoff: 160 * time.Millisecond,
		Read: bundle.ReadOptions{Key: bs.key.key}, Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := src.First(ctx); err == nil {
		t.Fatal("First succeeded while the server fails")
	}
	go src.Run(ctx)
	for range 6 {
		if r := svc.next(t); r != bundle.ResultError {
			t.Fatalf("result %s while the server fails, want error", r)
		}
	}
	times := srv.requestTimes()
	// The wait after the n-th failure is in [b/2, b), b = 20ms·2^(n-1)
	// up to 160ms; a slow machine only adds to it.
	for n, minWait := range []time.Duration{10, 20, 40, 80, 80} {
		if gap := times[n+1].Sub(times[n]); gap < minWait*time.Millisecond {
			t.Errorf("wait after failure %d: %v, want at least %v", n+1, gap, minWait*time.Millisecond)
		}
	}
	srv.serve(bs.a)
	if before := svc.until(t, bundle.ResultActivated); len(before) > 1 {
		t.Errorf("results before recovery: %v", before)
	}
	if b, n := svc.serving(); n != 1 || b.Revision() != "r1" {
		t.Errorf("serving %d bundles, the last %v; want r1", n, b)
	}
}

// TestHTTPFirst: at start the server's bundle activates; when the server
// cannot be reached, fails, or serves a bundle that is refused, the
// cached bundle does, verified again; a 304 to the cached bundle's ETag
// activates it without a download.
func TestHTTPFirst(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	tests := []struct {
		name       string
		server     func(*bundleServer)
		cached     bool
		key        *bundle.VerificationKey
		want       bundle.Result
		wantServed string // "" for First failing
		wantFull   int
	}{
		{name: "server up, no cache", server: func(*bundleServer) {}, want: bundle.ResultActivated, wantServed: "r2", wantFull: 1},
		{name: "server up, newer than the cache", server: func(*bundleServer) {}, cached: true, want: bundle.ResultActivated, wantServed: "r2", wantFull: 1},
		{name: "server down, cache", server: func(s *bundleServer) { s.Close() }, cached: true, want: bundle.ResultError, wantServed: "r1"},
		{name: "server down, no cache", server: func(s *bundleServer) { s.Close() }, want: bundle.ResultError},
		{name: "server failing, cache", server: func(s *bundleServer) { s.fail(http.StatusBadGateway) }, cached: true, want: bundle.ResultError, wantServed: "r1"},
		{name: "server serving a refused bundle, cache", server: func(s *bundleServer) { s.serve(bs.bad["tampered"]) }, cached: true, want: bundle.ResultRefused, wantServed: "r1", wantFull: 1},
		{name: "server unchanged since the cache", server: func(s *bundleServer) { s.serve(bs.a) }, cached: true, want: bundle.ResultNotModified, wantServed: "r1", wantFull: 0},
		{
			name: "server down, cache signed with a key no longer configured", server: func(s *bundleServer) { s.Close() }, cached: true,
			key: newSigner(t, "ES256").key, want: bundle.ResultError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cacheDir := filepath.Join(t.TempDir(), "cache")
			srv := newBundleServer(t, bs.a)
			if tt.cached {
				// A previous run, which activated and cached r1.
				startFrom(t, srv.URL, cacheDir, bs.key.key, newService())
			}
			srv.serve(bs.b)
			tt.server(srv)
			fullBefore, _ := srv.counts()
			key := bs.key.key
			if tt.key != nil {
				key = tt.key
			}
			svc := newService()
			b, err := startFrom(t, srv.URL, cacheDir, key, svc)
			if got := svc.next(t); got != tt.want {
				t.Errorf("result %s, want %s", got, tt.want)
			}
			switch {
			case tt.wantServed == "" && err == nil:
				t.Errorf("First = %s, want an error", b.Revision())
			case tt.wantServed != "" && err != nil:
				t.Errorf("First: %v", err)
			case tt.wantServed != "" && b.Revision() != tt.wantServed:
				t.Errorf("First = %s, want %s", b.Revision(), tt.wantServed)
			}
			if served, _ := svc.serving(); tt.wantServed != "" && (served == nil || served.Revision() != tt.wantServed) {
				t.Errorf("activated %v, want %s", served, tt.wantServed)
			}
			if full, _ := srv.counts(); full-fullBefore != tt.wantFull {
				t.Errorf("%d full downloads, want %d", full-fullBefore, tt.wantFull)
			}
		})
	}
}

// startFrom is a service start: First against url with a cache in dir.
func startFrom(t *testing.T, url, dir string, key *bundle.VerificationKey, svc *service) (*bundle.Bundle, error) {
	t.Helper()
	src, err := bundle.NewHTTPSource(bundle.HTTPOptions{
		URL: url, CacheDir: dir, Read: bundle.ReadOptions{Key: key}, Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	return src.First(context.Background())
}

// TestHTTPCachesActivatedBundles: each activation replaces the cached
// bundle, with nothing left behind; a refused bundle never reaches it.
func TestHTTPCachesActivatedBundles(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	srv := newBundleServer(t, bs.a)
	dir := filepath.Join(t.TempDir(), "cache")
	if _, err := startFrom(t, srv.URL, dir, bs.key.key, newService()); err != nil {
		t.Fatal(err)
	}
	srv.serve(bs.b)
	if _, err := startFrom(t, srv.URL, dir, bs.key.key, newService()); err != nil {
		t.Fatal(err)
	}
	srv.serve(bs.bad["tampered"])
	if _, err := startFrom(t, srv.URL, dir, bs.key.key, newService()); err != nil {
		t.Fatal(err)
	}
	cached, _, err := bundle.NewCache(dir, srv.URL).Load(bundle.ReadOptions{Key: bs.key.key})
	if err != nil {
		t.Fatal(err)
	}
	if cached.Revision() != "r2" {
		t.Errorf("cached %s, want r2", cached.Revision())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Errorf("cache dir holds %v, want the bundle and its metadata only", names)
	}
}

// TestHTTPOversizedBody: a body larger than MaxBundleBytes is refused,
// reading no more than the limit, and is not fetched again while its ETag
// stays.
func TestHTTPOversizedBody(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	srv := newBundleServer(t, bs.a)
	svc := newService()
	src, err := bundle.NewHTTPSource(bundle.HTTPOptions{
		URL: srv.URL, Interval: 10 * time.Millisecond,
		Read:     bundle.ReadOptions{Key: bs.key.key, Limits: bundle.Limits{MaxBundleBytes: int64(len(bs.a) / 2)}},
		Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := src.First(ctx); !errors.Is(err, bundle.ErrLimit) {
		t.Errorf("First = %v, want ErrLimit", err)
	}
	if r := svc.next(t); r != bundle.ResultRefused {
		t.Errorf("result %s, want refused", r)
	}
	go src.Run(ctx)
	if r := svc.next(t); r != bundle.ResultNotModified {
		t.Errorf("result %s for the same oversized bundle, want not_modified", r)
	}
	if full, _ := srv.counts(); full != 1 {
		t.Errorf("%d full downloads, want 1", full)
	}
}

// TestHTTPRunStopsWhenContextEnds, even in the middle of a request the
// server never answers.
func TestHTTPRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer srv.Close()
	defer close(hang)
	src, err := bundle.NewHTTPSource(bundle.HTTPOptions{
		URL: srv.URL, Interval: time.Millisecond,
		Activate: func(context.Context, *bundle.Bundle) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // in the request by now
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of its context ending")
	}
}

// TestNewHTTPSource refuses options it cannot run with.
func TestNewHTTPSource(t *testing.T) {
	t.Parallel()
	activate := func(context.Context, *bundle.Bundle) error { return nil }
	for name, opts := range map[string]bundle.HTTPOptions{
		"no URL":         {Activate: activate},
		"not http":       {URL: "file:///etc/bundle.tar.gz", Activate: activate},
		"no host":        {URL: "http:///bundle.tar.gz", Activate: activate},
		"no activation":  {URL: "https://bundles.example.com/b.tar.gz"},
		"unparsable URL": {URL: "http://[::1", Activate: activate},
	} {
		if _, err := bundle.NewHTTPSource(opts); err == nil {
			t.Errorf("NewHTTPSource(%s) succeeded, want an error", name)
		}
	}
}
