// Package bundle takes Verdict's policy set from an OPA bundle (a .tar.gz
// as `opa build` writes it) instead of a directory. It unpacks a bundle
// within hard limits, verifies OPA's .signatures.json when a key is
// configured, and exposes the policy files as an fs.FS that policy.Load
// reads with the meaning OPA gives the bundle. Its sources fetch bundles
// over HTTP (polling with ETags, keeping the last good bundle in a cache
// directory for a start without the server) or watch a local bundle file,
// and hand each new bundle to an activation callback.
//
// A bundle built by `opa build -b DIR` from a Verdict policy directory
// activates as that directory would; see WriteLibrary for the one step
// that build needs when team rules call Verdict's built-in library.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing/fstest"
)

// ErrLimit means a bundle exceeds one of its Limits.
var ErrLimit = errors.New("bundle exceeds a limit")

// Default limits. A policy set is text a team writes: the per-file and
// total limits are those of a policy directory (internal/policy), so a
// bundle can hold what a directory can, and no more.
const (
	DefaultMaxBundleBytes = 16 << 20
	DefaultMaxTotalBytes  = 64 << 20
	DefaultMaxFileBytes   = 8 << 20
	DefaultMaxFiles       = 10_000
)

// Limits bound what one bundle may cost, whatever it claims about itself
// (a gzip bomb, a tar header that lies about a size, a sparse file): the
// memory and work of reading a bundle are proportional to these numbers.
// A zero field takes its default.
type Limits struct {
	// MaxBundleBytes bounds the compressed bundle, as fetched or read.
	MaxBundleBytes int64
	// MaxTotalBytes bounds the uncompressed archive (tar headers
	// included) and, separately, the sum of its files' sizes.
	MaxTotalBytes int64
	// MaxFileBytes bounds one file.
	MaxFileBytes int64
	// MaxFiles bounds the archive's entries, directories included.
	MaxFiles int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBundleBytes <= 0 {
		l.MaxBundleBytes = DefaultMaxBundleBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// ReadOptions say how bundles are read.
type ReadOptions struct {
	Limits Limits
	// Key, when set (--bundle-verification-key), makes a valid
	// .signatures.json that covers every file mandatory. When nil,
	// signatures are not checked, and a .signatures.json is ignored.
	Key *VerificationKey
}

// Bundle is one verified bundle. It is immutable, so sources, the engine
// and the cache can share it.
type Bundle struct {
	files    map[string][]byte // what FS serves, by slash-separated path
	revision string
	digest   string
	raw      []byte
}

// FS returns the bundle's policy files for policy.Load: its .rego files
// and its data files (data.json, data.yaml, data.yml) at their paths in
// the bundle, so that a/b/data.json is data.a.b, as OPA places it. Files
// OPA ignores (any other .json, a README) are left out; so are the
// .manifest, the .signatures.json and the copy of Verdict's built-in
// library (LibraryDir). Each call returns a fresh view; none can change
// the bundle.
func (b *Bundle) FS() fs.FS {
	m := make(fstest.MapFS, len(b.files))
	for name, data := range b.files {
		// The bytes are shared: MapFS files are read through Open, which
		// copies them out, and readOnlyFS exposes nothing else.
		m[name] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return readOnlyFS{m}
}

// Revision is the revision in the bundle's .manifest, "" when it has none.
// It is the publisher's name for the bundle; Verdict's own policy revision
// stays the hash of the files it compiles.
func (b *Bundle) Revision() string { return b.revision }

// Digest is "sha256:" and the hex SHA-256 of the bundle's bytes: two
// fetches of the same bytes have the same digest.
func (b *Bundle) Digest() string { return b.digest }

// Bytes returns a copy of the bundle as it was read (compressed), for the
// cache.
func (b *Bundle) Bytes() []byte { return bytes.Clone(b.raw) }

// readOnlyFS hides MapFS's map (and so its file bytes) behind Open.
type readOnlyFS struct{ m fstest.MapFS }

func (f readOnlyFS) Open(name string) (fs.File, error) { return f.m.Open(name) }

// Read reads a whole bundle from r, refusing more than
// opts.Limits.MaxBundleBytes, and parses it like Parse.
func Read(r io.Reader, opts ReadOptions) (*Bundle, error) {
	raw, err := readLimited(r, opts.Limits.withDefaults().MaxBundleBytes)
	if err != nil {
		return nil, err
	}
	return parse(raw, digestOf(raw), opts)
}

// Parse unpacks, verifies and checks the bundle raw. Its errors say what
// was refused: ErrLimit (wrapped) for a bundle too large in any way, a
// *VerificationError when a key is configured and the signatures do not
// hold, and otherwise what is wrong with the archive or its contents.
func Parse(raw []byte, opts ReadOptions) (*Bundle, error) {
	raw = bytes.Clone(raw) // the Bundle keeps it
	return parse(raw, digestOf(raw), opts)
}

// parse is Parse on bytes the caller hands over, with their digest.
func parse(raw []byte, digest string, opts ReadOptions) (*Bundle, error) {
	limits := opts.Limits.withDefaults()
	if int64(len(raw)) > limits.MaxBundleBytes {
		return nil, fmt.Errorf("bundle is %d bytes, more than %d: %w", len(raw), limits.MaxBundleBytes, ErrLimit)
	}
	entries, err := unpack(raw, limits)
	if err != nil {
		return nil, err
	}
	if opts.Key != nil {
		if err := verify(entries, opts.Key); err != nil {
			return nil, err
		}
	}
	revision, err := checkWithOPA(entries, limits)
	if err != nil {
		return nil, err
	}
	files, err := policyFiles(entries)
	if err != nil {
		return nil, err
	}
	return &Bundle{files: files, revision: revision, digest: digest, raw: raw}, nil
}

// readLimited reads r to its end, refusing more than limit bytes with
// ErrLimit; any other error is r's.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("bundle is larger than %d bytes: %w", limit, ErrLimit)
	}
	return b, nil
}

func digestOf(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}
