package authn

import (
	"crypto/rsa"
	"crypto/sha256"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/boundedmap"
)

// tokenKey identifies a token in the cache: the SHA-256 of every byte of
// it. Any change to the token (a tampered claim, another signature) is
// another key, so a forged token can never ride a verified one's entry.
type tokenKey [sha256.Size]byte

// cacheEntry is a verified token's principal, its exp in milliseconds and
// the key that verified it.
type cacheEntry struct {
	principal authz.Principal
	expMillis int64
	signer    signer
}

// signer is the key that verified a token: the token's kid and the key the
// key set gave for it.
type signer struct {
	kid string
	key *rsa.PublicKey
}

// tokenCache remembers tokens that passed verification, so that a token
// seen again skips the RSA verification and claim decoding. Only tokens that
// verified are stored: a flood of bad tokens costs a miss each but can never
// push good entries out. On every hit the caller checks that the key set
// still holds the entry's signer (so a withdrawn or replaced key ends its
// tokens at once, with nothing to clear) and then exp against the clock;
// entries past their exp are dropped when met and go first when the cache
// is full.
type tokenCache = boundedmap.Map[tokenKey, cacheEntry]

func newTokenCache(max int) *tokenCache {
	return boundedmap.New[tokenKey, cacheEntry](max)
}
