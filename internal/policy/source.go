package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"testing/fstest"
)

// Dir is a policy directory on disk as a file system that never leaves it:
// a symlink is followed only to a file inside the directory (a Kubernetes
// ConfigMap mount links its files to a sibling directory), never to
// /etc/passwd or /dev/zero. The directory is looked up on every call, so a
// directory replaced while serving is read anew.
type Dir string

// Open opens name inside the directory.
func (d Dir) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	return os.OpenInRoot(string(d), name)
}

// Stat describes name, following symlinks inside the directory, without
// opening it (opening a FIFO would block).
func (d Dir) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.Stat(name)
}

// snapshot is the exact bytes of one policy set: every file the server
// compiles, keyed by slash-separated path relative to the policy root. The
// revision hash and the compiled policies both come from the same snapshot,
// so a revision name always describes what is being evaluated.
type snapshot struct {
	files map[string][]byte
	// builtin names the files of Verdict's built-in layer, by where they
	// came from (the binary), never by their names.
	builtin map[string]bool
}

// isPolicyFile reports whether a file belongs to the policy set. Tests
// (*_test.rego) are run by `verdict test` and go test, never served.
func isPolicyFile(name string, withTests bool) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, ".") {
		return false // editor swap files, .git and the like
	}
	switch path.Ext(base) {
	case ".rego":
		return withTests || !strings.HasSuffix(base, "_test.rego")
	case ".json", ".yaml", ".yml":
		return true
	}
	return false
}

// Limits on what a policy directory may hold: a policy set is text a team
// writes, and a file the size of a disk (or /dev/zero behind a symlink)
// must be refused, not read.
const (
	maxPolicyFileBytes = 8 << 20
	maxPolicySetBytes  = 64 << 20
)

// readSnapshot reads every policy and data file below the root of fsys, and
// adds the built-in layer, which is part of every policy set (and so of its
// revision). Only regular files are read (a FIFO would block the reader
// forever); the built-in layer's directory name is reserved, so no policy
// file can pass for part of it.
func readSnapshot(fsys fs.FS, withTests bool) (snapshot, error) {
	s := snapshot{files: map[string][]byte{}, builtin: map[string]bool{}}
	total := 0
	var refused []Problem
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == strings.TrimSuffix(builtinPrefix, "/") {
			refused = append(refused, Problem{File: name, Message: "the name is reserved for Verdict's built-in layer"})
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if name != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil // editor swap files, ..data links of a ConfigMap mount
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A link to a directory is not walked: its rules would quietly
			// never load, and a deny that never fires is an allow.
			if info, err := fs.Stat(fsys, name); err == nil && info.IsDir() {
				refused = append(refused, Problem{File: name, Message: "a symbolic link to a directory; Verdict reads files, and links to files, only"})
				return nil
			}
		}
		if !isPolicyFile(name, withTests) {
			return nil
		}
		b, err := readPolicyFile(fsys, name, d)
		var p *Problem
		if errors.As(err, &p) {
			refused = append(refused, *p)
			return nil
		}
		if err != nil {
			return err
		}
		if total += len(b); total > maxPolicySetBytes {
			return &CompileError{Problems: []Problem{{Message: fmt.Sprintf("the policy files are larger than %d bytes in all", maxPolicySetBytes)}}}
		}
		s.files[name] = b
		return nil
	})
	if err != nil {
		return snapshot{}, fmt.Errorf("read policies: %w", err)
	}
	if len(refused) > 0 {
		return snapshot{}, &CompileError{Problems: refused}
	}
	builtins, err := builtinSources(false)
	if err != nil {
		return snapshot{}, fmt.Errorf("read built-in library: %w", err)
	}
	for name, b := range builtins {
		s.files[name] = b
		s.builtin[name] = true
	}
	return s, nil
}

// readPolicyFile reads one file after checking, without opening it, that
// it is a regular file of a sane size; a symlink counts as its target, and
// must lead to a file inside the directory. What it refuses comes back as
// a *Problem.
func readPolicyFile(fsys fs.FS, name string, d fs.DirEntry) ([]byte, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil && d.Type()&fs.ModeSymlink != 0 {
		return nil, &Problem{File: name, Message: "a symbolic link that does not lead to a file inside the policy directory"}
	}
	if err != nil {
		return nil, err
	}
	tooLarge := &Problem{File: name, Message: fmt.Sprintf("larger than %d bytes", maxPolicyFileBytes)}
	switch {
	case !info.Mode().IsRegular():
		return nil, &Problem{File: name, Message: fmt.Sprintf("not a regular file (%s)", info.Mode().Type())}
	case info.Size() > maxPolicyFileBytes:
		return nil, tooLarge
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPolicyFileBytes+1))
	if err == nil && len(b) > maxPolicyFileBytes {
		return nil, tooLarge
	}
	return b, err
}

// dataProblems refuses data that would mount under data.verdict from a data
// file below the policy root: data.verdict (roles, the catalog, switches)
// is the shipped policies', in the root's own data files; a team
// directory named verdict/roles must not add a role that holds system
// permissions.
func (s snapshot) dataProblems() []Problem {
	var out []Problem
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		if ext := path.Ext(name); (ext == ".json" || ext == ".yaml" || ext == ".yml") && (name == "verdict" || strings.HasPrefix(name, "verdict/")) {
			out = append(out, Problem{File: name, Message: "data below data.verdict comes only from the policy root's data files; keep a team's data in a directory of its own (policies/acme/data.json is data.acme)"})
		}
	}
	return out
}

// revision returns a content hash of the snapshot: file names and bytes, in
// name order. Two replicas serving the same files report the same revision.
func (s snapshot) revision() string {
	names := make([]string, 0, len(s.files))
	for name := range s.files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(s.files[name]))
		h.Write(s.files[name])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// fs exposes the snapshot as a file system for OPA's loader.
func (s snapshot) fs() fs.FS {
	m := make(fstest.MapFS, len(s.files))
	for name, b := range s.files {
		m[name] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	return m
}

// catalogFile names the data file that holds the action catalog: the first,
// in name order, whose text has an "actions" key. "" when there is none.
func (s snapshot) catalogFile() string {
	var names []string
	for name := range s.files {
		if ext := path.Ext(name); ext == ".json" || ext == ".yaml" || ext == ".yml" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if bytes.Contains(s.files[name], []byte(`"actions"`)) || bytes.Contains(s.files[name], []byte("actions:")) {
			return name
		}
	}
	return ""
}
