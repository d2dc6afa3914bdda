package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// maxPathBytes bounds one entry's name. Real bundle paths are short; the
// bound keeps the per-entry work of checking a path (its parents, its
// duplicates) small whatever a tar header holds.
const maxPathBytes = 1024

// entry is one regular file of a bundle archive, named by its path from
// the bundle root.
type entry struct {
	name string
	data []byte
}

// unpack reads the regular files of the gzip'd tar raw, in archive order,
// within l. Names are checked (relative, no "..", no duplicates, no file
// that is also a directory) so that no two entries can stand for the same
// file and every name is one fs.FS can serve.
func unpack(raw []byte, l Limits) ([]entry, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("bundle is not a gzip'd tar archive: %w", err)
	}
	stream := newCappedReader(zr, l.MaxTotalBytes)
	tr := tar.NewReader(stream)
	var (
		out   []entry
		tree  = newTree()
		total int64
	)
	for count := 0; ; count++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read bundle archive: %w", err)
		}
		if count == l.MaxFiles {
			return nil, fmt.Errorf("bundle has more than %d entries: %w", l.MaxFiles, ErrLimit)
		}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			continue // metadata for what follows (git archive writes one); no file
		case tar.TypeDir:
			name, err := cleanPath(h.Name, true)
			if err != nil {
				return nil, err
			}
			if err := tree.addDir(name); err != nil {
				return nil, err
			}
			continue
		case tar.TypeReg:
		default:
			// Links, devices and FIFOs: OPA skips them, and a bundle that
			// carries one was not written by OPA; refusing says so.
			return nil, fmt.Errorf("bundle entry %q is not a regular file or a directory (tar type %q)", h.Name, h.Typeflag)
		}
		name, err := cleanPath(h.Name, false)
		if err != nil {
			return nil, err
		}
		if err := tree.addFile(name); err != nil {
			return nil, err
		}
		data, err := readEntry(tr, h, name, l.MaxFileBytes)
		if err != nil {
			return nil, err
		}
		// Counted apart from the stream: a sparse file's holes cost memory
		// here but nothing in the archive.
		if total += int64(len(data)); total > l.MaxTotalBytes {
			return nil, fmt.Errorf("bundle files are larger than %d bytes in all: %w", l.MaxTotalBytes, ErrLimit)
		}
		out = append(out, entry{name: name, data: data})
	}
	// gzip checks its checksum only at the end of the stream: read to it,
	// so that a truncated or corrupted bundle is refused rather than taken
	// for a shorter one, and so is anything appended after it.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return nil, fmt.Errorf("read bundle archive: %w", err)
	}
	return out, nil
}

// readEntry reads the file h introduces, refusing more than limit bytes
// before reading any of them when the header says so, and while reading
// when it does not (a sparse file's size is not its archived size).
func readEntry(tr *tar.Reader, h *tar.Header, name string, limit int64) ([]byte, error) {
	tooLarge := fmt.Errorf("bundle file %s is larger than %d bytes: %w", name, limit, ErrLimit)
	if h.Size > limit {
		return nil, tooLarge
	}
	var buf bytes.Buffer
	buf.Grow(int(h.Size))
	if _, err := io.Copy(&buf, io.LimitReader(tr, limit+1)); err != nil {
		return nil, fmt.Errorf("read bundle file %s: %w", name, err)
	}
	if int64(buf.Len()) > limit {
		return nil, tooLarge
	}
	return buf.Bytes(), nil
}

// cleanPath turns an entry's name into a path from the bundle root. OPA
// writes "/data.json" and `tar -C dir .` writes "./data.json": both mean
// data.json. Anything else that is not a clean relative path (an element
// "..", "." or "", a backslash, a control character) is refused: such a
// name means different files to different readers. A directory may be the
// root itself, returned as ".".
func cleanPath(name string, dir bool) (string, error) {
	bad := func(why string) error { return fmt.Errorf("bundle entry %q is refused: %s", name, why) }
	if len(name) > maxPathBytes {
		return "", bad(fmt.Sprintf("a path longer than %d bytes", maxPathBytes))
	}
	p := name
	if rest, ok := strings.CutPrefix(p, "/"); ok {
		p = rest
	} else if rest, ok := strings.CutPrefix(p, "./"); ok {
		p = rest
	}
	if dir {
		p = strings.TrimSuffix(p, "/")
		if p == "" || p == "." {
			return ".", nil
		}
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "", bad("a control character or a backslash in its path")
	}
	if p == "." || !fs.ValidPath(p) {
		return "", bad("not a clean path inside the bundle (an absolute path, or an element \"..\", \".\" or empty)")
	}
	return p, nil
}

// tree records the names seen so far, to refuse duplicates and a name that
// is both a file and a directory.
type tree struct {
	files, dirs map[string]bool
}

func newTree() *tree { return &tree{files: map[string]bool{}, dirs: map[string]bool{}} }

func (t *tree) addFile(name string) error {
	switch {
	case t.files[name]:
		return fmt.Errorf("bundle entry %s appears twice", name)
	case t.dirs[name]:
		return fmt.Errorf("bundle entry %s is both a file and a directory", name)
	}
	t.files[name] = true
	return t.addParents(name)
}

func (t *tree) addDir(name string) error {
	if name == "." {
		return nil
	}
	if t.files[name] {
		return fmt.Errorf("bundle entry %s is both a file and a directory", name)
	}
	t.dirs[name] = true
	return t.addParents(name)
}

func (t *tree) addParents(name string) error {
	for i := strings.LastIndexByte(name, '/'); i > 0; i = strings.LastIndexByte(name[:i], '/') {
		parent := name[:i]
		if t.files[parent] {
			return fmt.Errorf("bundle entry %s is both a file and a directory", parent)
		}
		if t.dirs[parent] {
			return nil // and so are its own parents
		}
		t.dirs[parent] = true
	}
	return nil
}

// cappedReader reads at most left bytes of r; reading past them is an
// error wrapping ErrLimit, never a silently shortened stream.
type cappedReader struct {
	r           io.Reader
	limit, left int64
}

func newCappedReader(r io.Reader, limit int64) *cappedReader {
	return &cappedReader{r: r, limit: limit, left: limit}
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, c.exceeded()
	}
	// One byte past the limit is enough to know it was passed.
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n - 1, c.exceeded()
	}
	return n, err
}

func (c *cappedReader) exceeded() error {
	return fmt.Errorf("bundle archive is larger than %d bytes uncompressed: %w", c.limit, ErrLimit)
}
