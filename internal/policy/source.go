package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing/fstest"
)

// snapshot is the exact bytes of one policy set: every file the server
// compiles, keyed by slash-separated path relative to the policy root. The
// revision hash and the compiled policies both come from the same snapshot,
// so a revision name always describes what is being evaluated.
type snapshot struct {
	files map[string][]byte
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

// readSnapshot reads every policy and data file below the root of fsys, and
// adds the built-in library, which is part of every policy set (and so of
// its revision).
func readSnapshot(fsys fs.FS, withTests bool) (snapshot, error) {
	s := snapshot{files: map[string][]byte{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !isPolicyFile(name, withTests) {
			return nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		s.files[name] = b
		return nil
	})
	if err != nil {
		return snapshot{}, fmt.Errorf("read policies: %w", err)
	}
	builtins, err := builtinSources(false)
	if err != nil {
		return snapshot{}, fmt.Errorf("read built-in library: %w", err)
	}
	for name, b := range builtins {
		if _, taken := s.files[name]; taken {
			return snapshot{}, fmt.Errorf("read policies: %s is reserved for Verdict's built-in library", name)
		}
		s.files[name] = b
	}
	return s, nil
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
