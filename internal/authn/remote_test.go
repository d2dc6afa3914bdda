package authn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
)

const testSecret = "sk_test_SUPERSECRET42"

// jwksServer is a real HTTP JWKS endpoint whose document and health the
// test controls, and which counts the requests it gets.
type jwksServer struct {
	*httptest.Server
	jwks     atomic.Pointer[[]byte]
	failing  atomic.Bool
	hits     atomic.Int64
	lastAuth atomic.Pointer[string]
}

func newJWKSServer(t *testing.T, jwks []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.jwks.Store(&jwks)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		auth := r.Header.Get("Authorization")
		s.lastAuth.Store(&auth)
		if s.failing.Load() {
			// Echo the credential, as a careless upstream might, to prove
			// that Verdict never repeats a response body.
			http.Error(w, "upstream down; got "+auth, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.jwks.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(jwks []byte) { s.jwks.Store(&jwks) }

// clock is a manual clock for the refetch rate limit.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newRemote(s *jwksServer, clk *clock, logs *bytes.Buffer) *authn.RemoteJWKS {
	opts := authn.RemoteOptions{URL: s.URL, Header: http.Header{"Authorization": {"Bearer " + testSecret}}}
	if clk != nil {
		opts.Now = clk.Now
	}
	if logs != nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return authn.NewRemoteJWKS(opts)
}

func TestRemoteJWKSLoads(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	r := newRemote(s, nil, nil)
	if r.Ready() {
		t.Fatal("Ready() = true before the first load")
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() error = %v", err)
	}
	if !r.Ready() {
		t.Error("Ready() = false after a successful load")
	}
	if got := *s.lastAuth.Load(); got != "Bearer "+testSecret {
		t.Errorf("server got Authorization %q, want the configured header", got)
	}
	if _, err := verifier(r, nil).Authenticate(context.Background(), f.sign(t, nil, nil)); err != nil {
		t.Errorf("Authenticate() error = %v", err)
	}
	if got := s.hits.Load(); got != 1 {
		t.Errorf("server hits = %d, want 1 (cached kid needs no fetch)", got)
	}
}

func TestRemoteJWKSKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	clk := &clock{now: testNow()}
	r := newRemote(s, clk, nil)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() error = %v", err)
	}
	clk.Advance(time.Hour)
	s.serve(f.other.JWKS()) // Clerk rotated to a new key

	rotated, err := f.other.Sign(claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(r, nil)
	if _, err := v.Authenticate(context.Background(), rotated); err != nil {
		t.Fatalf("Authenticate(token with new kid) error = %v, want accepted on first try", err)
	}
	if got := s.hits.Load(); got != 2 {
		t.Errorf("server hits = %d, want 2 (load, then one refetch for the new kid)", got)
	}
	// The old key left the JWKS; within the refetch interval its tokens are
	// rejected without another request.
	old := f.sign(t, nil, nil)
	_, err = v.Authenticate(context.Background(), old)
	checkRejection(t, err, authz.ReasonTokenInvalid, old)
	if got := s.hits.Load(); got != 2 {
		t.Errorf("server hits = %d, want still 2", got)
	}
}

// flood authenticates n tokens with made-up kids concurrently and checks
// that each is rejected as invalid.
func flood(t *testing.T, f *fixture, v *authn.Verifier, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	tokens := make([]string, n)
	for i := range n {
		tokens[i] = f.sign(t, func(h map[string]any) { h["kid"] = fmt.Sprintf("forged-%d", i) }, nil)
	}
	for i := range n {
		wg.Go(func() { _, errs[i] = v.Authenticate(context.Background(), tokens[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		checkRejection(t, err, authz.ReasonTokenInvalid, tokens[i])
	}
}

func TestRemoteJWKSRefetchRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	t.Run("manual clock", func(t *testing.T) {
		t.Parallel()
		s := newJWKSServer(t, f.iss.JWKS())
		clk := &clock{now: testNow()}
		r := newRemote(s, clk, nil)
		if err := r.Refresh(context.Background()); err != nil {
			t.Fatalf("Refresh() error = %v", err)
		}
		v := verifier(r, nil)
		for _, step := range []struct {
			advance  time.Duration
			wantHits int64
		}{
			{0, 1},                      // just loaded: no refetch at all
			{2 * time.Second, 2},        // one shared refetch for 200 kids
			{500 * time.Millisecond, 2}, // within the interval: none
			{600 * time.Millisecond, 3}, // interval over: one more
			{authn.DefaultMinRefreshInterval, 4},
		} {
			clk.Advance(step.advance)
			flood(t, f, v, 200)
			if got := s.hits.Load(); got != step.wantHits {
				t.Errorf("after advancing %v: server hits = %d, want %d", step.advance, got, step.wantHits)
			}
		}
	})

	t.Run("real clock, cold start", func(t *testing.T) {
		t.Parallel()
		s := newJWKSServer(t, f.iss.JWKS())
		r := newRemote(s, nil, nil)
		start := time.Now()
		flood(t, f, verifier(r, nil), 200)
		if got := s.hits.Load(); got > 2 || (got == 2 && time.Since(start) < time.Second) {
			t.Errorf("server hits = %d in %v, want at most one per second", got, time.Since(start))
		}
	})
}

func TestRemoteJWKSOutageKeepsCachedKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	clk := &clock{now: testNow()}
	var logs bytes.Buffer
	r := newRemote(s, clk, &logs)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() error = %v", err)
	}
	s.failing.Store(true)
	clk.Advance(time.Hour)
	v := verifier(r, nil)

	if _, err := v.Authenticate(context.Background(), f.sign(t, nil, nil)); err != nil {
		t.Errorf("Authenticate(cached kid) during outage error = %v", err)
	}
	unknown := f.sign(t, func(h map[string]any) { h["kid"] = "rotated" }, nil)
	_, err := v.Authenticate(context.Background(), unknown)
	checkRejection(t, err, authz.ReasonTokenInvalid, unknown)
	err = r.Refresh(context.Background())
	if err == nil {
		t.Fatal("Refresh() during outage error = nil, want an error")
	}
	if !r.Ready() {
		t.Error("Ready() = false during outage, want the cached keys kept")
	}
	if _, err := v.Authenticate(context.Background(), f.sign(t, nil, nil)); err != nil {
		t.Errorf("Authenticate(cached kid) after failed refresh error = %v", err)
	}
	if strings.Contains(err.Error(), testSecret) || strings.Contains(logs.String(), testSecret) {
		t.Errorf("secret leaked: error %q, logs %q", err, logs.String())
	}
	if !strings.Contains(logs.String(), "jwks refresh for unknown kid failed") {
		t.Errorf("logs = %q, want the failed refetch logged", logs.String())
	}
}

func TestRemoteJWKSErrorsNeverHoldTheSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	s.failing.Store(true)
	closed := newJWKSServer(t, f.iss.JWKS())
	closed.Close()
	huge := newJWKSServer(t, bytes.Repeat([]byte(" "), 2<<20))
	html := newJWKSServer(t, []byte("<html>"+testSecret+"</html>"))
	for name, srv := range map[string]*jwksServer{"500 echoing the header": s, "connection refused": closed, "huge body": huge, "not JSON": html} {
		err := newRemote(srv, nil, nil).Refresh(context.Background())
		if err == nil {
			t.Errorf("%s: Refresh() error = nil, want an error", name)
			continue
		}
		if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "Bearer") {
			t.Errorf("%s: Refresh() error %q holds the secret", name, err)
		}
	}
}

func TestRemoteJWKSNeverLoadedIsInternal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	s.failing.Store(true)
	remote := newRemote(s, nil, nil)
	v := verifier(remote, nil)
	_, err := v.Authenticate(context.Background(), f.sign(t, nil, nil))
	if _, isToken := authz.AsTokenError(err); isToken || !errors.Is(err, authz.ErrNoKeys) {
		t.Errorf("Authenticate() error = %v, want a plain error wrapping ErrNoKeys", err)
	}
	if remote.Ready() {
		t.Error("Ready() = true, want false")
	}
}

func TestRemoteJWKSMissingKidFetchesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	r := newRemote(s, nil, nil)
	if _, err := r.Key(context.Background(), ""); !errors.Is(err, authn.ErrUnknownKey) {
		t.Errorf("Key(\"\") error = %v, want ErrUnknownKey", err)
	}
	if got := s.hits.Load(); got != 0 {
		t.Errorf("server hits = %d, want 0", got)
	}
}

// TestRemoteJWKSSlowEndpointDoesNotQueueRequests: while a refetch hangs,
// other tokens with unknown kids wait at most briefly and are rejected with
// the cached keys, instead of queuing behind the fetch.
func TestRemoteJWKSSlowEndpointDoesNotQueueRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var fetches atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) > 1 {
			select { // hang every refetch until the test ends
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write(f.iss.JWKS())
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	var later atomic.Bool // after the first load, the clock is past the refetch interval
	remote := authn.NewRemoteJWKS(authn.RemoteOptions{
		URL:    srv.URL,
		Client: &http.Client{Timeout: 3 * time.Second},
		Now: func() time.Time {
			if later.Load() {
				return time.Now().Add(2 * time.Second)
			}
			return time.Now()
		},
	})
	if err := remote.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	later.Store(true)
	v := verifier(remote, nil)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			token := f.sign(t, func(h map[string]any) { h["kid"] = fmt.Sprintf("rotated-%d", i) }, nil)
			_, err := v.Authenticate(context.Background(), token)
			checkRejection(t, err, authz.ReasonTokenInvalid, token)
		})
	}
	wg.Wait()
	if elapsed := time.Since(start); elapsed > 6*time.Second {
		t.Errorf("10 unknown kids against a hanging endpoint took %s, want about one fetch timeout (3 s)", elapsed)
	}
	if n := fetches.Load(); n > 2 {
		t.Errorf("%d fetches, want at most 2", n)
	}
}
