package authn

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/retry"
)

// Defaults for RemoteOptions.
const (
	DefaultMinRefreshInterval = time.Second
	defaultHTTPTimeout        = 10 * time.Second
	// maxJWKSBytes bounds a JWKS response; real ones are a few KiB.
	maxJWKSBytes = 1 << 20
)

// RemoteOptions configures a RemoteJWKS.
type RemoteOptions struct {
	// URL is the JWKS endpoint: Clerk's Frontend API
	// /.well-known/jwks.json, or the Backend API /v1/jwks.
	URL string
	// Header is sent with every fetch, e.g. Authorization for Clerk's
	// Backend API. It may be nil. Its values never appear in errors or logs.
	Header http.Header
	// Client defaults to an http.Client with a 10 s timeout. Whichever
	// client is used, redirects are followed only within one host, never
	// from https to http, and at most maxRedirects times (a copy of Client
	// carries that policy; Client itself is not changed).
	Client *http.Client
	// MinRefreshInterval is the least time between two fetches caused by
	// unknown kids (default 1 s), so a flood of made-up kids cannot turn
	// into a flood of requests to the JWKS endpoint.
	MinRefreshInterval time.Duration
	// MaxAge is how often Run refreshes the keys after the first load;
	// 0 keeps them until an unknown kid forces a refresh. Cached keys are
	// never dropped for age, so they survive an outage of the endpoint.
	MaxAge time.Duration
	// Logger receives refresh failures; nil discards them.
	Logger *slog.Logger
	// OnRefresh, when set, is told the outcome of every fetch: nil, or
	// why the keys were not refreshed (the cached ones stay).
	OnRefresh func(err error)
	// Now defaults to time.Now.
	Now func() time.Time
}

// RemoteJWKS is a KeySet fetched over HTTP and cached. A token with an
// unknown kid triggers a refetch (key rotation), at most once per
// MinRefreshInterval; concurrent callers share that one fetch. A failed fetch
// keeps the cached keys. It is safe for concurrent use.
type RemoteJWKS struct {
	opts RemoteOptions

	mu   sync.RWMutex
	keys map[string]*rsa.PublicKey

	// fetching is a one-slot semaphore: whoever holds it fetches, and
	// everyone else waits for that fetch instead of starting their own.
	fetching    chan struct{}
	lastAttempt time.Time // guarded by fetching
}

// NewRemoteJWKS returns a RemoteJWKS with no keys loaded. Call Run (or
// Refresh) to load them; Key also fetches on demand.
func NewRemoteJWKS(opts RemoteOptions) *RemoteJWKS {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	opts.Client = withRedirectPolicy(opts.Client)
	if opts.MinRefreshInterval <= 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Header = opts.Header.Clone()
	return &RemoteJWKS{opts: opts, fetching: make(chan struct{}, 1)}
}

// Ready reports whether at least one key has been loaded.
func (r *RemoteJWKS) Ready() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.keys) > 0
}

// Key returns the key for kid, refetching the JWKS once (rate-limited) when
// kid is not cached. It returns authz.ErrNoKeys while no key has ever been
// loaded, and an error wrapping ErrUnknownKey for a kid still unknown.
func (r *RemoteJWKS) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if kid == "" {
		// Nothing to fetch for: a JWKS source needs a kid to pick a key.
		return nil, fmt.Errorf("token header has no kid: %w", ErrUnknownKey)
	}
	if k := r.cached(kid); k != nil {
		return k, nil
	}
	if err := r.refetchFor(ctx, kid); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.keys) == 0 {
		return nil, authz.ErrNoKeys
	}
	return lookupKID(r.keys, kid)
}

func (r *RemoteJWKS) cached(kid string) *rsa.PublicKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[kid]
}

// refetchFor fetches the JWKS because kid was not cached, unless another
// caller has just fetched (or is fetching) it. A failed fetch is not the
// caller's error: it is logged and the cached keys decide.
func (r *RemoteJWKS) refetchFor(ctx context.Context, kid string) error {
	// Wait for a fetch in progress only briefly: while the endpoint is slow
	// or down, requests must not queue up behind it. Without the fetch the
	// cached keys decide (an unknown kid is then an invalid token).
	waitCtx, cancel := context.WithTimeout(ctx, maxRefetchWait)
	defer cancel()
	if err := r.acquire(waitCtx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return nil
	}
	defer r.release()
	if r.cached(kid) != nil || r.opts.Now().Sub(r.lastAttempt) < r.opts.MinRefreshInterval {
		return nil
	}
	if err := r.fetchLocked(ctx); err != nil {
		r.opts.Logger.WarnContext(ctx, "jwks refresh for unknown kid failed; using cached keys", "err", err)
	}
	return nil
}

// Refresh fetches the JWKS now. On failure the cached keys stay in use and
// the error says what went wrong (it never holds header values).
func (r *RemoteJWKS) Refresh(ctx context.Context) error {
	if err := r.acquire(ctx); err != nil {
		return err
	}
	defer r.release()
	return r.fetchLocked(ctx)
}

func (r *RemoteJWKS) acquire(ctx context.Context) error {
	select {
	case r.fetching <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for jwks fetch: %w", ctx.Err())
	}
}

func (r *RemoteJWKS) release() { <-r.fetching }

// fetchLocked fetches and installs the key set; the caller holds fetching.
// A successful fetch replaces the cache, so keys removed from the JWKS stop
// verifying, and so do the cached verifications they made. A key that
// came back unchanged keeps its pointer, which keeps those verifications.
func (r *RemoteJWKS) fetchLocked(ctx context.Context) error {
	keys, err := r.fetch(ctx)
	// Stamped when the fetch ends, so that callers who waited for it do not
	// start another one at once.
	r.lastAttempt = r.opts.Now()
	if err != nil {
		err = fmt.Errorf("refresh jwks from %s: %w", r.opts.URL, err)
	}
	if r.opts.OnRefresh != nil {
		r.opts.OnRefresh(err)
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	for kid, key := range keys {
		if old := r.keys[kid]; old != nil && old.Equal(key) {
			keys[kid] = old
		}
	}
	r.keys = keys
	r.mu.Unlock()
	return nil
}

func (r *RemoteJWKS) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opts.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for name, values := range r.opts.Header {
		req.Header[name] = values
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, fmt.Errorf("unexpected status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("response is larger than 1 MiB")
	}
	return parseJWKSKeys(body)
}

// maxRefetchWait bounds how long a request with an unknown kid waits for a
// JWKS fetch already in progress.
const maxRefetchWait = 2 * time.Second

// Backoff bounds for Run's retries after a failed fetch.
const (
	initialBackoff = 250 * time.Millisecond
	maxBackoff     = 30 * time.Second
)

// Run loads the keys, retrying with jittered exponential backoff until the
// first success, then refreshes them every MaxAge (when MaxAge > 0), again
// retrying failures with backoff. It returns when ctx ends.
func (r *RemoteJWKS) Run(ctx context.Context) {
	backoff := initialBackoff
	for {
		wait := r.opts.MaxAge
		if err := r.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = retry.Below(backoff)
			backoff = min(2*backoff, maxBackoff)
			r.opts.Logger.WarnContext(ctx, "jwks refresh failed; retrying", "err", err, "retry_in", wait)
		} else {
			backoff = initialBackoff
			r.opts.Logger.DebugContext(ctx, "jwks refreshed", "url", r.opts.URL)
			if wait <= 0 {
				<-ctx.Done()
				return
			}
		}
		if !retry.Sleep(ctx, wait) {
			return
		}
	}
}
