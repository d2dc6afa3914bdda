package authn_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/devtoken"
)

// farExp is the exp of a token that would outlive any rotation: the year
// 5138.
const farExp = 1e14

// rotatable is a key set whose JWKS document the test replaces.
type rotatable struct {
	keys   authn.KeySet
	rotate func(t *testing.T, jwks []byte)
}

// remoteRotatable is a RemoteJWKS on a real JWKS endpoint; a rotation
// serves the new document and refreshes.
func remoteRotatable(t *testing.T, jwks []byte) rotatable {
	t.Helper()
	s := newJWKSServer(t, jwks)
	r := newRemote(s, &clock{now: testNow()}, nil)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() error = %v", err)
	}
	return rotatable{keys: r, rotate: func(t *testing.T, jwks []byte) {
		t.Helper()
		s.serve(jwks)
		if err := r.Refresh(context.Background()); err != nil {
			t.Fatalf("Refresh() error = %v", err)
		}
	}}
}

// swappedKeys is a key set that answers from whichever parsed JWKS was
// stored last. Each rotation parses afresh, so even an unchanged key comes
// back as a new value.
type swappedKeys struct {
	cur atomic.Pointer[authn.StaticKeys]
}

func (s *swappedKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	return s.cur.Load().Key(ctx, kid)
}

func (s *swappedKeys) Ready() bool { return s.cur.Load().Ready() }

func swappedRotatable(t *testing.T, jwks []byte) rotatable {
	t.Helper()
	s := &swappedKeys{}
	parse := func(t *testing.T, jwks []byte) {
		t.Helper()
		keys, err := authn.ParseJWKS(jwks)
		if err != nil {
			t.Fatalf("ParseJWKS() error = %v", err)
		}
		s.cur.Store(keys)
	}
	parse(t, jwks)
	return rotatable{keys: s, rotate: parse}
}

// mergeJWKS joins the keys of several JWKS documents into one.
func mergeJWKS(t *testing.T, docs ...[]byte) []byte {
	t.Helper()
	var out struct {
		Keys []json.RawMessage `json:"keys"`
	}
	for _, doc := range docs {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(doc, &set); err != nil {
			t.Fatalf("json.Unmarshal(jwks) error = %v", err)
		}
		out.Keys = append(out.Keys, set.Keys...)
	}
	return mustJSON(t, out)
}

// signFar signs, with iss under kid, a valid token whose exp is farExp.
func signFar(t *testing.T, iss *devtoken.Issuer, kid string) string {
	t.Helper()
	header := map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}
	token, err := iss.SignWithHeader(header, claims(func(c map[string]any) { c["exp"] = farExp }))
	if err != nil {
		t.Fatalf("SignWithHeader() error = %v", err)
	}
	return token
}

func newIssuer(t *testing.T) *devtoken.Issuer {
	t.Helper()
	iss, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatalf("NewIssuer() error = %v", err)
	}
	return iss
}

// TestTokenCacheFollowsKeyRotation: a cached verification lasts only while
// the key that made it is in the key set. Key A leaves the set (or its kid
// is given another key); A's token, cached and with an exp far in the
// future, is invalid at once, while key B's token keeps hitting the cache.
func TestTokenCacheFollowsKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.iss, f.other
	replacement := newIssuer(t)
	// replacement's key published under A's kid.
	rekeyed := bytes.ReplaceAll(replacement.JWKS(), []byte(replacement.KeyID()), []byte(a.KeyID()))
	rotations := map[string]struct {
		after []byte
		// valid is a token the rotated set accepts under A's kid, if any.
		valid string
	}{
		"key withdrawn":                {after: b.JWKS()},
		"kid given new key":            {after: mergeJWKS(t, rekeyed, b.JWKS()), valid: signFar(t, replacement, a.KeyID())},
		"key withdrawn, another added": {after: mergeJWKS(t, b.JWKS(), replacement.JWKS())},
	}
	sources := map[string]func(*testing.T, []byte) rotatable{
		"remote jwks":  remoteRotatable,
		"swapped jwks": swappedRotatable,
	}
	tokenA, tokenB := signFar(t, a, a.KeyID()), signFar(t, b, b.KeyID())
	for sourceName, newSource := range sources {
		for rotationName, rotation := range rotations {
			t.Run(sourceName+"/"+rotationName, func(t *testing.T) {
				t.Parallel()
				src := newSource(t, mergeJWKS(t, a.JWKS(), b.JWKS()))
				counter := &lookupCounter{}
				v := newSessions(verifier(src.keys, nil), 16, counter, testNow)
				ctx := context.Background()
				for range 2 { // a miss that verifies, then a hit
					for _, token := range []string{tokenA, tokenB} {
						if _, err := v.Authenticate(ctx, token); err != nil {
							t.Fatalf("before the rotation: Authenticate() error = %v", err)
						}
					}
				}
				if got := counter.hits.Load(); got != 2 {
					t.Fatalf("before the rotation: hits = %d, want 2", got)
				}

				src.rotate(t, rotation.after)
				for range 2 {
					_, err := v.Authenticate(ctx, tokenA)
					checkRejection(t, err, authz.ReasonTokenInvalid, tokenA)
				}
				if _, err := v.Authenticate(ctx, tokenB); err != nil {
					t.Errorf("token under the kept key: Authenticate() error = %v", err)
				}
				if got := counter.hits.Load(); got != 3 {
					t.Errorf("after the rotation: hits = %d, want 3 (the kept key's token only)", got)
				}
				if rotation.valid != "" {
					if _, err := v.Authenticate(ctx, rotation.valid); err != nil {
						t.Errorf("token under A's kid and its new key: Authenticate() error = %v", err)
					}
				}
			})
		}
	}
}

// TestTokenCacheSurvivesUnchangedRefresh: a refresh that serves the same
// keys ends no cached verification.
func TestTokenCacheSurvivesUnchangedRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, newSource := range map[string]func(*testing.T, []byte) rotatable{
		"remote jwks":  remoteRotatable,
		"swapped jwks": swappedRotatable,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := newSource(t, f.iss.JWKS())
			counter := &lookupCounter{}
			v := newSessions(verifier(src.keys, nil), 16, counter, testNow)
			token := f.sign(t, nil, nil)
			for i := range 3 {
				if _, err := v.Authenticate(context.Background(), token); err != nil {
					t.Fatalf("Authenticate() #%d error = %v", i, err)
				}
				src.rotate(t, f.iss.JWKS())
			}
			if hits, misses := counter.hits.Load(), counter.misses.Load(); hits != 2 || misses != 1 {
				t.Errorf("hits %d, misses %d; want 2, 1", hits, misses)
			}
		})
	}
}

// TestRemoteJWKSKeepsUnchangedKeys: a refresh hands back the very key it
// held for a kid whose key did not change, which keeps the cache's check a
// pointer comparison, and a new value for a kid whose key did.
func TestRemoteJWKSKeepsUnchangedKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	src := remoteRotatable(t, mergeJWKS(t, f.iss.JWKS(), f.other.JWKS()))
	ctx := context.Background()
	key := func(kid string) *rsa.PublicKey {
		t.Helper()
		k, err := src.keys.Key(ctx, kid)
		if err != nil {
			t.Fatalf("Key(%s) error = %v", kid, err)
		}
		return k
	}
	kept, replaced := key(f.iss.KeyID()), key(f.other.KeyID())
	replacement := newIssuer(t)
	rekeyed := bytes.ReplaceAll(replacement.JWKS(), []byte(replacement.KeyID()), []byte(f.other.KeyID()))
	src.rotate(t, mergeJWKS(t, f.iss.JWKS(), rekeyed))
	if key(f.iss.KeyID()) != kept {
		t.Error("an unchanged key came back as a new value")
	}
	if k := key(f.other.KeyID()); k == replaced || k.Equal(replaced) {
		t.Error("a kid given a new key still answers with the old one")
	}
}
