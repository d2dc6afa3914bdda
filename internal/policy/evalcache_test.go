package policy

import (
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// FuzzRuleCache runs a sequence of operations, read from the fuzzer's bytes,
// on the flat rule cache and on OPA's own, and requires the same answers:
// the flat one is a faster implementation of the same contract.
func FuzzRuleCache(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 0x10, 0x11, 0x20, 0x31, 0x40, 0x50, 0x21, 0x60, 0x01, 0x30})
	f.Add([]byte{0x40, 0x03, 0x13, 0x23, 0x50, 0x33, 0x50, 0x50, 0x23, 0x61})
	refs := []ast.Ref{
		ast.MustParseRef("data.verdict.authz.outcome"),
		ast.MustParseRef("data.verdict.catalog.entry"),
		ast.MustParseRef("data.verdict.catalog.entry.requires"),
		ast.MustParseRef("data.verdict.catalog"),
		ast.MustParseRef(`data.verdict.rules["acme"].deny`),
		ast.MustParseRef(`data.verdict.rules["acme"].grant`),
		ast.MustParseRef("data.verdict.tenancy.passes"),
		ast.MustParseRef("data.verdict.tenancy.denial"),
	}
	values := []*ast.Term{nil, ast.BooleanTerm(true), ast.StringTerm("x"), ast.MustParseTerm(`{"allow": false}`)}
	f.Fuzz(func(t *testing.T, ops []byte) {
		var flat ruleCaches
		got, want := flat.get(), topdown.NewVirtualCache()
		defer flat.put(got)
		depth := 0
		for i, op := range ops {
			ref := refs[int(op&0x0f)%len(refs)]
			switch op >> 4 % 7 {
			case 0, 1:
				v := values[int(op>>4)%len(values)]
				got.Put(slices.Clone(ref), v)
				want.Put(slices.Clone(ref), v)
			case 2, 3:
				gv, gu := got.Get(ref)
				wv, wu := want.Get(ref)
				if gu != wu || (gv == nil) != (wv == nil) || gv != nil && !gv.Equal(wv) {
					t.Fatalf("op %d: Get(%v) = %v, %v; OPA's cache says %v, %v", i, ref, gv, gu, wv, wu)
				}
			case 4:
				got.Push()
				want.Push()
				depth++
			case 5:
				if depth > 0 {
					got.Pop()
					want.Pop()
					depth--
				}
			case 6:
				if g, w := sortedRefs(got.Keys()), sortedRefs(want.Keys()); !slices.EqualFunc(g, w, func(a, b ast.Ref) bool { return a.Equal(b) }) {
					t.Fatalf("op %d: Keys() = %v; OPA's cache says %v", i, g, w)
				}
			}
		}
	})
}

func sortedRefs(refs []ast.Ref) []ast.Ref {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b ast.Ref) int { return a.Compare(b) })
	return out
}

// TestRuleCacheReuse: a cache handed back and lent again starts empty.
func TestRuleCacheReuse(t *testing.T) {
	var p ruleCaches
	c := p.get()
	ref := ast.MustParseRef("data.verdict.authz.outcome")
	c.Put(ref, ast.BooleanTerm(true))
	p.put(c)
	c = p.get()
	if v, undefined := c.Get(ref); v != nil || undefined {
		t.Errorf("a reused cache holds %v (undefined %v), want nothing", v, undefined)
	}
}
