package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/verdict-pdp/verdict/internal/policy"
)

// errInvalidPolicies is returned by `verdict validate` when the policies
// would be refused.
var errInvalidPolicies = errors.New("the policies would be refused")

// runValidate implements `verdict validate`: every check `serve` makes when
// it loads policies (compile, strict checks, references, catalog), every
// problem listed with file and line. Exit 0 when the set would serve, 1 when
// it would be refused, 2 on usage errors.
func runValidate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var dir string
	fs := flagSet("validate", stdout)
	fs.StringVar(&dir, "policies", defaultPolicies, "directory of .rego and data files to check")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	return validatePolicies(ctx, dir, stdout)
}

// validatePolicies prints what is wrong with the policies in dir and
// returns errInvalidPolicies, or prints that they would serve.
func validatePolicies(ctx context.Context, dir string, stdout io.Writer) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--policies %s: not a readable directory", dir)
	}
	err := policy.Validate(ctx, policy.Dir(dir), dir)
	var ce *policy.CompileError
	switch {
	case errors.As(err, &ce):
		printProblems(stdout, dir, ce)
		return errInvalidPolicies
	case err != nil:
		return fmt.Errorf("validate %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "%s: the policies would serve\n", dir)
	return nil
}

func printProblems(w io.Writer, dir string, ce *policy.CompileError) {
	for _, p := range ce.Problems {
		fmt.Fprintln(w, p.String())
	}
	fmt.Fprintf(w, "%s: %d problem(s); the policies would be refused\n", dir, len(ce.Problems))
}
