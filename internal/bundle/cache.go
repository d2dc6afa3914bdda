package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The cache's files. The bundle and what the server said about it are two
// files, and no rename replaces two at once: the metadata names the
// bundle's digest, and counts only for the bundle that has it.
const (
	cacheBundleFile = "bundle.tar.gz"
	cacheMetaFile   = "bundle.json"
	maxCacheMeta    = 64 << 10
)

// Cache keeps the last activated bundle in a directory
// (--bundle-cache-dir), so that a service can start from its last good
// policy set while the bundle server cannot be reached. Each file is
// replaced by a rename, so a crash leaves the previous bundle or the new
// one, never a mix. A Cache holds no state of its own; one directory
// belongs to one source.
type Cache struct {
	dir string
	// source names where the bundles come from (the URL, redacted): a
	// cache another source filled is not loaded, nor its ETag sent.
	source string
}

// cacheMeta is what the server said about the cached bundle.
type cacheMeta struct {
	Source string `json:"source"`
	ETag   string `json:"etag"`
	Digest string `json:"digest"`
}

// NewCache returns the cache in dir of the bundles from source, which
// Store creates when missing.
func NewCache(dir, source string) *Cache { return &Cache{dir: dir, source: source} }

// Store replaces the cached bundle with b, which the server sent with
// etag ("" for none).
func (c *Cache) Store(b *Bundle, etag string) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("cache bundle: %w", err)
	}
	if err := writeAtomic(c.dir, cacheBundleFile, b.raw); err != nil {
		return err
	}
	meta, err := json.Marshal(cacheMeta{Source: c.source, ETag: etag, Digest: b.Digest()})
	if err != nil {
		return fmt.Errorf("cache bundle: %w", err)
	}
	return writeAtomic(c.dir, cacheMetaFile, meta)
}

// Load reads and verifies the cached bundle with opts, as if it had just
// been fetched: a key configured since it was stored applies to it. It
// returns the bundle's ETag, "" when unknown, and an error wrapping
// fs.ErrNotExist when nothing is cached.
func (c *Cache) Load(opts ReadOptions) (*Bundle, string, error) {
	raw, err := readRegular(filepath.Join(c.dir, cacheBundleFile), opts.Limits.withDefaults().MaxBundleBytes)
	if err != nil {
		return nil, "", fmt.Errorf("cached bundle: %w", err)
	}
	b, err := parse(raw, digestOf(raw), opts)
	if err != nil {
		return nil, "", fmt.Errorf("cached bundle: %w", err)
	}
	var meta cacheMeta
	if m, err := readRegular(filepath.Join(c.dir, cacheMetaFile), maxCacheMeta); err == nil {
		// Unreadable metadata only costs a full download.
		_ = json.Unmarshal(m, &meta)
	}
	if meta.Source != "" && meta.Source != c.source {
		// A directory shared by two environments (or reused after a
		// change of URL): their signing keys may be the same.
		return nil, "", fmt.Errorf("cached bundle: from %s, not %s", meta.Source, c.source)
	}
	if meta.Digest != b.Digest() {
		return b, "", nil
	}
	return b, meta.ETag, nil
}

// readRegular reads the regular file name, at most limit bytes (ErrLimit
// beyond). It checks the file before opening it: opening a FIFO would
// block.
func readRegular(name string, limit int64) ([]byte, error) {
	info, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", name, info.Mode().Type())
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than %d: %w", name, info.Size(), limit, ErrLimit)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

// writeAtomic replaces dir/name with data: written to a temporary file in
// dir, synced, then renamed over the old one.
func writeAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return fmt.Errorf("cache bundle: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return fmt.Errorf("cache bundle: %w", err)
	}
	// The rename is durable once the directory is synced; a failure here
	// leaves the file in place, which is all a reader needs.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
