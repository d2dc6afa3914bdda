package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/verdict-pdp/verdict/internal/bundle"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// runLib implements `verdict lib DIR`: it writes Verdict's built-in Rego
// library into DIR/.verdict-builtin, so that OPA's own tools compile the
// policy directory as Verdict does (`opa build -b DIR`, `opa test DIR`).
// Verdict itself never reads the copy: a directory skips it (it is hidden)
// and a bundle drops it once its signature is checked, so the library that
// serves is always the binary's.
func runLib(args []string, stdout io.Writer) error {
	fs := flagSet("lib", stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: verdict lib DIR\n\nWrites Verdict's built-in Rego library into DIR/%s, so that\n`opa build -b DIR` and `opa test DIR` compile the policies as Verdict does.\n", bundle.LibraryDir)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("verdict lib takes one argument: the policy directory")
	}
	dir := fs.Arg(0)
	if err := bundle.WriteLibrary(dir, policy.Library()); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "wrote Verdict's built-in library to %s\n", filepath.Join(dir, bundle.LibraryDir))
	return err
}
