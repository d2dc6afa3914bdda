package policy

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// maxExplanation caps an explanation: past a screenful a policy author
// learns nothing more, and a pathological policy must not make it unbounded.
const maxExplanation = 100

// Explain answers in as Evaluate does, with the same revision and the same
// fail-closed checks, and also says why: one line per rule head or
// expression that held on the path to the answer, in evaluation order, as
// "<file>:<line>: <source text>", at most maxExplanation lines. Message
// building, the Clerk library's internals and comprehension internals are
// left out. It records the evaluation's trace, so it is slower than
// Evaluate and meant for people, not for every request; it changes no
// state of the Engine.
func (e *Engine) Explain(ctx context.Context, in authz.Input) (authz.Outcome, []string, string, error) {
	rev := e.current.Load()
	input, err := inputValue(in)
	if err != nil {
		return authz.Outcome{}, nil, rev.name, fmt.Errorf("build policy input: %w", err)
	}
	t := newTrace()
	rs, err := rev.decision.Eval(ctx, rego.EvalParsedInput(input), rego.EvalMetrics(noMetrics),
		rego.EvalGenerateJSON(keepAST), rego.EvalQueryTracer(t))
	if err != nil {
		return authz.Outcome{}, nil, rev.name, fmt.Errorf("evaluate %s: %w", DecisionQuery, err)
	}
	out, err := outcome(rs)
	out.Deterministic = rev.deterministic
	return out, t.explain(e.dir), rev.name, err
}

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

// explain walks the decision's successful body and every body it used.
func (t *trace) explain(dir string) []string {
	x := &explainer{trace: t, dir: dir, seen: map[*body]bool{}, printed: map[string]bool{}, texts: map[string]bool{}}
	if t.result != nil {
		x.walk(t.result)
	}
	return x.lines
}

// explainer turns the bodies a decision used into lines.
type explainer struct {
	*trace
	dir     string
	seen    map[*body]bool
	printed map[string]bool
	texts   map[string]bool // source text -> builds a message
	lines   []string
}

func (x *explainer) walk(b *body) {
	if x.seen[b] || len(x.lines) >= maxExplanation || x.omitted(b) {
		return
	}
	x.seen[b] = true
	if b.rule != nil {
		x.add(b.rule.Head.Location)
	}
	// The compiler moves a nested call or a reference in a rule's head into
	// an expression of its own, placed before its consumer: what that one
	// used is told after the line that consumes it, as the source reads.
	var pending []*body
	for _, s := range b.steps {
		uses := x.uses(s)
		if s.expr.Generated {
			pending = append(pending, uses...)
			continue
		}
		switch {
		case x.buildsMessage(s.expr.Location):
			// Drop what only fed the message, too.
		case x.shown(s, uses):
			x.add(s.expr.Location)
			fallthrough
		default:
			x.walkAll(pending)
			x.walkAll(uses)
		}
		pending = nil
	}
	x.walkAll(pending)
}

func (x *explainer) walkAll(bodies []*body) {
	for _, b := range bodies {
		x.walk(b)
	}
}

// uses are the bodies an expression used: those evaluated under it and,
// for a reference whose value OPA took from its cache, those that computed
// the value earlier, found by the path of the document.
func (x *explainer) uses(s step) []*body {
	out := slices.Clip(s.uses) // appending must not write into the trace
	for _, ref := range dataRefs(s.expr) {
		if anyMatch(s.uses, ref) {
			continue
		}
		for _, b := range x.done {
			if refsMatch(ref, b.path) {
				out = append(out, b)
			}
		}
	}
	return out
}

// omitted bodies say nothing a policy author needs: the Clerk library's
// internals (its entry call stays, in its caller), rules that build a
// message, functions that only shape their arguments into a value, and the
// built-in layer's private functions, which check the shape of what a
// team wrote (the line calling them stays).
func (x *explainer) omitted(b *body) bool {
	if b.rule == nil {
		return false
	}
	pkg := b.rule.Module.Package.Path.String()
	function := len(b.rule.Head.Args) > 0
	switch {
	case pkg == clerkPackage || strings.HasPrefix(pkg, clerkPackage+"."):
		return true
	case function && allGenerated(b.steps):
		return true
	case function && builtinFile(b.rule.Location) && strings.HasPrefix(b.rule.Head.Ref()[0].String(), "_"):
		return true
	}
	return x.messageRule(b)
}

// messageRule is whether a rule only builds a message: its value is a
// sprintf or concat, or a variable its body builds so.
func (x *explainer) messageRule(b *body) bool {
	return b.rule != nil && (x.buildsMessage(b.rule.Head.Location) || x.returnsMessage(b))
}

// returnsMessage is whether a rule's value is a variable its body builds
// as a message: "f(x) := msg if { ...; msg := sprintf(...) }".
func (x *explainer) returnsMessage(b *body) bool {
	if b.rule.Head.Value == nil {
		return false
	}
	v, ok := b.rule.Head.Value.Value.(ast.Var)
	if !ok {
		return false
	}
	for _, s := range b.steps {
		if !s.expr.Generated && s.expr.IsEquality() && s.expr.Operand(0).Value.Compare(v) == 0 {
			return x.buildsMessage(s.expr.Location)
		}
	}
	return false
}

func builtinFile(loc *ast.Location) bool {
	return loc != nil && strings.HasPrefix(loc.File, builtinPrefix)
}

// shown is whether an expression written in the source is worth a line:
// an assignment from rules that only build messages is not.
func (x *explainer) shown(s step, uses []*body) bool {
	// The compiler has turned := into =.
	if len(uses) == 0 || !s.expr.IsEquality() {
		return true
	}
	for _, u := range uses {
		if !x.messageRule(u) {
			return true
		}
	}
	return false // msg := a rule that builds the message
}

// buildsMessage is whether loc's text assigns a sprintf or concat result
// to a variable or a rule: "msg := sprintf(...)", "else := concat(...)".
func (x *explainer) buildsMessage(loc *ast.Location) bool {
	if loc == nil {
		return false
	}
	text := string(loc.Text)
	if v, ok := x.texts[text]; ok {
		return v
	}
	v := isMessageAssignment(text)
	x.texts[text] = v
	return v
}

func isMessageAssignment(text string) bool {
	if rest, ok := strings.CutPrefix(text, "else "); ok {
		text = "v " + rest // an else head names no rule; any variable parses
	}
	parsed, err := ast.ParseBodyWithOpts(text, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil || len(parsed) != 1 {
		return false
	}
	e := parsed[0]
	if !e.IsAssignment() && !e.IsEquality() {
		return false
	}
	if _, ok := e.Operand(0).Value.(ast.Var); !ok {
		return false
	}
	call, ok := e.Operand(1).Value.(ast.Call)
	if !ok {
		return false
	}
	switch call[0].String() {
	case "sprintf", "concat":
		return true
	}
	return false
}

// add appends loc's line once, its file named as the operator knows it.
func (x *explainer) add(loc *ast.Location) {
	if loc == nil || loc.File == "" || len(loc.Text) == 0 || len(x.lines) >= maxExplanation {
		return
	}
	file := loc.File
	if x.dir != "" && !builtinFile(loc) {
		file = path.Join(x.dir, file)
	}
	line := fmt.Sprintf("%s:%d: %s", file, loc.Row, oneLine(string(loc.Text)))
	if !x.printed[line] {
		x.printed[line] = true
		x.lines = append(x.lines, line)
	}
}

// oneLine joins the lines of a multi-line expression or head. A line break
// inside brackets, after a comma or an operator only continues the line;
// elsewhere (in a comprehension or every body) it separated expressions,
// which one line separates with "; ".
func oneLine(text string) string {
	var b strings.Builder
	prev := ""
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if prev != "" {
			b.WriteString(lineJoin(prev, l))
		}
		b.WriteString(l)
		prev = l
	}
	return b.String()
}

func lineJoin(prev, next string) string {
	last, first := prev[len(prev)-1], next[0]
	switch {
	case strings.IndexByte("([", last) >= 0, strings.IndexByte(")]", first) >= 0:
		return ""
	case strings.IndexByte("{,|+-*/=<>&", last) >= 0, first == '}':
		return " "
	}
	return "; "
}

// clerkPackage is the built-in Clerk library, whose internals an
// explanation leaves out.
const clerkPackage = "data.verdict.clerk"

func allGenerated(steps []step) bool {
	for _, s := range steps {
		if !s.expr.Generated {
			return false
		}
	}
	return true
}

// dataRefs are the references to documents under data in an expression,
// leaving out comprehension bodies and an every's body: their internals
// are not part of the explanation.
func dataRefs(expr *ast.Expr) []ast.Ref {
	var refs []ast.Ref
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(v any) bool {
		switch v := v.(type) {
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			return true
		case *ast.Every:
			vis.Walk(v.Domain)
			return true
		case ast.Ref:
			if v.HasPrefix(ast.DefaultRootRef) {
				refs = append(refs, v)
			}
		}
		return false
	})
	vis.Walk(expr)
	return refs
}

func anyMatch(bodies []*body, ref ast.Ref) bool {
	for _, b := range bodies {
		if refsMatch(ref, b.path) {
			return true
		}
	}
	return false
}

// refsMatch is whether a reference and a rule's document path can name the
// same document: one is a prefix of the other, variables matching any key.
func refsMatch(ref, rule ast.Ref) bool {
	n := min(len(ref), len(rule))
	for i := range n {
		a, b := ref[i], rule[i]
		if a.IsGround() && b.IsGround() && !a.Equal(b) {
			return false
		}
	}
	return n > 0
}
