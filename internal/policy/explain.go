package policy

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// maxExplanation caps an explanation: past a screenful a policy author
// learns nothing more, and a pathological policy must not make it unbounded.
const maxExplanation = 100

// checkEvery is how many bodies and expressions the walk over a trace goes
// through between two looks at its context.
const checkEvery = 1024

// Explain answers in as Evaluate does, with the same revision and the same
// fail-closed checks, and also says why: one line per rule head or
// expression that held on the path to the answer, in evaluation order, as
// "<file>:<line>: <source text>", at most maxExplanation lines. Message
// building, the Clerk library's internals and comprehension internals are
// left out. It records the evaluation's trace, so it is slower than
// Evaluate and meant for people, not for every request; it changes no
// state of the Engine.
//
// Of an evaluation of more than maxTraceEvents steps (a team rule looping
// over a long list in the request), only the first steps and the outline
// of the decision's own rules are recorded, so that the cost stays
// bounded; its explanation ends with one more line, not in the form
// above: "… explanation truncated: the evaluation took more than <n>
// steps". When ctx ends first, Explain returns ctx's error and no outcome.
func (e *Engine) Explain(ctx context.Context, in authz.Input) (authz.Outcome, []string, string, error) {
	rev := e.current.Load()
	_, _, input, err := decisionInput(in)
	if err != nil {
		return authz.Outcome{}, nil, rev.name, err
	}
	t := newTrace()
	v, err := e.eval(ctx, rev.decision, input, t, nil)
	if err != nil {
		return authz.Outcome{}, nil, rev.name, fmt.Errorf("evaluate %s: %w", DecisionQuery, err)
	}
	lines, err := t.explain(ctx, e.dir)
	if err != nil {
		return authz.Outcome{}, nil, rev.name, fmt.Errorf("explain %s: %w", DecisionQuery, err)
	}
	out, err := outcome(v)
	out.Deterministic = rev.deterministic
	return out, lines, rev.name, err
}

// explain walks the decision's successful body and every body it used.
func (t *trace) explain(ctx context.Context, dir string) ([]string, error) {
	x := newExplainer(ctx, t, dir)
	if t.result != nil {
		x.walk(t.result)
	}
	if x.err != nil {
		return nil, x.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t.truncated {
		x.lines = append(x.lines, fmt.Sprintf("… explanation truncated: the evaluation took more than %d steps", maxTraceEvents))
	}
	return x.lines, nil
}

func newExplainer(ctx context.Context, t *trace, dir string) *explainer {
	x := &explainer{
		trace:      t,
		ctx:        ctx,
		dir:        dir,
		seen:       map[*body]bool{},
		added:      map[*ast.Location]bool{},
		printed:    map[string]bool{},
		texts:      map[string]bool{},
		internals:  map[*ast.Rule]bool{},
		refs:       map[*ast.Expr][]ast.Ref{},
		byRule:     map[*ast.Rule][]*body{},
		named:      map[refAt]*bodyList{},
		firstNamed: map[listRef]int{},
		firstShown: map[*bodyList]int{},
		next:       map[*bodyList]int{},
	}
	for _, b := range t.done {
		if x.byRule[b.rule] == nil {
			x.rules = append(x.rules, b.rule)
		}
		x.byRule[b.rule] = append(x.byRule[b.rule], b)
	}
	return x
}

// explainer turns the bodies a decision used into lines. Its maps remember
// what it worked out once, so that the walk's cost follows the trace's
// size: a body many others used is walked once, a list of bodies that many
// copies of a step share is walked once, and the bodies a reference can
// name are looked up once.
type explainer struct {
	*trace
	ctx     context.Context
	dir     string
	seen    map[*body]bool         // walked, or left out
	added   map[*ast.Location]bool // a line was made of it
	printed map[string]bool
	texts   map[string]bool // source text -> builds a message
	lines   []string
	work    int
	err     error // ctx's, once it ended

	internals  map[*ast.Rule]bool      // internal, by rule
	refs       map[*ast.Expr][]ast.Ref // dataRefs of an expression
	rules      []*ast.Rule             // the rules in done, first exit first
	byRule     map[*ast.Rule][]*body   // done, by rule
	named      map[refAt]*bodyList     // the bodies in done a reference can name
	firstNamed map[listRef]int         // the first body in a list a reference can name
	firstShown map[*bodyList]int       // the first body in a list that is no messageRule
	next       map[*bodyList]int       // the bodies in a list before next were walked
}

// refAt is the i-th of dataRefs(expr).
type refAt struct {
	expr *ast.Expr
	i    int
}

type listRef struct {
	list *bodyList
	ref  refAt
}

// stopped is whether the walk is over: the explanation is full, or ctx
// ended.
func (x *explainer) stopped() bool {
	x.work++
	if x.work%checkEvery == 0 && x.err == nil {
		x.err = x.ctx.Err()
	}
	return x.err != nil || len(x.lines) >= maxExplanation
}

func (x *explainer) walk(b *body) {
	if x.seen[b] || x.stopped() {
		return
	}
	x.seen[b] = true
	if x.omitted(b) {
		return
	}
	if b.rule != nil {
		x.add(b.rule.Head.Location)
	}
	// The compiler moves a nested call or a reference in a rule's head into
	// an expression of its own, placed before its consumer: what that one
	// used is told after the line that consumes it, as the source reads.
	var pending []uses
	for _, s := range b.steps {
		if x.stopped() {
			return
		}
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

// walkAll walks each list's bodies in turn, resuming a list where an
// earlier walk of it stopped: the bodies before were walked already.
func (x *explainer) walkAll(lists []uses) {
	for _, u := range lists {
		if u.list == nil {
			continue
		}
		for i := x.next[u.list]; i < u.n && !x.stopped(); i = x.next[u.list] {
			x.next[u.list] = i + 1
			x.walk(u.list.bodies[i])
		}
	}
}

// uses are the bodies an expression used: those evaluated under it and,
// for a reference whose value OPA took from its cache, those that computed
// the value earlier, found by the path of the document.
func (x *explainer) uses(s step) []uses {
	out := []uses{s.uses}
	for i := range x.dataRefs(s.expr) {
		ref := refAt{s.expr, i}
		if x.firstNamedIn(s.uses.list, ref) < s.uses.n {
			continue
		}
		if l := x.namedBy(ref); len(l.bodies) > 0 {
			out = append(out, uses{list: l, n: len(l.bodies)})
		}
	}
	return out
}

func (x *explainer) dataRefs(expr *ast.Expr) []ast.Ref {
	refs, ok := x.refs[expr]
	if !ok {
		refs = dataRefs(expr)
		x.refs[expr] = refs
	}
	return refs
}

// firstNamedIn is the index of the first body in l that ref can name, or
// l's length.
func (x *explainer) firstNamedIn(l *bodyList, ref refAt) int {
	if l == nil {
		return 0
	}
	key := listRef{l, ref}
	if i, ok := x.firstNamed[key]; ok {
		return i
	}
	r := x.refs[ref.expr][ref.i]
	i := slices.IndexFunc(l.bodies, func(b *body) bool { return refsMatch(r, b.path) })
	if i < 0 {
		i = len(l.bodies)
	}
	x.firstNamed[key] = i
	return i
}

// namedBy are the bodies in done that ref can name, in exit order: those
// of the rules whose path matches it.
func (x *explainer) namedBy(ref refAt) *bodyList {
	if l, ok := x.named[ref]; ok {
		return l
	}
	r := x.refs[ref.expr][ref.i]
	l := &bodyList{}
	matched := 0
	for _, rule := range x.rules {
		bodies := x.byRule[rule]
		if refsMatch(r, bodies[0].path) {
			l.bodies = append(l.bodies, bodies...)
			matched++
		}
	}
	if matched > 1 {
		slices.SortFunc(l.bodies, func(a, b *body) int { return a.seq - b.seq })
	}
	x.named[ref] = l
	return l
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
	function := len(b.rule.Head.Args) > 0
	switch {
	case x.internal(b.rule):
		return true
	case function && allGenerated(b.steps):
		return true
	}
	return x.messageRule(b)
}

// internal is whether a rule is the Clerk library's or a private function
// of the built-in layer, once per rule.
func (x *explainer) internal(r *ast.Rule) bool {
	v, ok := x.internals[r]
	if !ok {
		pkg := r.Module.Package.Path.String()
		v = pkg == clerkPackage || strings.HasPrefix(pkg, clerkPackage+".") ||
			len(r.Head.Args) > 0 && builtinFile(r.Location) && strings.HasPrefix(r.Head.Ref()[0].String(), "_")
		x.internals[r] = v
	}
	return v
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
func (x *explainer) shown(s step, used []uses) bool {
	// The compiler has turned := into =.
	if !s.expr.IsEquality() {
		return true
	}
	none := true
	for _, u := range used {
		if u.n == 0 {
			continue
		}
		none = false
		if x.firstShownIn(u.list) < u.n {
			return true
		}
	}
	return none // else msg := a rule that builds the message
}

// firstShownIn is the index of the first body in l that is no messageRule,
// or l's length.
func (x *explainer) firstShownIn(l *bodyList) int {
	if i, ok := x.firstShown[l]; ok {
		return i
	}
	i := slices.IndexFunc(l.bodies, func(b *body) bool { return !x.messageRule(b) })
	if i < 0 {
		i = len(l.bodies)
	}
	x.firstShown[l] = i
	return i
}

// buildsMessage is whether loc's text assigns a sprintf or concat result
// to a variable or a rule: "msg := sprintf(...)", "else := concat(...)".
func (x *explainer) buildsMessage(loc *ast.Location) bool {
	if loc == nil {
		return false
	}
	if v, ok := x.texts[string(loc.Text)]; ok {
		return v
	}
	text := string(loc.Text)
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
	if loc == nil || loc.File == "" || len(loc.Text) == 0 || len(x.lines) >= maxExplanation || x.added[loc] {
		return
	}
	x.added[loc] = true
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
