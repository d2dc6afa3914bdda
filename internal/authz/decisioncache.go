package authz

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
	seen    *doorkeeper
	writers sync.Pool // of *keyWriter

	mu       sync.Mutex
	revision string // of the entries held
}

func newDecisionCache(max, maxBytes int) *decisionCache {
	return &decisionCache{
		entries: boundedmap.NewCosted(max, maxBytes, entryCost),
		seen:    newDoorkeeper(max),
		writers: sync.Pool{New: func() any { return newKeyWriter() }},
	}
}

// key hashes the decision input: the revision, token and action, then the
// resource and context walked value by value into the hasher (keyWriter),
// so that keying a large request costs no copy of it. Equal inputs give
// equal keys, and no two different inputs share a byte stream. It fails
// only when the resource or context holds a value that cannot be encoded,
// and then the decision is simply not cached.
func (c *decisionCache) key(revision string, session sessionKey, ch Check) (cacheKey, bool) {
	w := c.writers.Get().(*keyWriter)
	defer c.writers.Put(w)
	w.reset()
	w.string(revision)
	w.bytes(session[:])
	w.string(ch.Action)
	w.string(ch.Caller)
	if !w.resource(ch.Resource) || !w.object(ch.Context) || !w.subject(ch.Subject) {
		return cacheKey{}, false
	}
	return w.sum(), true
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
	if !c.seen.again(k) {
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

// Tags of the values keyWriter writes: each value starts with one, so that
// values of different kinds never share a byte stream.
const (
	tagNil byte = iota + 1
	tagFalse
	tagTrue
	tagString
	tagNumber // json.Number, as decoded requests carry numbers
	tagFloat
	tagInt
	tagObject
	tagArray
	tagNilObject
	tagNilArray
	tagResource
	tagNilResource
	tagSubject
	tagNilSubject
	tagJSON // any other type, by its JSON encoding
)

// keyWriter writes a decision input into a SHA-256 hash through a small
// buffer. Strings are length-prefixed, containers carry their length and
// object keys are written in sorted order.
type keyWriter struct {
	h   hash.Hash
	buf []byte
}

const keyWriterBuffer = 4 << 10

func newKeyWriter() *keyWriter {
	return &keyWriter{h: sha256.New(), buf: make([]byte, 0, keyWriterBuffer)}
}

func (w *keyWriter) reset() {
	w.h.Reset()
	w.buf = w.buf[:0]
}

func (w *keyWriter) sum() cacheKey {
	w.flush()
	var k cacheKey
	w.h.Sum(k[:0])
	return k
}

func (w *keyWriter) flush() {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
}

func (w *keyWriter) tag(t byte) {
	if len(w.buf)+1 > keyWriterBuffer {
		w.flush()
	}
	w.buf = append(w.buf, t)
}

func (w *keyWriter) uint(n uint64) {
	if len(w.buf)+8 > keyWriterBuffer {
		w.flush()
	}
	w.buf = binary.BigEndian.AppendUint64(w.buf, n)
}

// string writes s with its length.
// bytes writes b as string writes a string.
func (w *keyWriter) bytes(b []byte) {
	w.uint(uint64(len(b)))
	for len(b) > 0 {
		if len(w.buf) == keyWriterBuffer {
			w.flush()
		}
		n := copy(w.buf[len(w.buf):keyWriterBuffer], b)
		w.buf = w.buf[:len(w.buf)+n]
		b = b[n:]
	}
}

func (w *keyWriter) string(s string) {
	w.uint(uint64(len(s)))
	for len(s) > 0 {
		if len(w.buf) == keyWriterBuffer {
			w.flush()
		}
		n := min(len(s), keyWriterBuffer-len(w.buf))
		w.buf = append(w.buf, s[:n]...)
		s = s[n:]
	}
}

func (w *keyWriter) subject(s *RequestSubject) bool {
	if s == nil {
		w.tag(tagNilSubject)
		return true
	}
	w.tag(tagSubject)
	w.string(s.Type)
	w.string(s.ID)
	return w.object(s.Properties)
}

func (w *keyWriter) resource(r *Resource) bool {
	if r == nil {
		w.tag(tagNilResource)
		return true
	}
	w.tag(tagResource)
	for _, f := range [...]string{r.Type, r.ID, r.OrgID, r.OrgSlug, r.OwnerID} {
		w.string(f)
	}
	return w.object(r.Attributes)
}

// value writes v: the types a JSON decoder produces are walked directly,
// anything else is written as its JSON encoding. It reports false when v
// holds something that cannot be encoded.
func (w *keyWriter) value(v any) bool {
	switch v := v.(type) {
	case nil:
		w.tag(tagNil)
	case bool:
		if v {
			w.tag(tagTrue)
		} else {
			w.tag(tagFalse)
		}
	case string:
		w.tag(tagString)
		w.string(v)
	case json.Number:
		w.tag(tagNumber)
		w.string(string(v))
	case float64:
		w.tag(tagFloat)
		w.uint(math.Float64bits(v))
	case int:
		w.tag(tagInt)
		w.uint(uint64(v))
	case map[string]any:
		return w.object(v)
	case []any:
		if v == nil {
			w.tag(tagNilArray)
			return true
		}
		w.tag(tagArray)
		w.uint(uint64(len(v)))
		for _, e := range v {
			if !w.value(e) {
				return false
			}
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		w.tag(tagJSON)
		w.string(string(b))
	}
	return true
}

func (w *keyWriter) object(m map[string]any) bool {
	if m == nil {
		w.tag(tagNilObject)
		return true
	}
	w.tag(tagObject)
	w.uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		w.string(k)
		if !w.value(m[k]) {
			return false
		}
	}
	return true
}

// doorkeeper admits a decision to the cache on its second evaluation, not
// its first. Most traffic names a resource once (every write, every list
// page's new rows): caching those first sights would fill the cache with
// entries that are never hit and push out the ones that are, and cost a
// copy and an insertion each. It remembers a fingerprint of the keys seen
// recently in a fixed table (a newer key takes an older one's slot), so
// it costs 8 bytes a slot whatever callers send; a lost fingerprint only
// delays a key's admission.
type doorkeeper struct {
	slots []atomic.Uint64
}

func newDoorkeeper(entries int) *doorkeeper {
	return &doorkeeper{slots: make([]atomic.Uint64, max(entries, 1))}
}

// again reports whether k was seen since its slot last changed hands, and
// remembers it.
func (d *doorkeeper) again(k cacheKey) bool {
	fingerprint := binary.LittleEndian.Uint64(k[:8]) | 1 // never 0, the empty slot
	slot := &d.slots[binary.LittleEndian.Uint64(k[8:16])%uint64(len(d.slots))]
	return slot.Swap(fingerprint) == fingerprint
}
