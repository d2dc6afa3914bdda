package authn

import (
	"crypto/sha256"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/boundedmap"
)

// tokenKey identifies a token in the cache: the SHA-256 of every byte of
// it. Any change to the token (a tampered claim, another signature) is
// another key, so a forged token can never ride a verified one's entry.
type tokenKey [sha256.Size]byte

// cacheEntry is a verified token's principal and its exp in milliseconds.
type cacheEntry struct {
	principal authz.Principal
	expMillis int64
}

// tokenCache remembers tokens that passed verification, so that a token
// seen again skips the RSA verification and claim decoding. Only tokens that
// verified are stored: a flood of bad tokens costs a miss each but can never
// push good entries out. The caller checks exp against the clock on every
// hit; entries past their exp are dropped when met and go first when the
// cache is full.
type tokenCache = boundedmap.Map[tokenKey, cacheEntry]

func newTokenCache(max int) *tokenCache {
	return boundedmap.New[tokenKey, cacheEntry](max)
}
