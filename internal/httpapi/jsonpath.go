package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// fieldError is an unknown field or a value of the wrong type, located by its
// full path in the document: "checks[1].resource.org".
type fieldError struct {
	path    string
	unknown bool         // an unknown field; otherwise a value of the wrong type
	key     string       // unknown field: the key as sent
	want    reflect.Type // wrong type: the Go type the value does not fit
	got     string       // wrong type: the JSON kind sent ("number")
}

func (e *fieldError) Error() string {
	if e.unknown {
		return fmt.Sprintf("unknown field %q", e.path)
	}
	return typeMessage(e.path, e.want, e.got)
}

// locateJSONError gives an unknown-field or type error from decoding body
// into dst the full path of its field, as a *fieldError; other errors are
// returned as they are. encoding/json names an unknown field by its key
// alone and a mistyped one by a path without array indices, so body is
// walked once more alongside dst's type. encoding/json reports the first
// such error in document order, so the walk's first fault is that error.
// Where the two disagree (the walk does not model embedded structs,
// ",string" fields or numbers out of range), err is kept as it is.
func locateJSONError(err error, body []byte, dst any) error {
	fault := firstFault(body, reflect.TypeOf(dst))
	if fault == nil || !fault.is(err) || isRoot(fault) {
		return err
	}
	return fault
}

// is reports whether e is the fault that err, from encoding/json, describes.
func (e *fieldError) is(err error) bool {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return !e.unknown && e.want == typ.Type && e.got == valueKind(typ)
	}
	key, found := strings.CutPrefix(err.Error(), "json: unknown field ")
	return found && e.unknown && key == strconv.Quote(e.key)
}

// isRoot reports a type error of the body itself, which has no field to
// name ("request body must be a JSON object").
func isRoot(fault *fieldError) bool { return !fault.unknown && fault.path == "" }

// firstFault walks the first JSON value of body alongside t and returns its
// first unknown field or mistyped value, or nil. It reads values only to
// skip them, and stops quietly on malformed input.
func firstFault(body []byte, t reflect.Type) *fieldError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	fault, _ := faultWalker{dec}.value(t, "")
	return fault
}

// faultWalker reads a document token by token; its methods return the first
// fault in the value they read, or the decoder's error.
type faultWalker struct{ dec *json.Decoder }

// value reads one value meant for t at path.
func (w faultWalker) value(t reflect.Type, path string) (*fieldError, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, err
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	kind := tokenKind(tok)
	switch {
	case kind == "null" || takesAnything(t):
		return nil, w.skip(tok)
	case !fits(t, kind):
		return &fieldError{path: path, want: t, got: kind}, nil
	case kind == "object":
		return w.object(t, path)
	case kind == "array":
		return w.array(t, path)
	}
	return nil, nil
}

// object reads the members of an object meant for t, a struct or a map.
func (w faultWalker) object(t reflect.Type, path string) (*fieldError, error) {
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		name, mt, ok := member(t, key)
		if !ok {
			return &fieldError{path: joinPath(path, key), unknown: true, key: key}, nil
		}
		if fault, err := w.value(mt, joinPath(path, name)); fault != nil || err != nil {
			return fault, err
		}
	}
	_, err := w.dec.Token() // '}'
	return nil, err
}

// array reads the elements of an array meant for t, a slice or an array.
func (w faultWalker) array(t reflect.Type, path string) (*fieldError, error) {
	for i := 0; w.dec.More(); i++ {
		if fault, err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); fault != nil || err != nil {
			return fault, err
		}
	}
	_, err := w.dec.Token() // ']'
	return nil, err
}

// skip reads the rest of the value that starts with tok, without recursion.
func (w faultWalker) skip(tok json.Token) error {
	for depth := openDelta(tok); depth > 0; {
		next, err := w.dec.Token()
		if err != nil {
			return err
		}
		depth += openDelta(next)
	}
	return nil
}

// openDelta is +1 for a token that opens an object or array, -1 for one that
// closes it, 0 otherwise.
func openDelta(tok json.Token) int {
	switch tok {
	case json.Delim('{'), json.Delim('['):
		return 1
	case json.Delim('}'), json.Delim(']'):
		return -1
	}
	return 0
}

// tokenKind names a value's first token as encoding/json's type errors do.
func tokenKind(tok json.Token) string {
	switch tok {
	case json.Delim('{'):
		return "object"
	case json.Delim('['):
		return "array"
	}
	switch tok.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// takesAnything reports whether encoding/json hands any value to t without a
// type error of its own: free-form any, and types that decode themselves.
func takesAnything(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Kind() == reflect.Interface || t == reflect.TypeFor[json.Number]() ||
		p.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// fits reports whether a value of a JSON kind can decode into t.
func fits(t reflect.Type, kind string) bool {
	switch k := t.Kind(); kind {
	case "object":
		return k == reflect.Struct || k == reflect.Map
	case "array":
		return k == reflect.Slice || k == reflect.Array
	case "string":
		return k == reflect.String || k == reflect.Slice && t.Elem().Kind() == reflect.Uint8 // base64
	case "bool":
		return k == reflect.Bool
	default: // number
		return k >= reflect.Int && k <= reflect.Float64
	}
}

// member finds what key decodes into in t, a struct or a map, and the name
// the path shows for it.
func member(t reflect.Type, key string) (name string, typ reflect.Type, ok bool) {
	if t.Kind() == reflect.Map {
		return key, t.Elem(), true
	}
	folded := -1
	for i := range t.NumField() {
		switch name := jsonName(t.Field(i)); {
		case name == key:
			return name, t.Field(i).Type, true
		case folded < 0 && name != "" && strings.EqualFold(name, key):
			folded = i
		}
	}
	if folded < 0 {
		return "", nil, false
	}
	// encoding/json falls back to a case-insensitive match; the path shows
	// the field's own name, as its type errors do.
	return jsonName(t.Field(folded)), t.Field(folded).Type, true
}

// jsonName is the name encoding/json gives struct field f, or "" if it
// skips f.
func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if !f.IsExported() || tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
