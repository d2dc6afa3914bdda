package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/verdict-pdp/verdict/internal/boundedmap"
)

// Reusing rule results across decisions.
//
// Within one evaluation OPA computes each rule at most once (its virtual
// cache). Most of a decision's rules read nothing of the input but the
// principal and the action: the action's catalog entry, its requirements
// against the session's role and permissions, the teams' deny test when no
// team rule looks at the resource, the impersonation guard. A session asks
// about the same action for resource after resource (a list page, a batch),
// and those rules give the same values every time. So the values the
// evaluator computed for them are kept, per session and action, and handed
// to the next evaluation of the same session and action as already known;
// only the rules that read the resource or the context (tenancy, team rules
// that look at them, the decision itself) are evaluated again.
//
// This is an exact-result cache, not a rule of Verdict's own: every value
// was computed by OPA from the same policies, data, principal and action,
// and which rules qualify is decided from the compiled policies, not from
// a list. A rule qualifies when neither it nor anything it may reach, rule
// or function, reads input other than input.principal and input.action,
// or uses `with` (which evaluates under other input). A revision whose
// policies call a builtin that is not a function of its arguments (the
// clock, randomness) reuses nothing.
//
// The same test, with "input other than input.action" in place of "input
// other than input.principal and input.action", picks the rules that
// cannot depend on the action: EvaluateActions hands the values one
// action's evaluation computed for them to the evaluations of the other
// actions of the same call, whose inputs differ only in their action
// (runner.shareAcrossActions).

// reusable are the rules of a compiled policy set whose values are a
// function of the parts of the input reads accepts, the policies and their
// data.
type reusable struct {
	compiler *ast.Compiler
	reads    func(input ast.Ref) bool // the input references a rule may read
	rules    map[*ast.Rule]bool       // every rule, with its verdict
}

// reusableRules classifies every rule of compiler: reusable when neither
// it nor anything it may reach reads an input reference reads refuses
// (readsPrincipalOrAction, readsAllButAction) or uses `with`.
func reusableRules(compiler *ast.Compiler, reads func(input ast.Ref) bool) *reusable {
	r := &reusable{compiler: compiler, reads: reads, rules: make(map[*ast.Rule]bool)}
	for _, m := range compiler.Modules {
		for _, rule := range m.Rules {
			r.classify(rule)
		}
	}
	return r
}

// classify decides rule, and what it reaches, once. Rego forbids recursion,
// so the walk ends; a rule met again while it is being decided (which the
// compiler would have refused) counts as not reusable.
func (r *reusable) classify(rule *ast.Rule) bool {
	if ok, seen := r.rules[rule]; seen {
		return ok
	}
	r.rules[rule] = false
	ok := r.decide(rule)
	r.rules[rule] = ok
	return ok
}

func (r *reusable) decide(rule *ast.Rule) bool {
	ok := true
	ast.WalkWiths(rule, func(*ast.With) bool {
		ok = false
		return true
	})
	ast.WalkRefs(rule, func(ref ast.Ref) bool {
		if !ok {
			return true
		}
		switch {
		case ref.HasPrefix(ast.InputRootRef):
			ok = r.reads(ref)
		case ref.HasPrefix(ast.DefaultRootRef):
			ok = r.allReusable(r.compiler.GetRulesDynamicWithOpts(ref, ast.RulesOptions{IncludeHiddenModules: true}))
		}
		return !ok
	})
	return ok
}

func (r *reusable) allReusable(rules []*ast.Rule) bool {
	for _, rule := range rules {
		if !r.classify(rule) {
			return false
		}
	}
	return true
}

// readsPrincipalOrAction reports whether an input reference stays within
// input.principal or input.action.
func readsPrincipalOrAction(ref ast.Ref) bool {
	key, ok := inputKey(ref)
	return ok && (key == "principal" || key == "action")
}

// readsAllButAction reports whether an input reference stays out of
// input.action.
func readsAllButAction(ref ast.Ref) bool {
	key, ok := inputKey(ref)
	return ok && key != "action"
}

// inputKey is an input reference's first key, when that is a string: not
// when the reference is input as a whole, or its key a variable.
func inputKey(ref ast.Ref) (ast.String, bool) {
	if len(ref) < 2 {
		return "", false
	}
	key, ok := ref[1].Value.(ast.String)
	return key, ok
}

// result reports whether a virtual-cache key names a value that may be
// reused: a rule's value (data.pkg.rule, a member of a partial rule under
// it, or a whole subtree of rules) or a function's result (the function's
// reference, then its arguments), every rule that may contribute to which
// is reusable. The contributors are the rules that define the key's path
// or a document above it (a rule with a variable in its head, b.c[x],
// holds data.b.c.d too) and every rule below it (data.b.c holds the value
// of a rule b.c.d, or of a package below it).
func (r *reusable) result(key ast.Ref) bool {
	path := key
	if fn, ok := key[0].Value.(ast.Ref); ok {
		path = fn
	}
	// The rules compiler.GetRules(path) names, visited in place rather
	// than gathered into a new list: this runs for every value every
	// evaluation computes, and only reads what reusableRules decided.
	node, found := r.compiler.RuleTree, false
	for _, t := range path {
		if node = node.Child(t.Value); node == nil {
			return found // no rule at or below path: only the rules above it
		}
		if !found && len(node.Values) > 0 {
			if !r.decided(node.Values) {
				return false
			}
			found = true // the first rules on the way hold the document
		}
	}
	var below bool
	return r.subtreeReusable(node, &below) && (found || below)
}

// decided reports whether every rule is reusable, as reusableRules
// decided it; a rule it did not see counts as not.
func (r *reusable) decided(rules []*ast.Rule) bool {
	for _, rule := range rules {
		if !r.rules[rule] {
			return false
		}
	}
	return true
}

// subtreeReusable reports whether the rules of node and of every child
// below it that is not hidden (as compiler.GetRulesWithPrefix walks them)
// are reusable; seen is set when there is one.
func (r *reusable) subtreeReusable(node *ast.TreeNode, seen *bool) bool {
	if len(node.Values) > 0 {
		*seen = true
		if !r.decided(node.Values) {
			return false
		}
	}
	for _, child := range node.Children {
		if !child.Hide && !r.subtreeReusable(child, seen) {
			return false
		}
	}
	return true
}

// carriedResults keeps, per session and action, the reusable values an
// evaluation computed, for the next evaluation of the same session and
// action under the same revision (each revision has its own). A session is
// the principal state the Decider prepared for a verified token
// (principalState), so a new token, like a new revision, starts afresh.
type carriedResults struct {
	rules  *reusable
	keep   func(ast.Ref) bool // rules.result, made once
	values *boundedmap.Map[carryKey, carried]
}

type carryKey struct {
	principal *principalState
	action    string
}

// carried is what a session and action carry: the values, and how many
// evaluations added to them. A decision that takes another path (a denial
// after an allow) computes other rules, which are added, up to
// maxRefreshes times, so that the list settles.
type carried struct {
	values    []cachedRule
	refreshes int
}

const (
	// maxCarriedSessions bounds the sessions and actions whose values are
	// kept, and maxCarriedBytes what they hold (as carriedCost estimates
	// it): a session's decision carries three to six values once its paths
	// settle (ruleCache.carry), about a kilobyte, so the budget holds some
	// thirty thousand sessions and actions. A value estimated over
	// maxCarriedValueBytes is not carried.
	maxCarriedSessions = 1 << 15
	maxCarriedBytes    = 32 << 20
	// maxRefreshes bounds how often a session and action's values change
	// (has() checks vary more than a decision's paths).
	maxRefreshes = 8
)

// carriedCost estimates what a session and action's carried values hold:
// the entry, and for each value its slot and what its reference and value
// hold (ruleCache.carry measured them; the session's principal, which the
// session holds anyway, counted as free).
func carriedCost(k carryKey, c carried) int {
	cost := 128 + len(k.action)
	for _, v := range c.values {
		cost += 64 + v.size
	}
	return cost
}

func newCarriedResults(rules *reusable) *carriedResults {
	return &carriedResults{rules: rules, keep: rules.result, values: boundedmap.NewCosted(maxCarriedSessions, maxCarriedBytes, carriedCost)}
}

// carry is one evaluation's part in carrying values: what it starts with,
// and whether it offers what it computed.
type carry struct {
	owner   *carriedResults
	key     carryKey
	prior   carried
	capture bool
	keep    func(ast.Ref) bool
}

// carryFor returns the carry of an evaluation of q for st and action
// (none for has()): nil, carry nothing, when q carries nothing or st does
// not last beyond the evaluation (no session to carry values for). into
// is where it is kept: the caller's, so that a decision allocates none.
func (q *ruleQuery) carryFor(into *carry, st *principalState, lasting bool, action string) *carry {
	c := q.carried
	if c == nil || !lasting {
		return nil
	}
	k := carryKey{st, action}
	prior, _ := c.values.Get(k)
	*into = carry{owner: c, key: k, prior: prior, capture: prior.refreshes < maxRefreshes, keep: c.keep}
	return into
}

// finish keeps what the evaluation computed beyond what it started with
// (nil: nothing more).
func (k *carry) finish(computed []cachedRule) {
	if k == nil || computed == nil {
		return
	}
	k.owner.values.Put(k.key, carried{values: computed, refreshes: k.prior.refreshes + 1}, nil)
}
