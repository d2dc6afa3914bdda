package policy

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	Package string
	Name    string
	File    string
	Line    int
	Passed  bool
	Skipped bool
	// Error is set when the test could not be evaluated.
	Error string
	// Failure says why a test that evaluated did not pass: the expression
	// that failed, with its file, line and the values of its variables.
	Failure  string
	Duration time.Duration
}

// TestOptions tune RunTests.
type TestOptions struct {
	// BuiltinTests runs the built-in layer's own tests too.
	BuiltinTests bool
	// Coverage measures which lines of the policy files the tests reach.
	Coverage bool
}

// TestReport is what RunTests found.
type TestReport struct {
	Results []TestResult
	// Coverage is set when TestOptions.Coverage asked for it.
	Coverage *Coverage
}

// Coverage is the share of each policy file's lines that the tests reached.
// Only the directory's own policy files count: not its tests, not the
// built-in layer.
type Coverage struct {
	Files []FileCoverage // in file name order
	// Percent is over every line of every file: 100 when there are none.
	Percent float64
}

// FileCoverage is one policy file's coverage.
type FileCoverage struct {
	File       string
	Covered    int
	NotCovered int
	Percent    float64
}

// RunTests runs the _test.rego rules below the root of fsys against the
// policies there and Verdict's built-in layer, as `verdict test` does.
func RunTests(ctx context.Context, fsys fs.FS, opts TestOptions) (TestReport, error) {
	s, err := readSnapshot(fsys, true)
	if err != nil {
		return TestReport{}, err
	}
	if opts.BuiltinTests {
		tests, err := builtinSources(true)
		if err != nil {
			return TestReport{}, fmt.Errorf("read built-in library: %w", err)
		}
		for name, b := range tests {
			s.files[name] = b
			s.builtin[name] = true
		}
	}
	loaded, err := loader.NewFileLoader().WithFS(s.fs()).WithRegoVersion(ast.RegoV1).All([]string{"."})
	if err != nil {
		return TestReport{}, asCompileError(err, s)
	}
	store, err := loaded.Store()
	if err != nil {
		return TestReport{}, asCompileError(err, s)
	}
	modules := loaded.ParsedModules()
	// Test files may not declare the built-in layer's packages either: a
	// test would pass against rules serve never runs.
	if problems := moduleProblems(modules, s.builtin); len(problems) > 0 {
		return TestReport{}, &CompileError{Problems: problems}
	}
	runner := tester.NewRunner().
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		EnableTracing(true)
	var coverage *cover.Cover
	if opts.Coverage {
		coverage = cover.New()
		runner.SetCoverageQueryTracer(coverage)
	}
	ch, err := runner.Run(ctx, modules)
	if err != nil {
		return TestReport{}, asCompileError(err, s)
	}
	var report TestReport
	for r := range ch {
		report.Results = append(report.Results, testResult(r))
	}
	if coverage != nil {
		report.Coverage = coverageOf(coverage.Report(modules))
	}
	return report, nil
}

func testResult(r *tester.Result) TestResult {
	tr := TestResult{Package: r.Package, Name: r.Name, Passed: r.Pass(), Skipped: r.Skip, Duration: r.Duration}
	if r.Location != nil {
		tr.File, tr.Line = r.Location.File, r.Location.Row
	}
	if r.Error != nil {
		tr.Error = r.Error.Error()
	}
	if r.Fail {
		tr.Failure = failedExpression(r.Trace, tr.File)
	}
	return tr
}

// failedExpression names the last expression of the test's own file that
// failed, the one that ended the test, with the values its variables had:
// `tasks_test.rego:25: d.reason == "role" (d = {...})`.
func failedExpression(trace []*topdown.Event, file string) string {
	for i := len(trace) - 1; i >= 0; i-- {
		e := trace[i]
		expr, ok := e.Node.(*ast.Expr)
		if e.Op != topdown.FailOp || !ok || e.Location == nil || e.Location.File != file {
			continue
		}
		msg := fmt.Sprintf("%s:%d: %s", file, e.Location.Row, firstLine(string(e.Location.Text)))
		if values := boundValues(expr, e); values != "" {
			msg += " (" + values + ")"
		}
		return msg
	}
	return "the test's result was undefined or false"
}

// boundValues lists what the failed expression compared: each operand that
// is not a constant, with its value (`.reason = "missing_role"`), and the
// variables that were bound, by the names the test's author wrote.
func boundValues(expr *ast.Expr, e *topdown.Event) string {
	if e.Locals == nil {
		return ""
	}
	var parts []string
	seen := map[string]bool{}
	if expr.IsCall() {
		for _, op := range expr.Operands() {
			if v := resolve(op, e.Locals); v != nil && !ast.IsConstant(op.Value) && op.Location != nil {
				text := firstLine(string(op.Location.Text))
				seen[text] = true
				parts = append(parts, fmt.Sprintf("%s = %s", text, truncate(v.String(), 300)))
			}
		}
	}
	for _, v := range expr.Vars(ast.VarVisitorParams{}).Sorted() {
		name := string(v)
		if md, ok := e.LocalMetadata[v]; ok {
			name = string(md.Name)
		}
		value := e.Locals.Get(v)
		if value == nil || v.IsWildcard() || strings.HasPrefix(name, "__") || seen[name] {
			continue
		}
		seen[name] = true
		parts = append(parts, fmt.Sprintf("%s = %s", name, truncate(value.String(), 300)))
	}
	return strings.Join(parts, ", ")
}

// resolve is the value of a variable, or of a reference rooted at one, as
// bound when the expression failed; nil when it cannot tell.
func resolve(t *ast.Term, locals *ast.ValueMap) ast.Value {
	switch v := t.Value.(type) {
	case ast.Var:
		return locals.Get(v)
	case ast.Ref:
		head, ok := v[0].Value.(ast.Var)
		if !ok || !v[1:].IsGround() {
			return nil
		}
		base := locals.Get(head)
		if base == nil {
			return nil
		}
		found, err := base.Find(v[1:])
		if err != nil {
			return nil
		}
		return found
	}
	return nil
}

// coverageOf keeps the policy files of the directory: tests and the
// built-in layer are not what a team's coverage is about.
func coverageOf(r cover.Report) *Coverage {
	c := &Coverage{Percent: 100}
	var covered, total int
	for name, fr := range r.Files {
		if strings.HasPrefix(name, builtinPrefix) || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		c.Files = append(c.Files, FileCoverage{File: name, Covered: fr.CoveredLines, NotCovered: fr.NotCoveredLines, Percent: fr.Coverage})
		covered += fr.CoveredLines
		total += fr.CoveredLines + fr.NotCoveredLines
	}
	sort.Slice(c.Files, func(i, j int) bool { return c.Files[i].File < c.Files[j].File })
	if total > 0 {
		c.Percent = 100 * float64(covered) / float64(total)
	}
	return c
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
