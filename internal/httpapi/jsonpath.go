package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// fieldError is a fault located by its full path in the document
// ("checks[1].resource.org"): an unknown field, a duplicate key, a number
// out of range, or a value of the wrong type.
type fieldError struct {
	path       string
	unknown    bool         // a key that is not exactly a field's name
	duplicate  bool         // a key already seen in the same object
	outOfRange bool         // a free-form number no double can hold
	key        string       // unknown field: the key as sent
	want       reflect.Type // wrong type: the Go type the value does not fit
	got        string       // wrong type: the JSON kind sent ("number")
}

func (e *fieldError) Error() string {
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
func (e *fieldError) walkOnly() bool { return e.unknown || e.duplicate || e.outOfRange }

// scan is what one strict pass over a body, alongside the type it is meant
// for, found. The pass stops at the first walk-only fault; a type fault does
// not stop it, so a key fault after a value encoding/json takes (a ",string"
// field) is still found.
type scan struct {
	first  *fieldError // the first fault in document order, if any
	strict *fieldError // the first walk-only fault (fieldError.walkOnly), if any
	err    error       // why the walk stopped early: malformed input
}

// scanBody walks the first JSON value of body alongside t. Keys must be
// exactly a field's JSON name (encoding/json also takes them in another
// case), and no object, free-form ones included, may repeat a key. It
// reads values only to skip them, and stops quietly on malformed input,
// which encoding/json then reports.
func scanBody(body []byte, t reflect.Type) scan {
	w := &walker{dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	err := w.value(t)
	return scan{first: w.first, strict: w.strict, err: err}
}

// locate gives an unknown-field or type error from decoding the body with
// encoding/json the full path of its field, as a *fieldError; other errors
// are returned as they are. encoding/json names an unknown field by its key
// alone and a mistyped one by a path without array indices. It reports the
// first such error in document order, so the walk's first fault is that
// error. Where the two disagree (the walk does not model fields promoted
// from embedded structs, ",string" fields or numbers out of range), err is
// kept as it is.
func (s scan) locate(err error) error {
	if s.first == nil || !s.first.is(err) || isRoot(s.first) {
		return err
	}
	return s.first
}

// is reports whether e is the fault that err, from encoding/json, describes.
func (e *fieldError) is(err error) bool {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return !e.walkOnly() && e.want == typ.Type && e.got == valueKind(typ)
	}
	key, found := strings.CutPrefix(err.Error(), "json: unknown field ")
	return found && e.unknown && key == strconv.Quote(e.key)
}

// isRoot reports a type error of the body itself, which has no field to
// name ("request body must be a JSON object").
func isRoot(fault *fieldError) bool { return !fault.walkOnly() && fault.path == "" }

// maxDepth bounds the nesting the walk follows, as encoding/json's scanner
// does (it refuses deeper documents as malformed).
const maxDepth = 10000

var errTooDeep = errors.New("json: nested too deeply")

// walker reads a document token by token. Its methods record faults and
// return the decoder's error; they return early once a key fault is found.
type walker struct {
	dec    *json.Decoder
	path   []segment // where the value being read sits
	first  *fieldError
	strict *fieldError
}

// segment is one step of a path: an object key, or an array index (>= 0).
type segment struct {
	key   string
	index int
}

// pathString renders the path, only when a fault is found: building it for
// every value would cost time quadratic in the nesting.
func (w *walker) pathString() string {
	var b strings.Builder
	for _, s := range w.path {
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

func (w *walker) fault(f *fieldError) {
	if w.first == nil {
		w.first = f
	}
	if f.walkOnly() && w.strict == nil {
		w.strict = f
	}
}

// keyFault records an unknown or duplicate key at the current path plus key.
func (w *walker) keyFault(key string, unknown bool) {
	w.path = append(w.path, segment{key: key, index: -1})
	w.fault(&fieldError{path: w.pathString(), unknown: unknown, duplicate: !unknown, key: key})
	w.path = w.path[:len(w.path)-1]
}

// value reads one value meant for t; a nil t reads it free-form.
func (w *walker) value(t reflect.Type) error {
	if len(w.path) > maxDepth {
		return errTooDeep
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	kind := tokenKind(tok)
	switch {
	case t == nil || kind == "null" || takesAnything(t):
		return w.skim(tok)
	case !fits(t, kind):
		w.fault(&fieldError{path: w.pathString(), want: t, got: kind})
		return w.skim(tok) // encoding/json skips it; its keys must still be unique
	case kind == "object":
		return w.object(t)
	case kind == "array":
		return w.array(t)
	}
	return nil
}

// object reads the members of an object meant for t, a struct or a map.
func (w *walker) object(t reflect.Type) error {
	var seen keySet
	for w.dec.More() && w.strict == nil {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		mt, ok := member(t, key)
		switch {
		case !ok:
			w.keyFault(key, true)
		case seen.add(key):
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
func (w *walker) array(t reflect.Type) error {
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
func (w *walker) close() error {
	if w.strict != nil {
		return nil
	}
	_, err := w.dec.Token()
	return err
}

// skim reads the rest of the free-form value that starts with tok, without
// recursion, checking each of its objects for a duplicate key.
func (w *walker) skim(tok json.Token) error {
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
	if opens(tok) {
		stack = append(stack, frame{object: tok == json.Delim('{')})
	}
	for len(stack) > 0 && w.strict == nil {
		if len(w.path) > maxDepth {
			return errTooDeep
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
			if top.seen.add(key) {
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
		if opens(tok) {
			w.path = append(w.path, seg)
			stack = append(stack, frame{object: tok == json.Delim('{')})
		}
	}
	return nil
}

// numberFits reports whether tok, a free-form value at the current path
// plus seg (if any), is not a number, or is one that fits; if not, it
// records the fault, which stops the walk.
func (w *walker) numberFits(tok json.Token, seg *segment) bool {
	n, ok := tok.(json.Number)
	if !ok || numberInRange(string(n)) {
		return true
	}
	if seg != nil {
		w.path = append(w.path, *seg)
		defer func() { w.path = w.path[:len(w.path)-1] }()
	}
	w.fault(&fieldError{path: w.pathString(), outOfRange: true})
	return false
}

// numberInRange reports whether the JSON number s is within the range of an
// IEEE 754 double, neither overflowing nor underflowing to zero, as I-JSON
// (RFC 7493 §2.2) asks of interoperable numbers, with an exponent of at
// most maxExponentDigits digits (a double needs three). Such a number is
// kept as sent, digits and all; one outside the range is refused at the
// door rather than failing later inside policy evaluation, which cannot
// hold every such number either (0e99999999999999999999 is zero to
// strconv but not to math/big).
func numberInRange(s string) bool {
	mantissa, exponent, _ := strings.Cut(strings.ToLower(s), "e")
	if len(strings.TrimLeft(exponent, "+-")) > maxExponentDigits {
		return false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	return f != 0 || strings.Trim(mantissa, "-0.") == ""
}

// maxExponentDigits bounds the exponent of a number in a request.
const maxExponentDigits = 4

func opens(tok json.Token) bool { return tok == json.Delim('{') || tok == json.Delim('[') }

// keySet holds the keys of one object: a short list while it is small, a
// map beyond, so that checking for duplicates stays linear.
type keySet struct {
	list []string
	set  map[string]struct{}
}

// add adds key and reports whether it was already there.
func (s *keySet) add(key string) (dup bool) {
	if s.set != nil {
		if _, dup = s.set[key]; !dup {
			s.set[key] = struct{}{}
		}
		return dup
	}
	if slices.Contains(s.list, key) {
		return true
	}
	if s.list = append(s.list, key); len(s.list) > 16 {
		s.set = make(map[string]struct{}, 2*len(s.list))
		for _, k := range s.list {
			s.set[k] = struct{}{}
		}
		s.list = nil
	}
	return false
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

// member finds what key decodes into in t, a struct or a map. A struct
// field matches only by its exact JSON name; a nil type is a field
// promoted from an embedded struct, read free-form.
func member(t reflect.Type, key string) (typ reflect.Type, ok bool) {
	if t.Kind() == reflect.Map {
		return t.Elem(), true
	}
	typ, ok = structFields(t)[key]
	return typ, ok
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// structFields maps the JSON names of t's fields to their types, by
// encoding/json's rules: a field promoted from an embedded struct is
// named unless a shallower field, or a tagged one at its depth, takes the
// name, or several share it. Promoted fields map to nil.
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	type candidate struct {
		typ    reflect.Type
		depth  int
		tagged bool
	}
	byName := map[string][]candidate{}
	level := []reflect.Type{t}
	visited := map[reflect.Type]int{} // the depth a struct was first met at
	for depth := 0; len(level) > 0; depth++ {
		var next []reflect.Type
		for _, st := range level {
			if d, ok := visited[st]; ok && d < depth {
				continue
			}
			visited[st] = depth
			for i := range st.NumField() {
				f := st.Field(i)
				name, tagged, embedded := fieldName(f)
				switch {
				case embedded != nil:
					next = append(next, embedded)
				case name != "":
					ft := f.Type
					if depth > 0 {
						ft = nil
					}
					byName[name] = append(byName[name], candidate{ft, depth, tagged})
				}
			}
		}
		level = next
	}
	fields := map[string]reflect.Type{}
	for name, cs := range byName {
		top := cs[0].depth // candidates come in order of depth
		best := slices.DeleteFunc(cs, func(c candidate) bool { return c.depth > top })
		if tagged := slices.DeleteFunc(slices.Clone(best), func(c candidate) bool { return !c.tagged }); len(tagged) > 0 {
			best = tagged
		}
		if len(best) == 1 {
			fields[name] = best[0].typ
		}
	}
	m, _ := fieldCache.LoadOrStore(t, fields)
	return m.(map[string]reflect.Type)
}

// fieldName is the name encoding/json gives struct field f and whether a
// tag gave it, or "" if it skips f; for an untagged embedded struct, whose
// fields are promoted, it returns that struct instead.
func fieldName(f reflect.StructField) (name string, tagged bool, embedded reflect.Type) {
	ft := f.Type
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
		return "", false, nil
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, nil
	}
	name, _, _ = strings.Cut(tag, ",")
	switch {
	case isValidTag(name):
		return name, true, nil
	case f.Anonymous && ft.Kind() == reflect.Struct:
		return "", false, ft
	}
	return f.Name, false, nil
}

// isValidTag reports whether encoding/json takes s as a field name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
