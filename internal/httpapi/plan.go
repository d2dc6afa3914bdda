package httpapi

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// plan says how to decode a JSON value into one Go type. Plans are built
// once per request type (decoderFor), so that decoding a body reflects
// only to set values.
type plan struct {
	kind    planKind
	typ     reflect.Type
	elem    *plan              // pointer, slice, array, map
	members map[string]*member // struct: by exact JSON name
	anyMap  bool               // map[string]any: built without reflection
	open    bool               // struct: unknown members are skipped (openObject)
}

// openObject marks a request type whose JSON objects may carry members it
// does not know, which are then skipped rather than refused: AuthZEN
// requires receivers to ignore unknown fields. Keys still match exactly
// and never repeat.
type openObject interface{ ignoresUnknownFields() }

type planKind uint8

const (
	planFree    planKind = iota // an empty interface: a free-form value
	planString                  // a string kind
	planBool                    // a bool kind
	planInt                     // a signed integer kind
	planUint                    // an unsigned integer kind
	planFloat                   // a float kind
	planPointer                 // a pointer to a planned type
	planStruct                  // an object, by exact field names
	planMap                     // an object, keys of a string kind
	planSlice                   // an array
	planArray                   // an array, into a Go array
	planBytes                   // []byte: an array as numbers, a string as base64 (planStd)
	planStd                     // anything else: encoding/json decodes it (decodeStd)
)

// member is a field of a struct plan.
type member struct {
	index   int // the field's index in the struct
	ordinal int // the member's number, to find a repeated key
	plan    *plan
	// std: encoding/json decodes the member in its struct, as it would
	// have: a field promoted from an embedded struct, a ",string" field, a
	// type that decodes itself.
	std bool
}

// compile builds the plan of t and of the types it holds.
func compile(t reflect.Type) *plan { return planner{}.plan(t) }

// planner holds the plans built so far, so that a recursive type ends.
type planner map[reflect.Type]*plan

func (pl planner) plan(t reflect.Type) *plan {
	if p, ok := pl[t]; ok {
		return p
	}
	// The kind is known before the plans t holds are built, which may
	// come back to t.
	p := &plan{typ: t, kind: kindOf(t)}
	pl[t] = p
	switch p.kind {
	case planStruct:
		p.members = pl.members(t)
		p.open = reflect.PointerTo(t).Implements(reflect.TypeFor[openObject]())
	case planPointer, planMap, planSlice, planArray, planBytes:
		p.elem = pl.plan(t.Elem())
	}
	if p.kind == planPointer && p.elem.kind == planStd {
		p.kind = planStd // encoding/json sets the pointer too
	}
	p.anyMap = p.kind == planMap && t.Key() == reflect.TypeFor[string]() && t.Elem() == reflect.TypeFor[any]()
	return p
}

// kindOf says how a value of type t is decoded.
func kindOf(t reflect.Type) planKind {
	if decodesItself(t) {
		return planStd
	}
	switch k := t.Kind(); {
	case k == reflect.Interface && t.NumMethod() == 0:
		return planFree
	case k == reflect.String:
		return planString
	case k == reflect.Bool:
		return planBool
	case k >= reflect.Int && k <= reflect.Int64:
		return planInt
	case k >= reflect.Uint && k <= reflect.Uintptr:
		return planUint
	case k == reflect.Float32 || k == reflect.Float64:
		return planFloat
	case k == reflect.Struct:
		return planStruct
	case k == reflect.Pointer:
		return planPointer
	case k == reflect.Map && t.Key().Kind() == reflect.String && !reflect.PointerTo(t.Key()).Implements(textUnmarshaler):
		return planMap
	case k == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return planBytes
	case k == reflect.Slice:
		return planSlice
	case k == reflect.Array:
		return planArray
	}
	return planStd
}

func (pl planner) members(t reflect.Type) map[string]*member {
	fields := structFields(t)
	members := make(map[string]*member, len(fields))
	for name, f := range fields {
		m := &member{index: f.index[0], ordinal: len(members), plan: pl.plan(f.typ)}
		m.std = len(f.index) > 1 || f.quoted || m.plan.kind == planStd
		members[name] = m
	}
	return members
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// decodesItself reports a type encoding/json hands the JSON text to (an
// Unmarshaler or TextUnmarshaler) or reads by a rule of its own
// (json.Number).
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t == reflect.TypeFor[json.Number]() ||
		p.Implements(reflect.TypeFor[json.Unmarshaler]()) || p.Implements(textUnmarshaler)
}

// field is what a JSON name decodes into in a struct: the path of field
// indices to it (more than one for a field promoted from an embedded
// struct), its type, and whether its tag asks for ",string".
type field struct {
	index  []int
	typ    reflect.Type
	quoted bool
}

// structFields maps the JSON names of t's fields to them, by
// encoding/json's rules: a field promoted from an embedded struct is named
// unless a shallower field, or a tagged one at its depth, takes the name,
// or several share it.
func structFields(t reflect.Type) map[string]field {
	type candidate struct {
		field
		tagged bool
	}
	type embedded struct {
		typ   reflect.Type
		index []int
	}
	byName := map[string][]candidate{}
	level := []embedded{{typ: t}}
	visited := map[reflect.Type]int{} // the depth a struct was first met at
	for depth := 0; len(level) > 0; depth++ {
		var next []embedded
		for _, st := range level {
			if d, ok := visited[st.typ]; ok && d < depth {
				continue
			}
			visited[st.typ] = depth
			for i := range st.typ.NumField() {
				f := st.typ.Field(i)
				index := append(slices.Clip(st.index), i)
				name, tagged, inner := fieldName(f)
				switch {
				case inner != nil:
					next = append(next, embedded{inner, index})
				case name != "":
					quoted := strings.Contains(f.Tag.Get("json"), ",string")
					byName[name] = append(byName[name], candidate{field{index, f.Type, quoted}, tagged})
				}
			}
		}
		level = next
	}
	fields := map[string]field{}
	for name, cs := range byName {
		top := len(cs[0].index) // candidates come in order of depth
		best := slices.DeleteFunc(cs, func(c candidate) bool { return len(c.index) > top })
		if tagged := slices.DeleteFunc(slices.Clone(best), func(c candidate) bool { return !c.tagged }); len(tagged) > 0 {
			best = tagged
		}
		if len(best) == 1 {
			fields[name] = best[0].field
		}
	}
	return fields
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
