// Package boundedmap is a concurrency-safe map that never holds more than a
// fixed number of entries, for Verdict's caches. Reads take a shared lock.
// A full map first drops the entries its owner calls stale, then, if that
// freed less than an eighth, arbitrary entries (Go's map order is random)
// down to seven eighths, so that a put costs O(1) amortized.
package boundedmap

import "sync"

// Map holds at most max entries.
type Map[K comparable, V any] struct {
	mu      sync.RWMutex
	entries map[K]V
	max     int
}

// New returns an empty Map of at most max entries (max > 0).
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{entries: make(map[K]V, min(max, 1024)), max: max}
}

// Get returns the value for k.
func (m *Map[K, V]) Get(k K) (V, bool) {
	m.mu.RLock()
	v, ok := m.entries[k]
	m.mu.RUnlock()
	return v, ok
}

// Put stores v for k, making room first when the map is full: entries for
// which stale reports true go first (stale may be nil).
func (m *Map[K, V]) Put(k K, v V, stale func(V) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.max {
		if stale != nil {
			for key, old := range m.entries {
				if stale(old) {
					delete(m.entries, key)
				}
			}
		}
		for key := range m.entries {
			if len(m.entries) <= m.max-m.max/8-1 {
				break
			}
			delete(m.entries, key)
		}
	}
	m.entries[k] = v
}

// Delete removes k.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	delete(m.entries, k)
	m.mu.Unlock()
}

// Clear removes every entry.
func (m *Map[K, V]) Clear() {
	m.mu.Lock()
	clear(m.entries)
	m.mu.Unlock()
}

// Len is the number of entries.
func (m *Map[K, V]) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}
