package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// maxTraceEvents caps the trace of one explained evaluation, so that its
// memory and the walk over it stay bounded whatever the input holds. A
// decision of the shipped policies takes a few hundred events; a team rule
// over a list in the request takes about ten per member.
const maxTraceEvents = 20_000

// Once the trace is full, it still enters up to maxOutline queries at most
// outlineDepth deep (the decision's rules and the rules they name, the
// outline of the answer), so that the explanation keeps its first lines.
const (
	outlineDepth = 2
	maxOutline   = 1_000
)

// trace is a topdown.QueryTracer that keeps, for every rule body that
// succeeded, the expressions that made it succeed and, under each, the rule
// bodies it used. OPA reports a query's expressions as Eval events and a
// body's success as an Exit event; on backtracking, a later Eval of the
// same query replaces the earlier ones from that expression on, so the
// expressions live at an Exit are exactly the successful path.
//
// Past maxTraceEvents events it records less (see full) and says so in
// truncated.
type trace struct {
	queries   map[uint64]*query // the queries that can still report events
	top       uint64            // the decision query
	started   bool
	result    *body   // the decision query's successful body
	done      []*body // every rule body that succeeded, in exit order
	events    int     // Enter, Eval and Exit events seen
	outline   int     // queries entered once full
	truncated bool    // some were not recorded
}

// query is one body being evaluated: a rule's, the decision query's, or
// the body of a negation or comprehension.
type query struct {
	parent   uint64
	depth    int       // 0 for the decision query
	rule     *ast.Rule // nil when not a rule body
	negation bool
	steps    []step
	children []child // in the order entered, so by step too
	// exitedFull is whether the query succeeded once the trace was full.
	exitedFull bool
}

// child is a query entered while its parent evaluated steps[step].
type child struct {
	id   uint64
	step int
}

// step is one expression of a query and the rule bodies that succeeded
// while it was evaluated.
type step struct {
	expr *ast.Expr
	uses uses
}

// uses are the rule bodies that succeeded under one evaluation of an
// expression: the first n of a list that the live step appends to and
// every copy of the step shares, so that copying is cheap and the
// explanation walks a list once, however many bodies hold a copy.
type uses struct {
	list *bodyList // nil when none
	n    int
}

type bodyList struct{ bodies []*body }

// add appends b; only the live step, the list's owner, adds.
func (u *uses) add(b *body) {
	if u.list == nil {
		u.list = &bodyList{}
	}
	u.list.bodies = append(u.list.bodies, b)
	u.n = len(u.list.bodies)
}

// body is a rule body that succeeded: the rule, the document it defines,
// its successful path, and its place in exit order.
type body struct {
	rule  *ast.Rule
	path  ast.Ref
	steps []step
	seq   int
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
	default:
		return
	}
	t.events++
}

// full is whether the trace has recorded maxTraceEvents events. From then
// on it enters only the outline (see maxOutline), and records at most one
// more success of each query it holds: thanks to forget, the queries
// being evaluated, which enclose the point where recording stopped.
func (t *trace) full() bool { return t.events >= maxTraceEvents }

func (t *trace) enter(ev topdown.Event) {
	parent := t.queries[ev.ParentID]
	q := &query{parent: ev.ParentID}
	if parent != nil {
		q.depth = parent.depth + 1
	}
	if t.full() {
		if parent == nil || q.depth > outlineDepth || t.outline == maxOutline {
			t.truncated = true
			return
		}
		t.outline++
	}
	q.rule, _ = ev.Node.(*ast.Rule)
	if !t.started {
		t.top, t.started = ev.QueryID, true
	} else if parent != nil {
		parent.children = append(parent.children, child{id: ev.QueryID, step: len(parent.steps) - 1})
		if _, ok := ev.Node.(ast.Body); ok {
			// A negation's body fails when the negation holds; what it used
			// on the way (a rule whose value was false) is what the
			// negation used.
			s := t.current(ev.ParentID)
			q.negation = s != nil && s.expr.Negated
		}
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
	t.forget(q, i)
	q.steps = append(q.steps[:i], step{expr: x})
}

// forget drops the queries entered under q's steps from i on: the query
// evaluates steps[i] anew, so their evaluation is over, whether they
// succeeded (their bodies are kept in done and in uses) or failed.
func (t *trace) forget(q *query, i int) {
	n := len(q.children)
	for n > 0 && q.children[n-1].step >= i {
		n--
		t.drop(q.children[n].id)
	}
	clear(q.children[n:])
	q.children = q.children[:n]
}

func (t *trace) drop(id uint64) {
	q := t.queries[id]
	if q == nil {
		return
	}
	delete(t.queries, id)
	for _, c := range q.children {
		t.drop(c.id)
	}
}

func (t *trace) exit(ev topdown.Event) {
	q := t.queries[ev.QueryID]
	switch {
	case q == nil:
		return
	case t.full() && q.exitedFull:
		t.truncated = true
		return
	case t.full():
		q.exitedFull = true
	}
	b := &body{rule: q.rule, steps: copySteps(q.steps)}
	switch {
	case ev.QueryID == t.top && q.rule == nil:
		t.result = b
	case q.rule != nil && q.rule.Module != nil:
		b.path = q.rule.Ref().GroundPrefix()
		b.seq = len(t.done)
		t.done = append(t.done, b)
		if s := t.using(ev.ParentID); s != nil {
			s.uses.add(b)
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
// rewrite them; each copy keeps the bodies its step has used so far.
func copySteps(steps []step) []step { return append([]step(nil), steps...) }
