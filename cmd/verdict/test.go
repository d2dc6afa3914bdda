package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/verdict-pdp/verdict/internal/policy"
)

// errTestsFailed is returned by `verdict test` when a Rego test fails, the
// directory does not validate, or coverage is below --coverage-min.
var errTestsFailed = errors.New("rego tests failed")

// runTest implements `verdict test`: the _test.rego files of a policy
// directory, run with Verdict's built-in layer, which a plain `opa test`
// would not have. A directory `serve` would refuse fails before any test
// runs: its tests would pass against policies that never serve.
func runTest(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var dir string
	var verbose, coverage bool
	var coverageMin float64
	fs := flagSet("test", stdout)
	fs.StringVar(&dir, "policies", defaultPolicies, "directory of .rego and data files with their _test.rego files")
	fs.BoolVar(&verbose, "v", false, "print every test, not only failures")
	fs.BoolVar(&coverage, "coverage", false, "print, per policy file, the share of its lines the tests reach")
	fs.Float64Var(&coverageMin, "coverage-min", 0, "fail when the total coverage is below this percentage (implies --coverage)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if coverageMin < 0 || coverageMin > 100 {
		return fmt.Errorf("--coverage-min must be between 0 and 100, got %v", coverageMin)
	}
	if err := validatePolicies(ctx, dir, stdout); err != nil {
		return err
	}
	report, err := policy.RunTests(ctx, policy.Dir(dir), policy.TestOptions{Coverage: coverage || coverageMin > 0})
	if err != nil {
		var ce *policy.CompileError
		if errors.As(err, &ce) {
			printProblems(stdout, dir, ce)
			return errTestsFailed
		}
		return fmt.Errorf("test policies in %s: %w", dir, err)
	}
	failed := printResults(stdout, report.Results, verbose)
	if c := report.Coverage; c != nil {
		printCoverage(stdout, c)
		if c.Percent < coverageMin {
			fmt.Fprintf(stdout, "coverage %.1f%% is below --coverage-min %.1f%%\n", c.Percent, coverageMin)
			failed = true
		}
	}
	if failed {
		return errTestsFailed
	}
	return nil
}

// printResults prints failures (and with verbose every test) with why each
// failed, then the counts. It reports whether any test failed.
func printResults(w io.Writer, results []policy.TestResult, verbose bool) bool {
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
			fmt.Fprintf(w, "%s %s:%d %s.%s (%s)\n", status, r.File, r.Line, r.Package, r.Name, r.Duration)
		}
		if status == "FAIL" {
			why := r.Failure
			if r.Error != "" {
				why = r.Error
			}
			fmt.Fprintf(w, "    %s\n", why)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return failed > 0
}

func printCoverage(w io.Writer, c *policy.Coverage) {
	if len(c.Files) == 0 {
		fmt.Fprintln(w, "coverage: no Rego policy files besides tests")
		return
	}
	for _, f := range c.Files {
		fmt.Fprintf(w, "coverage %5.1f%% %s (%d of %d lines)\n", f.Percent, f.File, f.Covered, f.Covered+f.NotCovered)
	}
	fmt.Fprintf(w, "coverage %5.1f%% total\n", c.Percent)
}
