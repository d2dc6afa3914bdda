package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/verdict-pdp/verdict/internal/policy"
)

// errTestsFailed is returned by `verdict test` when a Rego test fails.
var errTestsFailed = errors.New("rego tests failed")

// runTest implements `verdict test`: the _test.rego files of a policy
// directory, run with Verdict's built-in library (data.verdict.clerk), which
// a plain `opa test` would not have.
func runTest(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var dir string
	var verbose bool
	fs := flagSet("test", stdout)
	fs.StringVar(&dir, "policies", defaultPolicies, "directory of .rego and data files with their _test.rego files")
	fs.BoolVar(&verbose, "v", false, "print every test, not only failures")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	results, err := policy.RunTests(ctx, os.DirFS(dir), false)
	if err != nil {
		return fmt.Errorf("test policies in %s: %w", dir, err)
	}
	sort.Slice(results, func(i, j int) bool {
		a, b := results[i], results[j]
		return a.File < b.File || a.File == b.File && a.Line < b.Line
	})
	var passed, failed, skipped int
	for _, r := range results {
		status := "PASS"
		switch {
		case r.Skipped:
			status, skipped = "SKIP", skipped+1
		case r.Passed:
			passed++
		default:
			status, failed = "FAIL", failed+1
		}
		if verbose || status == "FAIL" {
			fmt.Fprintf(stdout, "%s %s:%d %s.%s (%s) %s\n", status, r.File, r.Line, r.Package, r.Name, r.Duration, r.Error)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		return errTestsFailed
	}
	return nil
}
