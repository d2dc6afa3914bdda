// Package jsonpointer parses JSON pointers (RFC 6901) and removes what
// they name from decoded JSON: the decision log's masking, whose pointers
// the policies give and the policy loader checks.
package jsonpointer

import (
	"fmt"
	"strconv"
	"strings"
)

// Pointer is a parsed JSON pointer (RFC 6901): the reference tokens of
// "/resource/attributes/ssn", unescaped ("~1" is "/", "~0" is "~").
type Pointer []string

// Parse parses s. The empty pointer ("") names the whole document, which
// is refused: masking a whole entry away leaves no entry.
func Parse(s string) (Pointer, error) {
	if s == "" {
		return nil, fmt.Errorf("%q: the empty pointer names the whole entry; name a field of it", s)
	}
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q: a JSON pointer starts with \"/\"", s)
	}
	tokens := strings.Split(s[1:], "/")
	for i, t := range tokens {
		if bad := strings.ReplaceAll(strings.ReplaceAll(t, "~0", ""), "~1", ""); strings.Contains(bad, "~") {
			return nil, fmt.Errorf("%q: \"~\" must be followed by 0 or 1", s)
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return Pointer(tokens), nil
}

// String writes p back as a JSON pointer.
func (p Pointer) String() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// Remove deletes what p names in doc, a value decoded from JSON
// (map[string]any, []any, scalars), and returns the document. A pointer
// that names nothing changes nothing. An array element is removed, the
// later ones moving up.
func (p Pointer) Remove(doc any) any {
	if len(p) == 0 {
		return doc
	}
	switch v := doc.(type) {
	case map[string]any:
		child, ok := v[p[0]]
		if !ok {
			return doc
		}
		if len(p) == 1 {
			delete(v, p[0])
		} else {
			v[p[0]] = p[1:].Remove(child)
		}
		return v
	case []any:
		i, ok := arrayIndex(p[0], len(v))
		if !ok {
			return doc
		}
		if len(p) == 1 {
			return append(v[:i:i], v[i+1:]...)
		}
		v[i] = p[1:].Remove(v[i])
		return v
	}
	return doc
}

// arrayIndex reads a pointer token as an index into an array of n
// elements: decimal digits without a leading zero, below n.
func arrayIndex(token string, n int) (int, bool) {
	if token == "" || len(token) > 1 && token[0] == '0' {
		return 0, false
	}
	for _, c := range token {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(token)
	return i, err == nil && i < n
}
