package policy

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

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
