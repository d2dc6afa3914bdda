package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/verdict-pdp/verdict/internal/retry"
)

// Defaults for HTTPOptions.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 2 * time.Minute
	// defaultHTTPTimeout bounds one fetch, body included: a bundle is at
	// most MaxBundleBytes.
	defaultHTTPTimeout = time.Minute
)

// HTTPOptions configures an HTTPSource.
type HTTPOptions struct {
	// URL serves the bundle (--bundle-url), http or https.
	URL string
	// Client defaults to an http.Client with a one-minute timeout.
	Client *http.Client
	// Interval is the time between two polls (default DefaultInterval),
	// each wait jittered by ±10% so replicas spread their requests.
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait after failed polls: it
	// starts at MinBackoff (default 1 s) and doubles with each failure in
	// a row up to MaxBackoff (default 2 min), jittered.
	MinBackoff, MaxBackoff time.Duration
	// CacheDir, when set, keeps the last activated bundle, from which
	// First starts when the server cannot be reached.
	CacheDir string
	// Read says how bundles are read and verified.
	Read ReadOptions
	// Activate is called with every new bundle. Required.
	Activate ActivateFunc
	// OnResult, when set, is called with the result of every poll.
	OnResult func(Result)
	// Logger receives outcomes; nil discards them.
	Logger *slog.Logger
}

// HTTPSource polls a bundle server. It sends the ETag of the last bundle
// it saw in If-None-Match, so an unchanged bundle costs a 304; a bundle is
// activated only when its bytes differ from the one serving and from the
// one last refused, so a bundle that does not activate is not retried
// until the server serves another.
//
// Call First once, then Run; both are safe to call from any goroutine,
// and polls never overlap.
type HTTPSource struct {
	opts  HTTPOptions
	name  string // the URL without its password, for errors and logs
	cache *Cache // nil without CacheDir

	mu       sync.Mutex // one poll at a time; guards the fields below
	etag     string     // of the last response with a body
	seen     string     // digest of the last bundle tried, activated or refused
	current  *Bundle    // the bundle serving
	failures int        // polls in a row that came to ResultError
}

// NewHTTPSource checks opts and returns a source that has fetched nothing.
func NewHTTPSource(opts HTTPOptions) (*HTTPSource, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("bundle url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bundle url %q: want an http or https URL", u.Redacted())
	}
	if opts.Activate == nil {
		return nil, errors.New("bundle source: no Activate callback")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	client := *opts.Client // a copy, with the redirect policy
	client.CheckRedirect = checkRedirect
	opts.Client = &client
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Read.Limits = opts.Read.Limits.withDefaults()
	s := &HTTPSource{opts: opts, name: u.Redacted()}
	if opts.CacheDir != "" {
		s.cache = NewCache(opts.CacheDir, s.name)
	}
	return s, nil
}

// First activates the first policy set: the server's bundle, or, when the
// server cannot be reached, answers with an error, or serves a bundle that
// is refused, the cached bundle (verified again). Its request asks the
// server for changes since the cached bundle, so an unchanged bundle is
// not downloaded again. First returns the bundle that serves, or an error
// when there is none; Run may be called after either, and then activates
// the first bundle the server serves.
func (s *HTTPSource) First(ctx context.Context) (*Bundle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cached := s.loadCache(ctx)
	res, err := s.poll(ctx)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("first bundle from %s: %w", s.name, ctx.Err())
	}
	s.report(ctx, res, err)
	if s.current != nil {
		return s.current, nil
	}
	if err == nil {
		err = errors.New("the server has not served a bundle")
	}
	if cached == nil {
		return nil, fmt.Errorf("first bundle from %s: %w", s.name, err)
	}
	if aerr := s.opts.Activate(ctx, cached); aerr != nil {
		return nil, fmt.Errorf("first bundle from %s: %w; the cached bundle was refused too: %w", s.name, err, aerr)
	}
	s.current = cached
	s.opts.Logger.InfoContext(ctx, "policy bundle activated from the cache", "dir", s.opts.CacheDir,
		"bundle_revision", cached.Revision(), "digest", cached.Digest(), "result", res)
	return cached, nil
}

// loadCache returns the cached bundle, if there is a usable one, and
// primes the conditional request with what the server sent with it.
func (s *HTTPSource) loadCache(ctx context.Context) *Bundle {
	if s.cache == nil {
		return nil
	}
	b, etag, err := s.cache.Load(s.opts.Read)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		s.opts.Logger.WarnContext(ctx, "cached policy bundle not used", "dir", s.opts.CacheDir, "err", err)
		return nil
	}
	s.etag, s.seen = etag, b.Digest()
	return b
}

// Run polls the server until ctx ends: every Interval, or sooner then
// less often after failures.
func (s *HTTPSource) Run(ctx context.Context) {
	for {
		if !retry.Sleep(ctx, s.nextWait()) {
			return
		}
		s.mu.Lock()
		res, err := s.poll(ctx)
		if ctx.Err() == nil {
			s.report(ctx, res, err)
		}
		s.mu.Unlock()
	}
}

func (s *HTTPSource) nextWait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		return retry.Below(retry.Backoff(s.failures, s.opts.MinBackoff, s.opts.MaxBackoff))
	}
	return retry.Around(s.opts.Interval)
}

// report counts and logs a poll's result; s.mu is held.
func (s *HTTPSource) report(ctx context.Context, res Result, err error) {
	if res == ResultError {
		s.failures++
	} else {
		s.failures = 0
	}
	logOutcome(ctx, s.opts.Logger, res, err, s.current, s.name)
	if s.opts.OnResult != nil {
		s.opts.OnResult(res)
	}
}

// poll makes one request and acts on its answer; s.mu is held.
func (s *HTTPSource) poll(ctx context.Context) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.URL, nil)
	if err != nil {
		return ResultError, fmt.Errorf("build request: %w", err)
	}
	if s.etag != "" {
		req.Header.Set("If-None-Match", s.etag)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return ResultError, fmt.Errorf("fetch bundle: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if s.etag == "" {
			return ResultError, errors.New("fetch bundle: 304 Not Modified to a request without If-None-Match")
		}
		return ResultNotModified, nil
	default:
		// Drained (a little) so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return ResultError, fmt.Errorf("fetch bundle: unexpected status %s", resp.Status)
	}
	etag := resp.Header.Get("ETag")
	raw, err := readLimited(resp.Body, s.opts.Read.Limits.MaxBundleBytes)
	if errors.Is(err, ErrLimit) {
		// Remembered by its ETag alone: it was not read whole. A server
		// without ETags makes each poll read up to the limit again.
		s.etag, s.seen = etag, ""
		return ResultRefused, err
	}
	if err != nil {
		return ResultError, err
	}
	return s.offer(ctx, raw, etag)
}

// offer activates raw unless it is the bundle serving or the bundle last
// tried; s.mu is held.
func (s *HTTPSource) offer(ctx context.Context, raw []byte, etag string) (Result, error) {
	digest := digestOf(raw)
	if digest == s.seen || s.current != nil && digest == s.current.Digest() {
		s.etag, s.seen = etag, digest
		return ResultNotModified, nil
	}
	b, err := parse(raw, digest, s.opts.Read)
	if err == nil {
		err = s.opts.Activate(ctx, b)
		if err != nil && ctx.Err() != nil {
			// Cut short, not refused: tried again at the next start.
			return ResultError, err
		}
	}
	s.etag, s.seen = etag, digest
	if err != nil {
		return ResultRefused, err
	}
	s.current = b
	if s.cache != nil {
		if err := s.cache.Store(b, etag); err != nil {
			// The set serves; only a start without the server would miss it.
			s.opts.Logger.WarnContext(ctx, "policy bundle not cached", "dir", s.opts.CacheDir, "err", err)
		}
	}
	return ResultActivated, nil
}

// maxRedirects bounds the redirects one poll follows.
const maxRedirects = 5

// checkRedirect follows a bundle server's redirects (a CDN, object
// storage) but never to plain http, except to this machine: a bundle
// asked for over TLS must arrive over TLS, whoever redirects.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "https" && !isLoopback(req.URL.Hostname()) {
		return fmt.Errorf("refused a redirect to plain http (%s)", req.URL.Redacted())
	}
	return nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
