// Package authn verifies Clerk session tokens and turns their claims into an
// authz.Principal.
//
// Verification follows Clerk's own backend SDK (@clerk/backend verifyJwt and
// authenticateRequest): a compact JWS signed with RS256, RS384 or RS512 by a
// key from a KeySet (a JWKS URL, a JWKS file, or Clerk's PEM "JWT public
// key"), checked before any claim is read, then the session-token rules on
// typ, cat, sub, iss, azp, exp, nbf and iat. Normalization reads both Clerk
// token formats (v1 org_* claims and v2 "o"/"fea" claims, including the
// feature-permission bitmasks) the way Clerk's JavaScript SDK does.
//
// Every rejected token yields an *authz.TokenError whose message names the
// rule that failed; no error or message ever contains the token itself.
package authn

import (
	"context"
	"crypto/rsa"
	"errors"
)

// KeySet is where verification keys come from.
type KeySet interface {
	// Key returns the RSA public key for kid. For a PEM source the kid is
	// ignored. An unknown kid gives an error wrapping ErrUnknownKey; a source
	// that has never loaded a key gives authz.ErrNoKeys.
	//
	// A Verifier asks again on every cache hit and honours the hit only
	// while the answer equals the key that verified the token, so a key
	// that leaves the set ends its tokens at once. Returning the same
	// pointer for a key that did not change keeps that check a pointer
	// comparison.
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
	// Ready reports whether at least one key is loaded.
	Ready() bool
}

// ErrUnknownKey means the key set has no key for the token's kid, even after
// refreshing. The token is then invalid, not the service.
var ErrUnknownKey = errors.New("no verification key for kid")
