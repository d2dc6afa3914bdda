package authz

import (
	"strconv"
	"strings"
	"testing"
)

// TestDecisionCacheBytes: however long the messages, the cache stays within
// its byte budget; an outcome over the per-entry cap is not held at all.
func TestDecisionCacheBytes(t *testing.T) {
	t.Parallel()
	const budget = 64 << 10
	c := newDecisionCache(50_000, budget)
	for i := range 2000 {
		k, ok := c.key("sha256:a", "t", Check{Action: "a" + strconv.Itoa(i)})
		if !ok {
			t.Fatal("key failed")
		}
		c.put("sha256:a", k, Outcome{Reason: "r", Message: strings.Repeat("m", maxCachedOutcomeBytes-1), Deterministic: true})
		if b := c.bytes(); b > budget {
			t.Fatalf("after %d puts the cache holds %d bytes, want at most %d", i+1, b, budget)
		}
	}
	if n := c.entries.Len(); n == 0 || n > budget/maxCachedOutcomeBytes {
		t.Errorf("cache holds %d entries of ~4 KiB in a %d-byte budget", n, budget)
	}

	k, _ := c.key("sha256:a", "t", Check{Action: "huge"})
	c.put("sha256:a", k, Outcome{Reason: "r", Message: strings.Repeat("m", 1<<20), Deterministic: true})
	if _, hit := c.get(k); hit {
		t.Error("a 1 MiB message was cached")
	}
}
