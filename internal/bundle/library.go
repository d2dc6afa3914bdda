package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// LibraryDir is where WriteLibrary puts a copy of Verdict's built-in Rego
// library inside a policy directory.
//
// `opa build` compiles what it packs, and a team rule that calls the
// library (clerk.answer(...), catalog.destructive(...)) does not compile
// without it: OPA's type checker refuses "undefined function
// data.verdict.clerk.answer". With the copy in place, the documented build
// is
//
//	verdict lib policies                     # writes policies/.verdict-builtin/
//	opa build -b policies -o bundle.tar.gz [--signing-key key.pem --signing-alg RS256|ES256]
//
// and `opa test policies` runs the teams' tests with plain OPA too. The
// directory is hidden, so `verdict serve --policies policies` never reads
// it, and Read drops it from a bundle (after checking its signature like
// any other file's): the binary's own library is the one that serves,
// whatever copy a bundle carries.
const LibraryDir = ".verdict-builtin"

// inLibrary reports whether a bundle file is part of the library's copy.
// `opa build -b .` (the current directory) drops the leading dot of
// top-level names, so the copy then arrives as verdict-builtin/, a name a
// policy directory may not use itself.
func inLibrary(name string) bool {
	dir, _ := path.Split(name)
	elems := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	return elems[0] == strings.TrimPrefix(LibraryDir, ".") || slices.Contains(elems, LibraryDir)
}

// WriteLibrary writes the .rego files at the root of lib (Verdict's
// built-in library, tests left out) into dir/LibraryDir, replacing what is
// there, for `opa build` to compile against; see LibraryDir. The files are
// written in a fresh directory that then takes the old one's place, so a
// build never sees half a library.
func WriteLibrary(dir string, lib fs.FS) error {
	entries, err := fs.ReadDir(lib, ".")
	if err != nil {
		return fmt.Errorf("read built-in library: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, LibraryDir+".tmp-")
	if err != nil {
		return fmt.Errorf("write built-in library: %w", err)
	}
	defer os.RemoveAll(tmp) // gone once renamed; a leftover after a failure
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || path.Ext(name) != ".rego" || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(lib, name)
		if err != nil {
			return fmt.Errorf("read built-in library: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return fmt.Errorf("write built-in library: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write built-in library: %w", err)
	}
	final := filepath.Join(dir, LibraryDir)
	if err := os.RemoveAll(final); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace built-in library: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("replace built-in library: %w", err)
	}
	return nil
}
