package boundedmap_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/verdict-pdp/verdict/internal/boundedmap"
)

func TestBounded(t *testing.T) {
	t.Parallel()
	m := boundedmap.New[int, int](16)
	for i := range 1000 {
		m.Put(i, i, nil)
		if n := m.Len(); n > 16 {
			t.Fatalf("after %d puts the map holds %d entries, want at most 16", i+1, n)
		}
	}
	if v, ok := m.Get(999); !ok || v != 999 {
		t.Errorf("Get(999) = %d, %v; want the last put", v, ok)
	}
}

func TestStaleEntriesGoFirst(t *testing.T) {
	t.Parallel()
	m := boundedmap.New[int, int](8)
	for i := range 8 {
		m.Put(i, i, nil)
	}
	// Odd values are stale: they make room before any fresh entry goes.
	m.Put(100, 100, func(v int) bool { return v%2 == 1 })
	for i := 0; i < 8; i += 2 {
		if _, ok := m.Get(i); !ok {
			t.Errorf("fresh entry %d was dropped while stale ones could go", i)
		}
	}
	if _, ok := m.Get(1); ok {
		t.Error("stale entry 1 survived a full put")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m := boundedmap.New[int, int](32)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				m.Put(i*4+w, i, nil)
				m.Get(i)
				if i%50 == 0 {
					m.Delete(i)
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 32 {
		t.Errorf("Len = %d, want at most 32", n)
	}
}

// TestCostBound: a costed map stays within its budget however large the
// values put, keeps the last put when it fits, holds nothing for a value
// over the whole budget, and accounts for replaced and removed entries.
func TestCostBound(t *testing.T) {
	t.Parallel()
	const budget = 10_000
	m := boundedmap.NewCosted[int, string](1000, budget, func(_ int, v string) int { return 8 + len(v) })
	for i := range 5000 {
		v := strings.Repeat("x", i%3000)
		m.Put(i, v, nil)
		if c := m.Cost(); c > budget {
			t.Fatalf("after %d puts the map costs %d, want at most %d", i+1, c, budget)
		}
		if got, ok := m.Get(i); !ok || got != v {
			t.Fatalf("Get(%d) after its put: ok %v; want the value just put", i, ok)
		}
	}
	m.Put(-1, strings.Repeat("x", budget), nil)
	if _, ok := m.Get(-1); ok {
		t.Error("a value costing more than the whole budget was stored")
	}
	m.Clear()
	m.Put(1, "abc", nil)
	m.Put(1, "abcdef", nil)
	m.Put(2, "a", nil)
	m.Delete(2)
	if c := m.Cost(); c != 8+6 {
		t.Errorf("Cost after replace and delete = %d, want %d", c, 8+6)
	}
	m.Put(1, strings.Repeat("x", budget), nil)
	if _, ok := m.Get(1); ok || m.Cost() != 0 {
		t.Errorf("an oversized put over an existing key: held %v, cost %d; want nothing, 0", ok, m.Cost())
	}
}
