package httpapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// fieldError is a fault in a well-formed body, located by its full path in
// the document ("checks[1].resource.org"): an unknown field, a duplicate
// key, a number out of range, a value of the wrong type, or what
// encoding/json said of a value it decoded for us (decodeStd).
type fieldError struct {
	rev        []segment // the path, innermost step first: it grows as the decode unwinds
	named      bool      // rev[0] already names the member the fault is in (decodeStd)
	unknown    bool      // a key that is not exactly a field's name
	duplicate  bool      // a key already seen in the same object
	outOfRange bool      // a free-form number no double can hold
	want       reflect.Type
	got        string // wrong type: the JSON kind sent ("number")
	message    string // what encoding/json said, if it was not about a type
}

// segment is one step of a path: an object key, or an array index (>= 0).
type segment struct {
	key   string
	index int
}

// under places a fault returned from a member's key or value under the key.
// Keys are copied only here, on the way out of a refused body.
func under(err error, key []byte) error {
	f, ok := err.(*fieldError)
	if !ok {
		return err
	}
	if f.named {
		f.named = false
		return err
	}
	f.rev = append(f.rev, segment{key: string(key), index: -1})
	return err
}

// at places a fault returned from an array element at its index.
func at(err error, index int) error {
	if f, ok := err.(*fieldError); ok {
		f.rev = append(f.rev, segment{index: index})
	}
	return err
}

// path renders the path as the messages write it.
func (e *fieldError) path() string {
	steps := slices.Clone(e.rev)
	slices.Reverse(steps)
	return pathString(steps)
}

// pathString renders steps, outermost first: keys joined by dots, indices
// in brackets ("checks[1].resource.org").
func pathString(steps []segment) string {
	var b strings.Builder
	for _, s := range steps {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

func (e *fieldError) Error() string {
	path := e.path()
	switch {
	case e.message != "":
		return e.message
	case e.unknown:
		return fmt.Sprintf("unknown field %q", path)
	case e.duplicate:
		return fmt.Sprintf("duplicate key %q", path)
	case e.outOfRange:
		return fmt.Sprintf("number out of range at %q", path)
	case path == "":
		return notAnObject(e.got)
	}
	return typeMessage(path, e.want, e.got)
}

// notAnObject refuses a body that is a value of JSON kind got.
func notAnObject(got string) string {
	return fmt.Sprintf("request body must be a JSON object, not %s", got)
}

// mistyped is the fault of a value of JSON kind got where t is wanted.
func mistyped(t reflect.Type, got string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return &fieldError{want: t, got: got}
}
