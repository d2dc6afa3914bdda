package authz

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"strings"
	"sync"

	"github.com/verdict-pdp/verdict/internal/boundedmap"
)

// DefaultDecisionCacheBytes is the decision cache's byte budget when
// Options.DecisionCacheBytes is 0.
const DefaultDecisionCacheBytes = 16 << 20

const (
	// maxCachedOutcomeBytes bounds what one entry may cost: an outcome
	// whose reason and message are longer is evaluated every time rather
	// than cached. Policy messages are a sentence or two.
	maxCachedOutcomeBytes = 4 << 10
	// entryOverheadBytes approximates what an entry costs beyond its key
	// and strings: its map slot, the Outcome and the string headers.
	entryOverheadBytes = 96
)

// cacheKey identifies one exact decision input: the SHA-256 of the policy
// revision, the whole token, the action, the resource and the context.
type cacheKey [sha256.Size]byte

// decisionCache remembers the outcomes of exact decision inputs. An entry
// answers only the very same token, action, resource and context under the
// very same policy revision, and only revisions whose policies are
// deterministic (no time, randomness or network) are ever stored, so a hit
// is exactly what evaluating again would give. A new revision empties it.
// It is bounded by entries and by bytes: each entry costs its key, its
// reason and message, and a fixed overhead (entryCost).
type decisionCache struct {
	entries *boundedmap.Map[cacheKey, Outcome]
	hashers sync.Pool

	mu       sync.Mutex
	revision string // of the entries held
}

func newDecisionCache(max, maxBytes int) *decisionCache {
	return &decisionCache{
		entries: boundedmap.NewCosted(max, maxBytes, entryCost),
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

func (c *decisionCache) get(k cacheKey) (Outcome, bool) { return c.entries.Get(k) }

// bytes is what the entries cost in total.
func (c *decisionCache) bytes() int { return c.entries.Cost() }

// entryCost is what one entry holds, in bytes.
func entryCost(k cacheKey, out Outcome) int {
	return len(k) + len(out.Reason) + len(out.Message) + entryOverheadBytes
}

// put stores an outcome of revision, unless it is too large to be worth
// holding. The first outcome of a new revision empties the cache: older
// entries could never be hit again (the revision is part of every key),
// they would only take room.
func (c *decisionCache) put(revision string, k cacheKey, out Outcome) {
	if len(out.Reason)+len(out.Message) > maxCachedOutcomeBytes {
		return
	}
	// Copies, so that an entry never keeps a larger string it was cut
	// from alive.
	out.Reason = Reason(strings.Clone(string(out.Reason)))
	out.Message = strings.Clone(out.Message)
	c.mu.Lock()
	if revision != c.revision {
		c.entries.Clear()
		c.revision = revision
	}
	c.mu.Unlock()
	c.entries.Put(k, out, nil)
}
