package authn

import (
	"crypto/sha256"
	"sync"

	"github.com/verdict-pdp/verdict/internal/authz"
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
// push good entries out. The clock is checked on every hit by the caller;
// entries past their exp are dropped when met and swept when the cache is
// full. It is safe for concurrent use.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[tokenKey]cacheEntry
	max     int
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{entries: make(map[tokenKey]cacheEntry, min(max, 1024)), max: max}
}

func (c *tokenCache) get(k tokenKey) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	return e, ok
}

func (c *tokenCache) drop(k tokenKey) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// put stores an entry. When the cache is full it first drops every entry
// dead at deadMillis (exp at or before it), then, if that freed less than
// an eighth, arbitrary entries (map order is random) down to seven eighths.
func (c *tokenCache) put(k tokenKey, e cacheEntry, deadMillis int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, old := range c.entries {
			if old.expMillis <= deadMillis {
				delete(c.entries, key)
			}
		}
		for key := range c.entries {
			if len(c.entries) <= c.max-c.max/8-1 {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = e
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
