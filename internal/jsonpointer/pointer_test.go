package jsonpointer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func encode(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRemove(t *testing.T) {
	t.Parallel()
	const doc = `{"action":"a","resource":{"id":"r","attributes":{"ssn":"1","tags":["x","y","z"],"a/b":1,"m~n":2}},` +
		`"context":{"ip":"10.0.0.1","list":[{"secret":1,"keep":2}]}}`
	for _, tt := range []struct {
		pointer, want string
	}{
		{"/resource/attributes/ssn", `{"action":"a","context":{"ip":"10.0.0.1","list":[{"keep":2,"secret":1}]},"resource":{"attributes":{"a/b":1,"m~n":2,"tags":["x","y","z"]},"id":"r"}}`},
		{"/context", `{"action":"a","resource":{"attributes":{"a/b":1,"m~n":2,"ssn":"1","tags":["x","y","z"]},"id":"r"}}`},
		{"/resource/attributes/tags/1", `{"action":"a","context":{"ip":"10.0.0.1","list":[{"keep":2,"secret":1}]},"resource":{"attributes":{"a/b":1,"m~n":2,"ssn":"1","tags":["x","z"]},"id":"r"}}`},
		{"/context/list/0/secret", `{"action":"a","context":{"ip":"10.0.0.1","list":[{"keep":2}]},"resource":{"attributes":{"a/b":1,"m~n":2,"ssn":"1","tags":["x","y","z"]},"id":"r"}}`},
		{"/resource/attributes/a~1b", `{"action":"a","context":{"ip":"10.0.0.1","list":[{"keep":2,"secret":1}]},"resource":{"attributes":{"m~n":2,"ssn":"1","tags":["x","y","z"]},"id":"r"}}`},
		{"/resource/attributes/m~0n", `{"action":"a","context":{"ip":"10.0.0.1","list":[{"keep":2,"secret":1}]},"resource":{"attributes":{"a/b":1,"ssn":"1","tags":["x","y","z"]},"id":"r"}}`},
		// Pointers that name nothing change nothing.
		{"/resource/attributes/tags/3", ""},
		{"/resource/attributes/tags/01", ""},
		{"/resource/attributes/tags/-", ""},
		{"/resource/id/deeper", ""},
		{"/nothing/here", ""},
	} {
		p, err := Parse(tt.pointer)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.pointer, err)
		}
		want := tt.want
		if want == "" {
			want = encode(t, decode(t, doc))
		}
		if got := encode(t, p.Remove(decode(t, doc))); got != want {
			t.Errorf("Remove(%s):\n got %s\nwant %s", tt.pointer, got, want)
		}
		if p.String() != tt.pointer {
			t.Errorf("Parse(%q).String() = %q", tt.pointer, p.String())
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "resource", "/a~2b", "/a~"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

// FuzzRemove: for any document and any pointer, Remove never panics,
// leaves valid JSON, and removes exactly what the pointer names: the
// result has nothing at the pointer, and removing again changes nothing.
func FuzzRemove(f *testing.F) {
	f.Add(`{"a":{"b":[1,{"c":2}]}}`, "/a/b/1/c")
	f.Add(`[1,2,3]`, "/0")
	f.Add(`{"":{"":1}}`, "//")
	f.Add(`{"a~b/c":true}`, "/a~0b~1c")
	f.Fuzz(func(t *testing.T, doc, pointer string) {
		if !json.Valid([]byte(doc)) {
			return
		}
		p, err := Parse(pointer)
		if err != nil {
			return
		}
		once := p.Remove(decode(t, doc))
		out := encode(t, once)
		if !json.Valid([]byte(out)) {
			t.Fatalf("invalid JSON %s", out)
		}
		if _, found := lookup(once, p); found && !isArrayPointer(once, p) {
			t.Fatalf("%s still has %s after Remove: %s", doc, pointer, out)
		}
		if isArrayPointer(once, p) {
			return // removing an element moves the next one to its place
		}
		if twice := encode(t, p.Remove(decode(t, out))); !bytes.Equal([]byte(twice), []byte(out)) {
			t.Fatalf("removing %s again changed %s into %s", pointer, out, twice)
		}
	})
}

// lookup finds what p names in doc.
func lookup(doc any, p Pointer) (any, bool) {
	for _, token := range p {
		switch v := doc.(type) {
		case map[string]any:
			child, ok := v[token]
			if !ok {
				return nil, false
			}
			doc = child
		case []any:
			i, ok := arrayIndex(token, len(v))
			if !ok {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// isArrayPointer reports whether p's last token names an element of an
// array in doc (its parent is an array).
func isArrayPointer(doc any, p Pointer) bool {
	parent, ok := lookup(doc, p[:len(p)-1])
	_, isArray := parent.([]any)
	return ok && isArray
}
