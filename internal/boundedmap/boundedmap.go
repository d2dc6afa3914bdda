// Package boundedmap is a concurrency-safe map that never holds more than a
// fixed number of entries, for Verdict's caches, and optionally never more
// than a fixed total cost (bytes, say) either. Reads take a shared lock.
// A full map first drops the entries its owner calls stale, then, if that
// freed less than an eighth, arbitrary entries (Go's map order is random)
// down to seven eighths of each bound, so that a put costs O(1) amortized.
package boundedmap

import "sync"

// Map holds at most max entries and, when built by NewCosted, entries whose
// costs add up to at most maxCost.
type Map[K comparable, V any] struct {
	mu      sync.RWMutex
	entries map[K]entry[V]
	max     int
	cost    func(K, V) int // nil: only the number of entries is bounded
	maxCost int
	total   int // sum of the held entries' costs
}

type entry[V any] struct {
	v    V
	cost int
}

// New returns an empty Map of at most max entries (max > 0).
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{entries: make(map[K]entry[V], min(max, 1024)), max: max}
}

// NewCosted returns an empty Map of at most max entries (max > 0) whose
// costs, as cost reports them when they are put, add up to at most maxCost
// (maxCost > 0). An entry that alone costs more than maxCost is never held.
func NewCosted[K comparable, V any](max, maxCost int, cost func(K, V) int) *Map[K, V] {
	m := New[K, V](max)
	m.cost, m.maxCost = cost, maxCost
	return m
}

// Get returns the value for k.
func (m *Map[K, V]) Get(k K) (V, bool) {
	m.mu.RLock()
	e, ok := m.entries[k]
	m.mu.RUnlock()
	return e.v, ok
}

// Put stores v for k, making room first when the map is full: entries for
// which stale reports true go first (stale may be nil). In a costed map, a
// value that costs more than the whole budget is not stored, and k then
// holds nothing.
func (m *Map[K, V]) Put(k K, v V, stale func(V) bool) {
	c := 0
	if m.cost != nil {
		c = m.cost(k, v)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(k)
	if c > m.maxCost {
		return
	}
	if len(m.entries) >= m.max || m.total+c > m.maxCost {
		if stale != nil {
			for key, old := range m.entries {
				if stale(old.v) {
					m.remove(key)
				}
			}
		}
		for key := range m.entries {
			if len(m.entries) <= m.max-m.max/8-1 && m.total+c <= m.maxCost-m.maxCost/8 {
				break
			}
			m.remove(key)
		}
	}
	m.entries[k] = entry[V]{v: v, cost: c}
	m.total += c
}

// remove deletes k; the caller holds the write lock.
func (m *Map[K, V]) remove(k K) {
	if e, ok := m.entries[k]; ok {
		m.total -= e.cost
		delete(m.entries, k)
	}
}

// Delete removes k.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	m.remove(k)
	m.mu.Unlock()
}

// Clear removes every entry.
func (m *Map[K, V]) Clear() {
	m.mu.Lock()
	clear(m.entries)
	m.total = 0
	m.mu.Unlock()
}

// Len is the number of entries.
func (m *Map[K, V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// Cost is the sum of the entries' costs; always 0 for a map made by New.
func (m *Map[K, V]) Cost() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.total
}
