package authn_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
)

// The verified-token cache is the Decider's (its sessions); these tests
// run it over a real Verifier and real keys, to check that what the
// Verifier says about reusing a verification (until when, while which
// key holds) keeps the cache exactly as strict as verifying again.

// lookupCounter counts cache hits and misses; it is the Decider's
// recorder.
type lookupCounter struct{ hits, misses atomic.Int64 }

func (c *lookupCounter) ObserveTokenCacheLookup(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

func (*lookupCounter) ObserveDecision(bool, string, time.Duration) {}
func (*lookupCounter) ObserveTokenVerification(string)             {}
func (*lookupCounter) ObserveDecisionCacheLookup(bool)             {}

// sessions authenticates through a Decider that remembers size verified
// tokens over v, on clock.
type sessions struct {
	d *authz.Decider
}

func newSessions(v *authn.Verifier, size int, counter *lookupCounter, clock func() time.Time) sessions {
	return sessions{authz.NewDecider(v, nil, counter, authz.Options{SessionCacheSize: size, Now: clock})}
}

// Authenticate returns token's principal, or the token's error.
func (s sessions) Authenticate(ctx context.Context, token string) (authz.Principal, error) {
	session, err := s.d.Authenticate(ctx, token)
	switch {
	case err != nil:
		return authz.Principal{}, err
	case session.Rejected != nil:
		return authz.Principal{}, session.Rejected
	}
	return session.Principal, nil
}

// cachingVerifier is a verifier behind a cache of size entries, on a
// clock the test moves.
func cachingVerifier(f *fixture, size int) (sessions, *lookupCounter, *atomic.Int64) {
	var offset atomic.Int64
	clock := func() time.Time { return testNow().Add(time.Duration(offset.Load())) }
	counter := &lookupCounter{}
	v := verifier(f.jwks, func(c *authn.Config) { c.Now = clock })
	return newSessions(v, size, counter, clock), counter, &offset
}

func TestTokenCacheHit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v, counter, _ := cachingVerifier(f, 16)
	token := f.sign(t, nil, nil)
	first, err := v.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if first.UserID != second.UserID || counter.hits.Load() != 1 || counter.misses.Load() != 1 {
		t.Errorf("two lookups: hits %d, misses %d, principals %q/%q; want 1, 1, equal",
			counter.hits.Load(), counter.misses.Load(), first.UserID, second.UserID)
	}
}

// TestTokenCacheTamperedTokenMisses: a token that differs from a cached one
// in any byte is verified from scratch, and fails.
func TestTokenCacheTamperedTokenMisses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v, counter, _ := cachingVerifier(f, 16)
	token := f.sign(t, nil, nil)
	if _, err := v.Authenticate(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	forgedPayload := segment(t, claims(func(c map[string]any) { c["sub"] = "user_admin" }))
	for name, forged := range map[string]string{
		"payload swapped":   parts[0] + "." + forgedPayload + "." + parts[2],
		"signature trimmed": token[:len(token)-1],
		"trailing byte":     token + "A",
	} {
		_, err := v.Authenticate(context.Background(), forged)
		checkRejection(t, err, authz.ReasonTokenInvalid, forged)
		if t.Failed() {
			t.Fatalf("%s: accepted through the cache", name)
		}
	}
	if counter.hits.Load() != 0 {
		t.Errorf("tampered tokens hit the cache %d times", counter.hits.Load())
	}
}

// TestTokenCacheRechecksExpiry: a cached token stops being accepted the
// moment its exp passes (beyond the skew), with token_expired.
func TestTokenCacheRechecksExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v, counter, offset := cachingVerifier(f, 16)
	token := f.sign(t, nil, nil) // exp = now + 60 s, skew 5 s
	if _, err := v.Authenticate(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(64*time.Second + 999*time.Millisecond))
	if _, err := v.Authenticate(context.Background(), token); err != nil {
		t.Fatalf("1 ms before expiry: %v", err)
	}
	offset.Store(int64(65 * time.Second))
	_, err := v.Authenticate(context.Background(), token)
	checkRejection(t, err, authz.ReasonTokenExpired, token)
	if counter.hits.Load() != 2 {
		t.Errorf("hits = %d, want 2 (expiry is decided on the cached entry)", counter.hits.Load())
	}
}

// TestTokenCacheBadTokensDoNotEvict: a flood of invalid tokens is never
// cached, so it cannot push a good token out.
func TestTokenCacheBadTokensDoNotEvict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v, counter, _ := cachingVerifier(f, 4)
	good := f.sign(t, nil, nil)
	if _, err := v.Authenticate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		bad := f.sign(t, func(h map[string]any) { h["kid"] = fmt.Sprintf("nope-%d", i) }, nil)
		if _, err := v.Authenticate(context.Background(), bad); err == nil {
			t.Fatal("a token with an unknown kid verified")
		}
	}
	if _, err := v.Authenticate(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if counter.hits.Load() != 1 || v.d.CachedSessions() != 1 {
		t.Errorf("after the flood: hits %d, cached %d; want the good token still cached", counter.hits.Load(), v.d.CachedSessions())
	}
}

// TestTokenCacheBounded: the cache never holds more than its size, and
// stays correct under concurrent use.
func TestTokenCacheBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const size = 8
	v, _, _ := cachingVerifier(f, size)
	tokens := make([]string, 40)
	for i := range tokens {
		tokens[i] = f.sign(t, nil, func(c map[string]any) { c["sub"] = fmt.Sprintf("user_%d", i) })
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				token := tokens[(i*7+w)%len(tokens)]
				p, err := v.Authenticate(context.Background(), token)
				if err != nil || !strings.HasPrefix(p.UserID, "user_") {
					t.Errorf("Authenticate = %+v, %v", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := v.d.CachedSessions(); n > size || n == 0 {
		t.Errorf("cache holds %d entries, want 1..%d", n, size)
	}
}
