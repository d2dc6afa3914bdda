package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

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
	if err := checkBundleDataNames(dir); err != nil {
		return err
	}
	if err := bundle.WriteLibrary(dir, policy.Library()); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "wrote Verdict's built-in library to %s\n", filepath.Join(dir, bundle.LibraryDir))
	return err
}

// checkBundleDataNames refuses a directory whose data files opa build
// would leave out of a bundle: it packs only data.json and data.yaml (or
// .yml), where Verdict loads every .json and .yaml file of a directory. A
// team rule reading a file left out would quietly stop denying.
func checkBundleDataNames(dir string) error {
	var lost []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p != dir && strings.HasPrefix(d.Name(), "."):
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		case d.IsDir():
			return nil
		}
		switch filepath.Ext(d.Name()) {
		case ".json", ".yaml", ".yml":
			if name := strings.TrimSuffix(d.Name(), filepath.Ext(d.Name())); name != "data" {
				lost = append(lost, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("opa build packs only data.json and data.yaml files, and would leave out %s: merge each into the data.json (or data.yaml) of its directory", strings.Join(lost, ", "))
	}
	return nil
}
