// Package callers says which services may call Verdict: named API keys,
// kept as SHA-256 hashes in a file that is re-read when it changes, so
// that keys rotate without a restart.
//
// The file has one caller per line, "NAME sha256:HEX", where HEX is the
// lowercase SHA-256 of the key; blank lines and lines starting with # are
// ignored. A key's hash, not the key, is what the file holds: reading it
// gives nobody a key.
package callers

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// MaxFileBytes bounds the keys file: some ten thousand callers.
const MaxFileBytes = 1 << 20

// Set is a parsed keys file; it never changes.
type Set struct {
	callers []caller
}

type caller struct {
	name string
	hash [sha256.Size]byte
}

// callerName is what a caller may be called: it labels a metric and the
// access log, so it is short and plain.
var callerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

const hashPrefix = "sha256:"

// Parse reads a keys file. Every problem is reported with its line; a name
// or a hash given twice is one (two callers sharing a key could not be told
// apart).
func Parse(r io.Reader) (*Set, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the API keys: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("the API keys file is larger than %d bytes", MaxFileBytes)
	}
	s := &Set{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	lines := bufio.NewScanner(bytes.NewReader(data))
	lines.Buffer(make([]byte, 0, 4096), MaxFileBytes)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first, dup := names[c.name]; dup {
			return nil, fmt.Errorf("line %d: caller %q is already named on line %d", n, c.name, first)
		}
		if first, dup := hashes[c.hash]; dup {
			return nil, fmt.Errorf("line %d: the key of %q is already the key of line %d", n, c.name, first)
		}
		names[c.name], hashes[c.hash] = n, n
		s.callers = append(s.callers, c)
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("read the API keys: %w", err)
	}
	return s, nil
}

func parseLine(line string) (caller, error) {
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return caller{}, fmt.Errorf("want NAME %sHEX, got %d fields", hashPrefix, len(fields))
	}
	name, hashed := fields[0], fields[1]
	if !callerName.MatchString(name) {
		return caller{}, fmt.Errorf("caller name %q: want letters, digits, '.', '_' or '-', at most 63", name)
	}
	digest, ok := strings.CutPrefix(hashed, hashPrefix)
	if !ok {
		return caller{}, fmt.Errorf("caller %q: want the key's hash as %sHEX, not the key itself", name, hashPrefix)
	}
	var c caller
	if len(digest) != hex.EncodedLen(sha256.Size) || strings.ToLower(digest) != digest {
		return caller{}, fmt.Errorf("caller %q: want %d lowercase hex digits after %s", name, hex.EncodedLen(sha256.Size), hashPrefix)
	}
	if _, err := hex.Decode(c.hash[:], []byte(digest)); err != nil {
		return caller{}, fmt.Errorf("caller %q: %w", name, err)
	}
	c.name = name
	return c, nil
}

// Len is how many callers the set names.
func (s *Set) Len() int { return len(s.callers) }

// Identify returns the name of the caller whose key this is. Every listed
// hash is compared, in constant time, whether or not one matched, so the
// time taken says nothing about the keys.
func (s *Set) Identify(key string) (name string, ok bool) {
	if key == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	for _, c := range s.callers {
		if subtle.ConstantTimeCompare(sum[:], c.hash[:]) == 1 {
			name, ok = c.name, true
		}
	}
	return name, ok
}

// HashKey returns the line's second field for key: what a keys file holds.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashPrefix + hex.EncodeToString(sum[:])
}
