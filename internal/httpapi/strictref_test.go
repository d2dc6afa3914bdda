package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// This file keeps the request decoder the service had before it read JSON
// itself, as the reference the new one is held to (FuzzDecodeCheck,
// TestDecodeMatchesReference): encoding/json decodes the body, and a strict
// walk over it with encoding/json's Decoder.Token refuses what
// encoding/json lets through (keys in another case, repeated keys, numbers
// out of range) and gives encoding/json's faults their full paths.

// refUnmarshalStrict is the reference for unmarshalStrict.
func refUnmarshalStrict(body []byte, dst any) error {
	s := refScanBody(body, reflect.TypeOf(dst))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(dst)
	switch {
	case err != nil && !refIsFieldError(err):
		return badRequest(refDescribe(err))
	case s.strict != nil && s.strict == s.first:
		return badRequest(s.strict.Error())
	case err != nil:
		return badRequest(refDescribe(s.locate(err)))
	case s.strict != nil:
		return badRequest(s.strict.Error())
	case s.err != nil: // encoding/json and the walk share a scanner: not expected
		return badRequest("malformed JSON")
	case dec.More():
		return badRequest("request body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body holds data after the JSON value")
	}
	return nil
}

// refIsFieldError reports an error encoding/json finds in a well-formed
// body: a value of the wrong type or an unknown field.
func refIsFieldError(err error) bool {
	var typ *json.UnmarshalTypeError
	return errors.As(err, &typ) || strings.HasPrefix(err.Error(), "json: unknown field ")
}

// refDescribe is describeJSONError for the reference's errors.
func refDescribe(err error) string {
	var fault *refFault
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &fault):
		return fault.Error()
	case errors.As(err, &typ) && typ.Field != "":
		return typeMessage(typ.Field, typ.Type, valueKind(typ))
	case errors.As(err, &typ):
		return notAnObject(valueKind(typ))
	}
	return describeJSONError(err)
}

// refDecodeHasRequest is the reference for decodeHasRequest: the walk
// refuses repeated keys and numbers out of range anywhere, then
// encoding/json reads the body leniently, and the handler took token and
// check from what it read.
func refDecodeHasRequest(body []byte) (hasRequest, error) {
	if fault := refScanBody(body, reflect.TypeFor[map[string]any]()).strict; fault != nil {
		return hasRequest{}, badRequest(fault.Error())
	}
	var fields map[string]json.RawMessage
	if err := refUnmarshalLenient(body, &fields); err != nil {
		return hasRequest{}, err
	}
	var req hasRequest
	if raw := bytes.TrimSpace(fields["check"]); len(raw) > 0 && raw[0] == '{' {
		if err := refUnmarshalLenient(raw, &req.Check); err != nil {
			return hasRequest{}, err
		}
	}
	if raw := bytes.TrimSpace(fields["token"]); len(raw) > 0 && string(raw) != "null" {
		req.BadToken = json.Unmarshal(raw, &req.Token) != nil
	}
	return req, nil
}

// refUnmarshalLenient decodes one JSON object, ignoring unknown fields;
// numbers stay exact.
func refUnmarshalLenient(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return badRequest(refDescribe(err))
	}
	if dec.More() {
		return badRequest("request body holds more than one JSON value")
	}
	return nil
}

// refFault is a fault located by its full path in the document
// ("checks[1].resource.org"): an unknown field, a duplicate key, a number
// out of range, or a value of the wrong type.
type refFault struct {
	path       string
	unknown    bool         // a key that is not exactly a field's name
	duplicate  bool         // a key already seen in the same object
	outOfRange bool         // a free-form number no double can hold
	key        string       // unknown field: the key as sent
	want       reflect.Type // wrong type: the Go type the value does not fit
	got        string       // wrong type: the JSON kind sent ("number")
}

func (e *refFault) Error() string {
	switch {
	case e.unknown:
		return fmt.Sprintf("unknown field %q", e.path)
	case e.duplicate:
		return fmt.Sprintf("duplicate key %q", e.path)
	case e.outOfRange:
		return fmt.Sprintf("number out of range at %q", e.path)
	}
	return typeMessage(e.path, e.want, e.got)
}

// walkOnly reports a fault that encoding/json would not report: it matches
// keys case-insensitively, lets the last duplicate win and keeps a free-form
// number as text whatever its size.
func (e *refFault) walkOnly() bool { return e.unknown || e.duplicate || e.outOfRange }

// scan is what one strict pass over a body, alongside the type it is meant
// for, found. The pass stops at the first walk-only fault; a type fault does
// not stop it, so a key fault after a value encoding/json takes (a ",string"
// field) is still found.
type refScan struct {
	first  *refFault // the first fault in document order, if any
	strict *refFault // the first walk-only fault (refFault.walkOnly), if any
	err    error     // why the walk stopped early: malformed input
}

// refScanBody walks the first JSON value of body alongside t. Keys must be
// exactly a field's JSON name (encoding/json also takes them in another
// case), and no object, free-form ones included, may repeat a key. It
// reads values only to skip them, and stops quietly on malformed input,
// which encoding/json then reports.
func refScanBody(body []byte, t reflect.Type) refScan {
	w := &refWalker{dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	err := w.value(t)
	return refScan{first: w.first, strict: w.strict, err: err}
}

// locate gives an unknown-field or type error from decoding the body with
// encoding/json the full path of its field, as a *refFault; other errors
// are returned as they are. encoding/json names an unknown field by its key
// alone and a mistyped one by a path without array indices. It reports the
// first such error in document order, so the walk's first fault is that
// error. Where the two disagree (the walk does not model fields promoted
// from embedded structs, ",string" fields or numbers out of range), err is
// kept as it is.
func (s refScan) locate(err error) error {
	if s.first == nil || !s.first.is(err) || refIsRoot(s.first) {
		return err
	}
	return s.first
}

// is reports whether e is the fault that err, from encoding/json, describes.
func (e *refFault) is(err error) bool {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return !e.walkOnly() && e.want == typ.Type && e.got == valueKind(typ)
	}
	key, found := strings.CutPrefix(err.Error(), "json: unknown field ")
	return found && e.unknown && key == strconv.Quote(e.key)
}

// isRoot reports a type error of the body itself, which has no field to
// name ("request body must be a JSON object").
func refIsRoot(fault *refFault) bool { return !fault.walkOnly() && fault.path == "" }

var refErrTooDeep = errors.New("json: nested too deeply")

// walker reads a document token by token. Its methods record faults and
// return the decoder's error; they return early once a key fault is found.
type refWalker struct {
	dec    *json.Decoder
	path   []segment // where the value being read sits
	first  *refFault
	strict *refFault
}

// pathString renders the path, only when a fault is found: building it for
// every value would cost time quadratic in the nesting.
func (w *refWalker) pathString() string { return pathString(w.path) }

func (w *refWalker) fault(f *refFault) {
	if w.first == nil {
		w.first = f
	}
	if f.walkOnly() && w.strict == nil {
		w.strict = f
	}
}

// keyFault records an unknown or duplicate key at the current path plus key.
func (w *refWalker) keyFault(key string, unknown bool) {
	w.path = append(w.path, segment{key: key, index: -1})
	w.fault(&refFault{path: w.pathString(), unknown: unknown, duplicate: !unknown, key: key})
	w.path = w.path[:len(w.path)-1]
}

// value reads one value meant for t; a nil t reads it free-form.
func (w *refWalker) value(t reflect.Type) error {
	if len(w.path) > maxDepth {
		return refErrTooDeep
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	kind := refTokenKind(tok)
	switch {
	case t == nil || kind == "null" || refTakesAnything(t):
		return w.skim(tok)
	case !refFits(t, kind):
		w.fault(&refFault{path: w.pathString(), want: t, got: kind})
		return w.skim(tok) // encoding/json skips it; its keys must still be unique
	case kind == "object":
		return w.object(t)
	case kind == "array":
		return w.array(t)
	}
	return nil
}

// object reads the members of an object meant for t, a struct or a map.
func (w *refWalker) object(t reflect.Type) error {
	var seen keySet
	for w.dec.More() && w.strict == nil {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		mt, ok := refMember(t, key)
		switch {
		case !ok:
			w.keyFault(key, true)
		case seen.add([]byte(key)):
			w.keyFault(key, false)
		default:
			w.path = append(w.path, segment{key: key, index: -1})
			err = w.value(mt)
			w.path = w.path[:len(w.path)-1]
		}
		if err != nil {
			return err
		}
	}
	return w.close()
}

// array reads the elements of an array meant for t, a slice or an array.
func (w *refWalker) array(t reflect.Type) error {
	for i := 0; w.dec.More() && w.strict == nil; i++ {
		w.path = append(w.path, segment{index: i})
		err := w.value(t.Elem())
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	return w.close()
}

// close reads the '}' or ']' that ends a value, unless the walk stops.
func (w *refWalker) close() error {
	if w.strict != nil {
		return nil
	}
	_, err := w.dec.Token()
	return err
}

// skim reads the rest of the free-form value that starts with tok, without
// recursion, checking each of its objects for a duplicate key.
func (w *refWalker) skim(tok json.Token) error {
	type frame struct {
		object bool
		next   int // array: the index of the next element
		seen   keySet
	}
	var stack []frame
	base := len(w.path)
	defer func() { w.path = w.path[:base] }()
	if !w.numberFits(tok, nil) {
		return nil
	}
	if refOpens(tok) {
		stack = append(stack, frame{object: tok == json.Delim('{')})
	}
	for len(stack) > 0 && w.strict == nil {
		if len(w.path) > maxDepth {
			return refErrTooDeep
		}
		tok, err := w.dec.Token() // a key or a value, or the end
		if err != nil {
			return err
		}
		if tok == json.Delim('}') || tok == json.Delim(']') {
			if stack = stack[:len(stack)-1]; len(stack) > 0 {
				w.path = w.path[:len(w.path)-1]
			}
			continue
		}
		top := &stack[len(stack)-1]
		seg := segment{index: top.next}
		if top.object {
			key, _ := tok.(string)
			if top.seen.add([]byte(key)) {
				w.keyFault(key, false)
				return nil
			}
			seg = segment{key: key, index: -1}
			if tok, err = w.dec.Token(); err != nil {
				return err
			}
		} else {
			top.next++
		}
		if !w.numberFits(tok, &seg) {
			return nil
		}
		if refOpens(tok) {
			w.path = append(w.path, seg)
			stack = append(stack, frame{object: tok == json.Delim('{')})
		}
	}
	return nil
}

// numberFits reports whether tok, a free-form value at the current path
// plus seg (if any), is not a number, or is one that fits; if not, it
// records the fault, which stops the walk.
func (w *refWalker) numberFits(tok json.Token, seg *segment) bool {
	n, ok := tok.(json.Number)
	if !ok || numberInRange(string(n)) {
		return true
	}
	if seg != nil {
		w.path = append(w.path, *seg)
		defer func() { w.path = w.path[:len(w.path)-1] }()
	}
	w.fault(&refFault{path: w.pathString(), outOfRange: true})
	return false
}

func refOpens(tok json.Token) bool { return tok == json.Delim('{') || tok == json.Delim('[') }

// tokenKind names a value's first token as encoding/json's type errors do.
func refTokenKind(tok json.Token) string {
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
func refTakesAnything(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Kind() == reflect.Interface || t == reflect.TypeFor[json.Number]() ||
		p.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// fits reports whether a value of a JSON kind can decode into t.
func refFits(t reflect.Type, kind string) bool {
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

// member finds what key decodes into in t, a struct or a map. A struct
// field matches only by its exact JSON name; a nil type is a field
// promoted from an embedded struct, read free-form.
func refMember(t reflect.Type, key string) (typ reflect.Type, ok bool) {
	if t.Kind() == reflect.Map {
		return t.Elem(), true
	}
	f, ok := structFields(t)[key]
	if !ok || len(f.index) > 1 {
		return nil, ok
	}
	return f.typ, true
}
