package authz

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"sync"
)

// cacheKey identifies one exact decision input: the SHA-256 of the policy
// revision, the whole token, the action, the resource and the context.
type cacheKey [sha256.Size]byte

// decisionCache remembers the outcomes of exact decision inputs. An entry
// answers only the very same token, action, resource and context under the
// very same policy revision, and only revisions whose policies are
// deterministic (no time, randomness or network) are ever stored, so a hit
// is exactly what evaluating again would give. A new revision empties it.
type decisionCache struct {
	mu       sync.RWMutex
	revision string
	entries  map[cacheKey]Outcome
	max      int
	hashers  sync.Pool
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{
		entries: make(map[cacheKey]Outcome, min(max, 1024)),
		max:     max,
		hashers: sync.Pool{New: func() any { return sha256.New() }},
	}
}

// key hashes the decision input. Fields are length-prefixed so that no two
// different inputs share a byte stream. It fails only when the resource or
// context cannot be encoded, and then the decision is simply not cached.
func (c *decisionCache) key(revision, token string, ch Check) (cacheKey, bool) {
	h := c.hashers.Get().(hash.Hash)
	defer c.hashers.Put(h)
	h.Reset()
	writeField(h, []byte(revision))
	writeField(h, []byte(token))
	writeField(h, []byte(ch.Action))
	for _, v := range []any{ch.Resource, ch.Context} {
		b, err := json.Marshal(v) // struct fields in order, map keys sorted
		if err != nil {
			return cacheKey{}, false
		}
		writeField(h, b)
	}
	var k cacheKey
	h.Sum(k[:0])
	return k, true
}

func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

func (c *decisionCache) get(k cacheKey) (Outcome, bool) {
	c.mu.RLock()
	out, ok := c.entries[k]
	c.mu.RUnlock()
	return out, ok
}

// put stores an outcome of revision, dropping everything of older revisions
// first; when full it drops an arbitrary eighth (map order is random).
func (c *decisionCache) put(revision string, k cacheKey, out Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if revision != c.revision {
		clear(c.entries)
		c.revision = revision
	}
	if len(c.entries) >= c.max {
		for key := range c.entries {
			if len(c.entries) <= c.max-c.max/8-1 {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = out
}
