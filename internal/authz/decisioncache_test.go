package authz

import (
	"encoding/json"
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
		k, ok := c.key("sha256:a", testSession, Check{Action: "a" + strconv.Itoa(i)})
		if !ok {
			t.Fatal("key failed")
		}
		for range 2 { // admitted on the second sight
			c.put("sha256:a", k, Outcome{Reason: "r", Message: strings.Repeat("m", maxCachedOutcomeBytes-1), Deterministic: true})
		}
		if b := c.bytes(); b > budget {
			t.Fatalf("after %d puts the cache holds %d bytes, want at most %d", i+1, b, budget)
		}
	}
	if n := c.entries.Len(); n == 0 || n > budget/maxCachedOutcomeBytes {
		t.Errorf("cache holds %d entries of ~4 KiB in a %d-byte budget", n, budget)
	}

	k, _ := c.key("sha256:a", testSession, Check{Action: "huge"})
	for range 2 {
		c.put("sha256:a", k, Outcome{Reason: "r", Message: strings.Repeat("m", 1<<20), Deterministic: true})
	}
	if _, hit := c.get(k); hit {
		t.Error("a 1 MiB message was cached")
	}
}

// TestDecisionCacheAdmitsOnSecondSight: decisions evaluated once, as
// requests that each name a new resource are, never take a place in the
// cache; one evaluated again does.
func TestDecisionCacheAdmitsOnSecondSight(t *testing.T) {
	t.Parallel()
	c := newDecisionCache(1000, 1<<20)
	out := Outcome{Reason: "r", Message: "m", Deterministic: true}
	for i := range 10_000 {
		k, _ := c.key("sha256:a", testSession, Check{Action: "a", Resource: &Resource{ID: strconv.Itoa(i)}})
		c.put("sha256:a", k, out)
	}
	if n := c.entries.Len(); n != 0 {
		t.Errorf("10000 decisions seen once: the cache holds %d, want 0", n)
	}
	k, _ := c.key("sha256:a", testSession, Check{Action: "a", Resource: &Resource{ID: "again"}})
	c.put("sha256:a", k, out)
	if _, hit := c.get(k); hit {
		t.Error("a decision seen once was cached")
	}
	c.put("sha256:a", k, out)
	if got, hit := c.get(k); !hit || got != out {
		t.Errorf("a decision seen twice: get = %+v, %v; want %+v, true", got, hit, out)
	}
}

// TestDecisionCacheKey: equal inputs give equal keys, built afresh; inputs
// that differ anywhere, however deep, give different keys.
func TestDecisionCacheKey(t *testing.T) {
	t.Parallel()
	c := newDecisionCache(10, 1<<20)
	check := func(leaf any) Check {
		return Check{
			Action: "tasks:read",
			Resource: &Resource{Type: "task", ID: "t1", OrgID: "org_1", Attributes: map[string]any{
				"b": "x", "a": []any{json.Number("0"), map[string]any{"deep": leaf, "z": true}},
			}},
			Context: map[string]any{"ip": "10.0.0.1"},
		}
	}
	key := func(ch Check) cacheKey {
		t.Helper()
		k, ok := c.key("sha256:a", testSession, ch)
		if !ok {
			t.Fatalf("key(%+v) failed", ch)
		}
		return k
	}
	base := key(check("v"))
	if key(check("v")) != base {
		t.Error("equal inputs got different keys")
	}
	variants := map[string]Check{
		"nested string":         check("w"),
		"nested number":         check(json.Number("1")),
		"nested null":           check(nil),
		"nested empty object":   check(map[string]any{}),
		"nested nil object":     check(map[string]any(nil)),
		"nested empty array":    check([]any{}),
		"string in place of id": {Action: "tasks:read", Resource: &Resource{Type: "task", ID: "t", OrgID: "1org_1"}},
		"no resource":           {Action: "tasks:read"},
		"empty resource":        {Action: "tasks:read", Resource: &Resource{}},
		"empty context":         {Action: "tasks:read", Context: map[string]any{}},
	}
	seen := map[cacheKey]string{base: "base"}
	for name, ch := range variants {
		k := key(ch)
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s got the same key", name, other)
		}
		seen[k] = name
	}
	// Map order does not matter: a map built in another order is equal.
	a := map[string]any{}
	b := map[string]any{}
	for i := range 100 {
		a[strconv.Itoa(i)] = i
		b[strconv.Itoa(99-i)] = 99 - i
	}
	if key(Check{Action: "x", Context: a}) != key(Check{Action: "x", Context: b}) {
		t.Error("equal maps built in different orders got different keys")
	}
	if _, ok := c.key("sha256:a", testSession, Check{Action: "x", Context: map[string]any{"f": func() {}}}); ok {
		t.Error("a context that cannot be encoded was keyed")
	}
}

// testSession stands for a verified token's session in cache keys.
var testSession = sessionKey{1}
