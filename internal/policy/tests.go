package policy

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	Package  string
	Name     string
	File     string
	Line     int
	Passed   bool
	Skipped  bool
	Error    string // set when the test could not be evaluated
	Duration time.Duration
}

// RunTests runs the _test.rego rules below the root of fsys against the
// policies there and Verdict's built-in library, as `verdict test` does.
// With builtinTests, the built-in library's own tests run too.
func RunTests(ctx context.Context, fsys fs.FS, builtinTests bool) ([]TestResult, error) {
	s, err := readSnapshot(fsys, true)
	if err != nil {
		return nil, err
	}
	if builtinTests {
		tests, err := builtinSources(true)
		if err != nil {
			return nil, fmt.Errorf("read built-in library: %w", err)
		}
		for name, b := range tests {
			s.files[name] = b
		}
	}
	loaded, err := loader.NewFileLoader().WithFS(s.fs()).WithRegoVersion(ast.RegoV1).All([]string{"."})
	if err != nil {
		return nil, asCompileError(err, s)
	}
	store, err := loaded.Store()
	if err != nil {
		return nil, asCompileError(err, s)
	}
	ch, err := tester.NewRunner().
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		Run(ctx, loaded.ParsedModules())
	if err != nil {
		return nil, asCompileError(err, s)
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{
			Package: r.Package, Name: r.Name, Passed: r.Pass(), Skipped: r.Skip, Duration: r.Duration,
		}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		if r.Error != nil {
			tr.Error = r.Error.Error()
		}
		out = append(out, tr)
	}
	return out, nil
}
