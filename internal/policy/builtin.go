package policy

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// builtinFiles holds the Rego library Verdict compiles into every policy
// set: data.verdict.clerk, Clerk's has() over a principal. It is part of the
// binary rather than of the team's policies so that /v1/has always answers
// with Clerk's semantics, and team policies call the very same rules.
//
//go:embed builtin/*.rego
var builtinFiles embed.FS

// Library returns the built-in library's files at its root, tests
// included, for tools outside the binary (`verdict lib` writes them for
// `opa build` to compile a policy directory against).
func Library() fs.FS {
	lib, err := fs.Sub(builtinFiles, "builtin")
	if err != nil {
		panic(err) // "builtin" is a valid path, checked at compile time by go:embed
	}
	return lib
}

// builtinPrefix names built-in modules in errors and test reports.
const builtinPrefix = "verdict-builtin/"

// builtinSources returns the built-in library's files (tests included when
// withTests), keyed by their display name.
func builtinSources(withTests bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(builtinFiles, "builtin", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".rego" {
			return err
		}
		if !withTests && strings.HasSuffix(name, "_test.rego") {
			return nil
		}
		b, err := builtinFiles.ReadFile(name)
		if err != nil {
			return err
		}
		out[builtinPrefix+path.Base(name)] = b
		return nil
	})
	return out, err
}
