package authn

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// Config configures a Verifier.
type Config struct {
	// Keys is where verification keys come from.
	Keys KeySet
	// Issuer, when not empty, must equal the iss claim exactly. Clerk's SDK
	// does not check iss; pinning it to the Frontend API URL is stricter.
	Issuer string
	// AuthorizedParties, when it holds a non-empty entry, makes azp
	// mandatory and restricts it to the listed origins. Entries are
	// trimmed; empty ones are ignored.
	AuthorizedParties []string
	// ClockSkew is the leeway for exp, nbf and iat. Zero means none, as in
	// Clerk (whose default is 5 s, which `verdict serve` passes);
	// a negative value counts as zero.
	ClockSkew time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Verifier verifies Clerk session tokens and normalizes their claims. It
// implements authz.Authenticator and is safe for concurrent use.
type Verifier struct {
	keys    KeySet
	issuer  string
	parties map[string]struct{}
	skew    time.Duration
	now     func() time.Time
}

var _ authz.Authenticator = (*Verifier)(nil)

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) *Verifier {
	v := &Verifier{keys: cfg.Keys, issuer: cfg.Issuer, skew: max(cfg.ClockSkew, 0), now: cfg.Now}
	if v.now == nil {
		v.now = time.Now
	}
	for _, p := range cfg.AuthorizedParties {
		if p = strings.TrimSpace(p); p != "" {
			if v.parties == nil {
				v.parties = make(map[string]struct{})
			}
			v.parties[p] = struct{}{}
		}
	}
	return v
}

// Authenticate verifies token and returns its principal, with what lets
// the caller reuse the verification: until when it stands (exp plus the
// clock skew), and whether the key that verified it is still the key
// set's (a withdrawn or replaced key ends its tokens at once). A rejected
// token gives an *authz.TokenError (token_expired or token_invalid); a
// failure of the key source, such as no key ever loaded, gives any other
// error, for the caller to answer as an internal failure.
//
// The checks run in Clerk's order: size and shape, header (typ, alg, cat),
// key lookup by kid, signature, and only then the claims, so nothing an
// attacker wrote is interpreted before the signature is known to be good.
func (v *Verifier) Authenticate(ctx context.Context, token string) (authz.Verification, error) {
	p, by, err := v.verify(ctx, token)
	if err != nil {
		return authz.Verification{}, err
	}
	by.kid = strings.Clone(by.kid) // not the decoded header it points into
	return authz.Verification{
		Principal: p,
		Until:     p.ExpiresAt.Add(v.skew),
		KeyHolds:  func(ctx context.Context) bool { return v.holds(ctx, by) },
	}, nil
}

// signer is the key that verified a token: the token's kid and the key the
// key set gave for it.
type signer struct {
	kid string
	key *rsa.PublicKey
}

// holds reports whether the key set still answers s.kid with the key that
// verified a token. Key sets return the same pointer for a key that did
// not change, so this is a map lookup and a pointer comparison; Equal
// covers a set that builds a new value for an unchanged key.
func (v *Verifier) holds(ctx context.Context, s signer) bool {
	if v.keys == nil {
		return false
	}
	key, err := v.keys.Key(ctx, s.kid)
	return err == nil && (key == s.key || key.Equal(s.key))
}

// verify checks a token from scratch and returns, with its principal, the
// key that verified it.
func (v *Verifier) verify(ctx context.Context, token string) (authz.Principal, signer, error) {
	t, err := parseCompact(token)
	if err != nil {
		return authz.Principal{}, signer{}, err
	}
	if err := t.checkHeader(); err != nil {
		return authz.Principal{}, signer{}, err
	}
	key, err := v.key(ctx, t.kid)
	if err != nil {
		return authz.Principal{}, signer{}, err
	}
	if err := t.verifySignature(key); err != nil {
		return authz.Principal{}, signer{}, err
	}
	c, err := parseClaims(t.payload)
	if err != nil {
		return authz.Principal{}, signer{}, authz.InvalidToken("token payload is not a JSON object", err)
	}
	if err := v.checkClaims(&c); err != nil {
		return authz.Principal{}, signer{}, err
	}
	p, err := normalize(&c)
	return p, signer{kid: t.kid, key: key}, err
}

// key looks up the verification key, separating a bad token (unknown kid)
// from a key source that cannot answer.
func (v *Verifier) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if v.keys == nil {
		return nil, fmt.Errorf("look up verification key: %w", authz.ErrNoKeys)
	}
	key, err := v.keys.Key(ctx, kid)
	switch {
	case err == nil:
		return key, nil
	case errors.Is(err, ErrUnknownKey) && kid == "":
		return nil, authz.InvalidToken("token header has no kid; the key set needs one to pick a key", err)
	case errors.Is(err, ErrUnknownKey):
		return nil, authz.InvalidToken("token kid matches no verification key", err)
	}
	return nil, fmt.Errorf("look up verification key: %w", err)
}
