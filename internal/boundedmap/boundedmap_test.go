package boundedmap_test

import (
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
