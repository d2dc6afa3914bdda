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

// Ready reports whether a verification key is loaded.
func (v *Verifier) Ready() bool { return v.keys != nil && v.keys.Ready() }

// Authenticate verifies token and returns its principal. A rejected token
// gives an *authz.TokenError (token_expired or token_invalid); a failure of
// the key source, such as no key ever loaded, gives any other error, for
// the caller to answer as an internal failure.
//
// The checks run in Clerk's order: size and shape, header (typ, alg, cat),
// key lookup by kid, signature, and only then the claims, so nothing an
// attacker wrote is interpreted before the signature is known to be good.
func (v *Verifier) Authenticate(ctx context.Context, token string) (authz.Principal, error) {
	t, err := parseCompact(token)
	if err != nil {
		return authz.Principal{}, err
	}
	if err := t.checkHeader(); err != nil {
		return authz.Principal{}, err
	}
	key, err := v.key(ctx, t.kid)
	if err != nil {
		return authz.Principal{}, err
	}
	if err := t.verifySignature(key); err != nil {
		return authz.Principal{}, err
	}
	c, err := parseClaims(t.payload)
	if err != nil {
		return authz.Principal{}, authz.InvalidToken("token payload is not a JSON object", err)
	}
	if err := v.checkClaims(&c); err != nil {
		return authz.Principal{}, err
	}
	return normalize(&c)
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
