package policy

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ruleCache is a topdown.VirtualCache (the values of rules evaluated during
// one evaluation) kept flat and reused across evaluations. OPA's own is a
// trie of hash maps built afresh for every evaluation, which costs some
// fifty allocations per decision; a decision caches a dozen or so rules,
// and looking one up among them is a short scan. Lookups match whole
// references exactly, as the trie does.
type ruleCache struct {
	frames  []int        // where each frame's entries begin; the last is active
	entries []cachedRule // every frame's, oldest first
	// carried are values from an earlier evaluation of the same session
	// and action (reuse.go), known before this one starts: read-only and
	// shared, and seen only outside any `with` (frame 0), since under a
	// `with` the input may differ.
	carried []cachedRule
	used    uint64 // bit i: carried[i] was looked up (maxCarried <= 64)
	// shared are values the evaluations of the other actions of the same
	// call computed (runner.shareAcrossActions), known as carried ones
	// are.
	shared []cachedRule
	terms  []*ast.Term // the references' terms, which entries slice
	keys   []ast.Ref   // scratch for Keys
}

type cachedRule struct {
	ref       ast.Ref // a slice of terms: stable while the evaluation lasts
	value     *ast.Term
	undefined bool
	size      int // what a carried value holds, as termBytes estimates it
}

var _ topdown.VirtualCache = (*ruleCache)(nil)

// Push starts a frame: what is put in it is forgotten by the matching Pop.
func (c *ruleCache) Push() { c.frames = append(c.frames, len(c.entries)) }

// Pop forgets the active frame.
func (c *ruleCache) Pop() {
	start := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	clear(c.entries[start:])
	c.entries = c.entries[:start]
}

// Get returns ref's value, or nil and true when ref was found undefined,
// or nil and false when it is not cached.
func (c *ruleCache) Get(ref ast.Ref) (*ast.Term, bool) {
	if i := c.find(ref); i >= 0 {
		return c.entries[i].get()
	}
	if len(c.frames) == 1 {
		for i := range c.carried {
			if c.carried[i].ref.Equal(ref) {
				c.used |= 1 << i
				return c.carried[i].get()
			}
		}
		for i := range c.shared {
			if c.shared[i].ref.Equal(ref) {
				return c.shared[i].get()
			}
		}
	}
	return nil, false
}

func (e *cachedRule) get() (*ast.Term, bool) {
	if e.undefined { // once found undefined, always: as OPA's cache answers
		return nil, true
	}
	return e.value, false
}

// Put records ref's value; nil records that ref is undefined.
func (c *ruleCache) Put(ref ast.Ref, value *ast.Term) {
	i := c.find(ref)
	if i < 0 {
		// The evaluator may reuse ref's backing array once Put returns,
		// so its terms are copied, into one growing arena.
		start := len(c.terms)
		c.terms = append(c.terms, ref...)
		c.entries = append(c.entries, cachedRule{ref: c.terms[start:len(c.terms):len(c.terms)]})
		i = len(c.entries) - 1
	}
	if value != nil {
		c.entries[i].value = value
	} else {
		c.entries[i].undefined = true
	}
}

// Keys returns the references with a value in the active frame.
func (c *ruleCache) Keys() []ast.Ref {
	c.keys = c.keys[:0]
	for _, e := range c.entries[c.frames[len(c.frames)-1]:] {
		if e.value != nil {
			c.keys = append(c.keys, e.ref)
		}
	}
	return c.keys
}

// find returns the index of ref's entry in the active frame, or -1.
func (c *ruleCache) find(ref ast.Ref) int {
	start := c.frames[len(c.frames)-1]
	for i := len(c.entries) - 1; i >= start; i-- {
		if c.entries[i].ref.Equal(ref) {
			return i
		}
	}
	return -1
}

// carry returns what the next evaluation of the same session (and action)
// should carry: the carried values, and the values this evaluation
// computed that keep may reuse, copied out of the cache's memory. When
// prune is set, carried values this evaluation did not look up are
// dropped: the evaluations that follow mostly take the same path, and a
// first evaluation computes every rule on its way while the next ones
// read only the few at the top. (Pruning once, not every time, lets a
// session whose checks take two paths carry what both read, rather than
// trade one for the other.) It returns nil when nothing changes, or when
// the list would exceed maxCarried.
//
// A value (with its reference's arguments) estimated above
// maxCarriedValueBytes is not carried: a rule that builds a large value
// from the principal would otherwise keep one per session and action.
// shared, the session's principal object, is counted as free: the session
// holds it anyway, and functions of the principal take it as an argument.
func (c *ruleCache) carry(keep func(ast.Ref) bool, prune bool, shared ast.Value) []cachedRule {
	var found []cachedRule
	for _, e := range c.entries {
		if !keep(e.ref) {
			continue
		}
		budget := maxCarriedValueBytes
		for _, t := range e.ref {
			budget = termBytes(t, shared, budget)
		}
		if e.value != nil {
			budget = termBytes(e.value, shared, budget)
		}
		if budget < 0 {
			continue
		}
		e.size = maxCarriedValueBytes - budget
		found = append(found, e)
	}
	kept := len(c.carried)
	if prune {
		kept = bits.OnesCount64(c.used)
	}
	if len(found) == 0 && kept == len(c.carried) || kept+len(found) > maxCarried {
		return nil
	}
	out := make([]cachedRule, 0, kept+len(found))
	for i, e := range c.carried {
		if !prune || c.used&(1<<i) != 0 {
			out = append(out, e)
		}
	}
	for _, e := range found {
		e.ref = slices.Clone(e.ref)
		out = append(out, e)
	}
	return out
}

// share returns shared and the values this evaluation computed that keep
// accepts, copied out of the cache's memory, up to maxShared in all.
func (c *ruleCache) share(keep func(ast.Ref) bool, shared []cachedRule) []cachedRule {
	for _, e := range c.entries {
		if len(shared) == maxShared {
			break
		}
		if keep(e.ref) {
			e.ref = slices.Clone(e.ref)
			shared = append(shared, e)
		}
	}
	return shared
}

// maxShared bounds the values the evaluations of one call share: a
// decision computes a few that do not depend on the action; a team rule
// that calls a function with each action would otherwise add one per
// action.
const maxShared = 64

// maxCarried bounds the values carried for one session and action: a
// decision computes a dozen or so; a rule that calls a reusable function
// with a new argument every time would otherwise grow the list forever.
const maxCarried = 64

// maxCarriedValueBytes bounds one carried value, as termBytes estimates
// it: a decision's outcome is a few hundred bytes.
const maxCarriedValueBytes = 4 << 10

// termBytes returns budget less an estimate of what t holds (a term's
// header, a string's bytes, each member of a collection), stopping as
// soon as the budget is spent (the result is then negative). shared costs
// nothing.
func termBytes(t *ast.Term, shared ast.Value, budget int) int {
	if budget < 0 || t == nil || shared != nil && t.Value == shared {
		return budget
	}
	budget -= 48
	switch v := t.Value.(type) {
	case ast.String:
		budget -= len(v)
	case *ast.Array:
		for i := 0; i < v.Len() && budget >= 0; i++ {
			budget = termBytes(v.Elem(i), shared, budget)
		}
	case ast.Object:
		for _, k := range v.Keys() {
			if budget = termBytes(v.Get(k), shared, termBytes(k, shared, budget)); budget < 0 {
				break
			}
		}
	case ast.Set:
		for _, m := range v.Slice() {
			if budget = termBytes(m, shared, budget); budget < 0 {
				break
			}
		}
	case ast.Ref:
		for _, p := range v {
			budget = termBytes(p, shared, budget)
		}
	}
	return budget
}

// reset empties the cache for another evaluation, keeping its memory and
// letting go of every term it pointed to.
func (c *ruleCache) reset() {
	clear(c.entries)
	clear(c.terms)
	clear(c.keys)
	c.entries, c.terms, c.keys = c.entries[:0], c.terms[:0], c.keys[:0]
	c.carried, c.used, c.shared = nil, 0, nil
	c.frames = append(c.frames[:0], 0)
}

// ruleCaches lends rule caches to evaluations.
type ruleCaches struct{ pool sync.Pool }

func (p *ruleCaches) get() *ruleCache {
	if c, ok := p.pool.Get().(*ruleCache); ok {
		return c
	}
	c := &ruleCache{}
	c.reset()
	return c
}

// put takes c back, unless it grew past what a decision needs (a team rule
// that walked a long list): such a cache is left to the collector.
func (p *ruleCaches) put(c *ruleCache) {
	if cap(c.terms) > maxPooledTerms {
		return
	}
	c.reset()
	p.pool.Put(c)
}

// maxPooledTerms bounds the reference terms a pooled rule cache keeps room
// for.
const maxPooledTerms = 1 << 10
