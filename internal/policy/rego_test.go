package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/verdict-pdp/verdict/internal/policy"
)

// shippedPolicies is the repository's policies/ directory.
const shippedPolicies = "../../policies"

// builtinFixture is the data the built-in layer's own tests run against:
// a catalog of their own, so that they pin the layer's semantics whatever
// a team does to the shipped catalog.
const builtinFixture = "builtin/testdata"

// TestRegoPolicies runs every _test.rego with OPA's own test runner, so `go
// test ./...` covers the Rego too: the built-in layer's tests against their
// fixture, and the shipped policies' tests against the shipped policies.
func TestRegoPolicies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		dir      string
		builtins bool
		atLeast  int
	}{
		{builtinFixture, true, 150},
		{shippedPolicies, false, 10},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			report, err := policy.RunTests(context.Background(), os.DirFS(tt.dir), policy.TestOptions{BuiltinTests: tt.builtins})
			if err != nil {
				t.Fatalf("run Rego tests: %v", err)
			}
			results := report.Results
			for _, r := range results {
				if !r.Passed && !r.Skipped {
					t.Errorf("%s:%d: %s.%s failed: %s%s", r.File, r.Line, r.Package, r.Name, r.Error, r.Failure)
				}
			}
			if len(results) < tt.atLeast {
				t.Errorf("ran %d Rego tests, want at least %d: were the _test.rego files found?", len(results), tt.atLeast)
			}
		})
	}
}

// TestRegoFormatted keeps the shipped Rego in `verdict fmt` form (OPA's formatter).
func TestRegoFormatted(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(shippedPolicies, "*.rego"))
	builtins, _ := filepath.Glob("builtin/*.rego")
	files = append(files, builtins...)
	if err != nil || len(files) == 0 {
		t.Fatalf("no Rego files found: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := format.SourceWithOpts(f, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Errorf("format %s: %v", f, err)
			continue
		}
		if string(want) != string(src) {
			t.Errorf("%s is not formatted; run `verdict fmt -w %s`", f, f)
		}
	}
}

// TestEveryPolicyHasTests checks the house rule: a _test.rego beside each
// policy file.
func TestEveryPolicyHasTests(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(shippedPolicies, "*.rego"))
	builtins, _ := filepath.Glob("builtin/*.rego")
	for _, f := range append(files, builtins...) {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		test := strings.TrimSuffix(f, ".rego") + "_test.rego"
		if _, err := os.Stat(test); err != nil {
			t.Errorf("%s has no tests beside it (%s)", f, filepath.Base(test))
		}
	}
}
