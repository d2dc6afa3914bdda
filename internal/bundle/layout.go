package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/loader/filter"
)

// checkWithOPA reads the unpacked files with OPA's own bundle reader, so
// that a bundle OPA would refuse (a module that does not parse, data that
// does not merge, a manifest whose roots do not hold its packages) is
// refused here too, and refuses what OPA would serve in a way Verdict
// cannot: delta bundles, Wasm and plan bundles, Rego v0. It returns the
// manifest's revision. Signatures were checked by verify; the reader skips
// them.
func checkWithOPA(entries []entry, l Limits) (string, error) {
	b, err := opabundle.NewCustomReader(&archiveLoader{entries: entries}).
		WithSkipBundleVerification(true).
		WithRegoVersion(ast.RegoV1).
		WithLazyLoadingMode(false).
		WithSizeLimitBytes(l.MaxFileBytes).
		Read()
	if err != nil {
		return "", fmt.Errorf("bundle refused: %w", err)
	}
	switch {
	case b.Type() == opabundle.DeltaBundleType:
		return "", errors.New("bundle refused: a delta bundle (patch.json); Verdict takes whole policy sets only")
	case len(b.WasmModules) > 0 || len(b.Wasm) > 0 || len(b.PlanModules) > 0:
		return "", errors.New("bundle refused: it holds Wasm or plan modules, which Verdict does not evaluate")
	}
	for _, m := range b.Modules {
		name := strings.TrimPrefix(m.RelativePath, "/")
		if inLibrary(name) {
			continue
		}
		// Verdict parses every policy as Rego v1; a module OPA would
		// read as v0 would mean something else, or not parse.
		v, err := b.RegoVersionForFile(m.RelativePath, ast.RegoV1)
		if err != nil {
			return "", fmt.Errorf("bundle refused: %s: %w", name, err)
		}
		if v != ast.RegoV1 {
			return "", fmt.Errorf("bundle refused: %s is Rego %v by the bundle's .manifest; Verdict compiles Rego v1 only", name, v)
		}
	}
	return b.Manifest.Revision, nil
}

// policyFiles picks the files Verdict loads out of a bundle: exactly the
// files OPA's reader takes as policy (any .rego) or data (data.json,
// data.yaml, data.yml), at their paths. Verdict's loader reads any .json
// or .yaml as data, OPA's bundle reader only those names, so the others
// are left out. A policy or data file that Verdict's loader would skip
// (a hidden file, or one in a hidden directory) but OPA would load is
// refused, as the two would disagree; the copy of the built-in library is
// dropped, as the binary's own always serves.
func policyFiles(entries []entry) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, e := range entries {
		if !isPolicyOrData(e.name) || inLibrary(e.name) {
			continue
		}
		if hidden(e.name) {
			return nil, fmt.Errorf("bundle refused: %s is hidden (a name that starts with a dot); OPA would load it, a Verdict policy directory never does", e.name)
		}
		files[e.name] = e.data
	}
	return files, nil
}

// isPolicyOrData follows OPA's bundle reader: a name ending in .rego is a
// module; a data file is named data.json, data.yaml or data.yml. The
// reader tests the signatures file first, by its name.
func isPolicyOrData(name string) bool {
	base := path.Base(name)
	switch {
	case base == signaturesFile:
		return false
	case strings.HasSuffix(name, ".rego"):
		return true
	}
	return base == "data.json" || opabundle.IsYAMLDataFile(name)
}

// hidden reports whether any element of name starts with a dot: Verdict's
// directory reader skips those files and directories.
func hidden(name string) bool {
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, ".") {
			return true
		}
	}
	return false
}

// archiveLoader hands OPA's bundle reader the files unpack already read
// and checked, so OPA parses exactly the bytes Verdict serves and the
// archive is decompressed once, within Verdict's limits.
type archiveLoader struct {
	entries []entry
	next    int
}

// NextFile returns the next file, named as OPA's writer names it.
func (l *archiveLoader) NextFile() (*opabundle.Descriptor, error) {
	if l.next == len(l.entries) {
		return nil, io.EOF
	}
	e := l.entries[l.next]
	l.next++
	name := "/" + e.name
	return opabundle.NewDescriptor(name, name, bytes.NewBuffer(e.data)), nil
}

// The options below concern reading from disk or a tarball; unpack has
// already chosen and bounded the files, so they change nothing.

func (l *archiveLoader) WithFilter(filter.LoaderFilter) opabundle.DirectoryLoader { return l }

func (l *archiveLoader) WithPathFormat(opabundle.PathFormat) opabundle.DirectoryLoader { return l }

func (l *archiveLoader) WithSizeLimitBytes(int64) opabundle.DirectoryLoader { return l }

func (l *archiveLoader) WithFollowSymlinks(bool) opabundle.DirectoryLoader { return l }

var _ opabundle.DirectoryLoader = (*archiveLoader)(nil)
