package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// trace is a topdown.QueryTracer that keeps, for every rule body that
// succeeded, the expressions that made it succeed and, under each, the rule
// bodies it used. OPA reports a query's expressions as Eval events and a
// body's success as an Exit event; on backtracking, a later Eval of the
// same query replaces the earlier ones from that expression on, so the
// expressions live at an Exit are exactly the successful path.
type trace struct {
	queries map[uint64]*query
	top     uint64  // the decision query
	result  *body   // the decision query's successful body
	done    []*body // every rule body that succeeded, in exit order
}

// query is one body being evaluated: a rule's, the decision query's, or
// the body of a negation or comprehension.
type query struct {
	parent   uint64
	rule     *ast.Rule // nil when not a rule body
	negation bool
	steps    []step
}

// step is one expression of a query and the rule bodies that succeeded
// while it was evaluated.
type step struct {
	expr *ast.Expr
	uses []*body
}

// body is a rule body that succeeded: the rule, the document it defines,
// and its successful path.
type body struct {
	rule  *ast.Rule
	path  ast.Ref
	steps []step
}

func newTrace() *trace { return &trace{queries: map[uint64]*query{}} }

func (t *trace) Enabled() bool { return true }

// Config asks for no variable bindings: the explanation is source text, and
// plugging the locals into every event is costly.
func (t *trace) Config() topdown.TraceConfig { return topdown.TraceConfig{} }

func (t *trace) TraceEvent(ev topdown.Event) {
	switch ev.Op {
	case topdown.EnterOp:
		t.enter(ev)
	case topdown.EvalOp:
		t.eval(ev)
	case topdown.ExitOp:
		t.exit(ev)
	}
}

func (t *trace) enter(ev topdown.Event) {
	q := &query{parent: ev.ParentID}
	q.rule, _ = ev.Node.(*ast.Rule)
	if len(t.queries) == 0 {
		t.top = ev.QueryID
	} else if _, ok := ev.Node.(ast.Body); ok {
		// A negation's body fails when the negation holds; what it used on
		// the way (a rule whose value was false) is what the negation used.
		s := t.current(ev.ParentID)
		q.negation = s != nil && s.expr.Negated
	}
	t.queries[ev.QueryID] = q
}

func (t *trace) eval(ev topdown.Event) {
	x, ok := ev.Node.(*ast.Expr)
	q := t.queries[ev.QueryID]
	if !ok || q == nil {
		return
	}
	i := len(q.steps)
	for i > 0 && q.steps[i-1].expr.Index >= x.Index {
		i--
	}
	q.steps = append(q.steps[:i], step{expr: x})
}

func (t *trace) exit(ev topdown.Event) {
	q := t.queries[ev.QueryID]
	if q == nil {
		return
	}
	b := &body{rule: q.rule, steps: copySteps(q.steps)}
	switch {
	case ev.QueryID == t.top && q.rule == nil:
		t.result = b
	case q.rule != nil && q.rule.Module != nil:
		b.path = q.rule.Ref().GroundPrefix()
		t.done = append(t.done, b)
		if s := t.using(ev.ParentID); s != nil {
			s.uses = append(s.uses, b)
		}
	}
}

// current is the expression query id is evaluating.
func (t *trace) current(id uint64) *step {
	q := t.queries[id]
	if q == nil || len(q.steps) == 0 {
		return nil
	}
	return &q.steps[len(q.steps)-1]
}

// using is the expression that uses a body evaluated under query id: the
// one the query is evaluating, or for a negation's body, the negation.
func (t *trace) using(id uint64) *step {
	for q := t.queries[id]; q != nil && q.negation; q = t.queries[id] {
		id = q.parent
	}
	return t.current(id)
}

// copySteps copies steps so that later backtracking in the query does not
// rewrite them; each uses list is clipped so appends to the live one never
// show through.
func copySteps(steps []step) []step {
	out := make([]step, len(steps))
	for i, s := range steps {
		out[i] = step{expr: s.expr, uses: s.uses[:len(s.uses):len(s.uses)]}
	}
	return out
}
