package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/tester"
)

// shippedPolicies is the repository's policies/ directory.
const shippedPolicies = "../../policies"

// TestRegoPolicies runs every _test.rego beside the shipped policies with
// OPA's own test runner, so `go test ./...` covers the Rego too.
func TestRegoPolicies(t *testing.T) {
	t.Parallel()
	modules, store, err := tester.LoadWithRegoVersion([]string{shippedPolicies}, nil, ast.RegoV1)
	if err != nil {
		t.Fatalf("load policies: %v", err)
	}
	ctx := context.Background()
	results, err := tester.NewRunner().
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		Run(ctx, modules)
	if err != nil {
		t.Fatalf("run Rego tests: %v", err)
	}
	n := 0
	for r := range results {
		n++
		if !r.Pass() {
			t.Errorf("%s: %s.%s failed: %v", r.Location, r.Package, r.Name, r.Error)
		}
	}
	if n < 20 {
		t.Errorf("ran %d Rego tests, want at least 20: were the _test.rego files found?", n)
	}
}

// TestRegoFormatted keeps the shipped Rego in `opa fmt` form.
func TestRegoFormatted(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(shippedPolicies, "*.rego"))
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
			t.Errorf("%s is not formatted; run `opa fmt -w %s`", f, f)
		}
	}
}

// TestEveryPolicyHasTests checks the house rule: a _test.rego beside each
// policy file.
func TestEveryPolicyHasTests(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(shippedPolicies, "*.rego"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		test := strings.TrimSuffix(f, ".rego") + "_test.rego"
		if _, err := os.Stat(test); err != nil {
			t.Errorf("%s has no tests beside it (%s)", f, filepath.Base(test))
		}
	}
}
