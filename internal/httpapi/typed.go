package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
)

// value decodes the value at pos into v as p says, as encoding/json would
// into a fresh value, but for keys, which must match a field's name
// exactly and never repeat. It stops at the first fault.
func (l *lexer) value(p *plan, v reflect.Value) error {
	c, err := l.start()
	kind := kindAt(c)
	switch {
	case err != nil || kind == "":
		return errMalformed
	case p.kind == planStd:
		return l.std(v)
	case p.kind == planFree:
		return l.free(v)
	case kind == "null":
		return l.null(v)
	case p.kind == planPointer:
		if v.IsNil() {
			v.Set(reflect.New(p.typ.Elem()))
		}
		return l.value(p.elem, v.Elem())
	}
	return l.typed(p, v, kind)
}

// typed decodes a value that is not null into a value of a fixed type.
func (l *lexer) typed(p *plan, v reflect.Value, kind string) error {
	switch {
	case p.kind == planString && kind == "string":
		s, err := l.str()
		v.SetString(string(s))
		return err
	case p.kind == planBool && kind == "bool":
		word, err := l.literal()
		v.SetBool(word == "true")
		return err
	case p.kind >= planInt && p.kind <= planFloat && kind == "number":
		return l.numberInto(p, v)
	case p.kind == planStruct && kind == "object":
		return l.structValue(p, v)
	case p.kind == planMap && kind == "object":
		return l.mapValue(p, v)
	case (p.kind == planSlice || p.kind == planBytes) && kind == "array":
		return l.sliceValue(p, v)
	case p.kind == planArray && kind == "array":
		return l.arrayValue(p, v)
	case p.kind == planBytes && kind == "string":
		return l.std(v) // base64
	}
	return mistyped(p.typ, kind)
}

// free decodes a free-form value into v, an empty interface.
func (l *lexer) free(v reflect.Value) error {
	x, err := l.anyValue()
	if err == nil && x != nil {
		v.Set(reflect.ValueOf(x))
	}
	return err
}

// null reads null: it empties a pointer, map, slice or interface and
// leaves other values as they are.
func (l *lexer) null(v reflect.Value) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		v.SetZero()
	}
	_, err := l.literal()
	return err
}

// numberInto decodes a number into an integer or float, refusing one the
// type cannot hold as encoding/json does.
func (l *lexer) numberInto(p *plan, v reflect.Value) error {
	text, err := l.number()
	if err != nil {
		return err
	}
	s := string(text)
	switch p.kind {
	case planInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && !v.OverflowInt(n) {
			v.SetInt(n)
			return nil
		}
	case planUint:
		n, err := strconv.ParseUint(s, 10, 64)
		if err == nil && !v.OverflowUint(n) {
			v.SetUint(n)
			return nil
		}
	default:
		n, err := strconv.ParseFloat(s, p.typ.Bits())
		if err == nil && !v.OverflowFloat(n) {
			v.SetFloat(n)
			return nil
		}
	}
	return mistyped(p.typ, "number")
}

// structValue decodes an object into a struct, member by member.
func (l *lexer) structValue(p *plan, v reflect.Value) error {
	var m *member
	var seen memberSet
	return l.object(func(key []byte) error {
		var ok bool
		switch m, ok = p.members[string(key)]; {
		case !ok && p.open:
			m = nil // skipped, and free to repeat: it means nothing here
		case !ok:
			return &fieldError{unknown: true}
		case seen.add(m.ordinal):
			return &fieldError{duplicate: true}
		}
		return nil
	}, func(key []byte) error {
		if m == nil {
			return l.skim()
		}
		if m.std {
			return l.stdMember(v, key)
		}
		return l.value(m.plan, v.Field(m.index))
	})
}

// memberSet holds the members of a struct an object has set.
type memberSet struct {
	low  uint64
	high map[int]bool
}

// add adds member i and reports whether it was already there.
func (s *memberSet) add(i int) (dup bool) {
	if i < 64 {
		dup = s.low&(1<<i) != 0
		s.low |= 1 << i
		return dup
	}
	if s.high == nil {
		s.high = map[int]bool{}
	}
	dup, s.high[i] = s.high[i], true
	return dup
}

// mapValue decodes an object into a map whose keys are of a string kind.
func (l *lexer) mapValue(p *plan, v reflect.Value) error {
	if p.anyMap {
		m, err := l.anyObject()
		v.Set(reflect.ValueOf(m))
		return err
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(p.typ))
	}
	var seen keySet
	return l.object(func(key []byte) error {
		if seen.add(key) {
			return &fieldError{duplicate: true}
		}
		return nil
	}, func(key []byte) error {
		elem := reflect.New(p.elem.typ).Elem()
		err := l.value(p.elem, elem)
		k := reflect.New(p.typ.Key()).Elem()
		k.SetString(string(key))
		v.SetMapIndex(k, elem)
		return err
	})
}

// sliceValue decodes an array into a slice: [] is an empty slice, not nil.
func (l *lexer) sliceValue(p *plan, v reflect.Value) error {
	n := 0
	err := l.array(func(i int) error {
		if i >= v.Cap() {
			v.Grow(1)
		}
		if i >= v.Len() {
			v.SetLen(i + 1)
		}
		n = i + 1
		return l.value(p.elem, v.Index(i))
	})
	if n == 0 {
		v.Set(reflect.MakeSlice(p.typ, 0, 0))
	}
	return err
}

// arrayValue decodes an array into a Go array: elements past its length
// are read only to check them (encoding/json skips them), and elements
// not sent stay zero.
func (l *lexer) arrayValue(p *plan, v reflect.Value) error {
	return l.array(func(i int) error {
		if i < v.Len() {
			return l.value(p.elem, v.Index(i))
		}
		return l.skim()
	})
}

// std checks the value at pos as a free-form one (no repeated key, no
// number out of range), then has encoding/json decode it into v, which
// must be addressable.
func (l *lexer) std(v reflect.Value) error {
	start := l.pos
	if err := l.skim(); err != nil {
		return err
	}
	return stdFault(decodeStd(l.data[start:l.pos], v.Addr().Interface()), false)
}

// stdMember is std for the member key of the struct v, decoded as
// encoding/json decodes it in v, so that it sets an embedded pointer on
// the way and names a fault as it does ("Inner.level").
func (l *lexer) stdMember(v reflect.Value, key []byte) error {
	start := l.pos
	if err := l.skim(); err != nil {
		return err
	}
	name, _ := json.Marshal(string(key))
	doc := append(append(append(append([]byte("{"), name...), ':'), l.data[start:l.pos]...), '}')
	return stdFault(decodeStd(doc, v.Addr().Interface()), true)
}

// decodeStd decodes one checked JSON value into dst with encoding/json, as
// the request decoding once did with all of it.
func decodeStd(text []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	return dec.Decode(dst)
}

// stdFault turns an error of decodeStd into a fault. A type error names
// its place below the value (in a member, from the struct, when named);
// other errors keep encoding/json's words, as describeJSONError gives them.
func stdFault(err error, named bool) error {
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &typ):
		return &fieldError{message: describeJSONError(err)}
	case typ.Field == "":
		return &fieldError{want: typ.Type, got: valueKind(typ)}
	}
	return &fieldError{rev: []segment{{key: typ.Field, index: -1}}, named: named,
		want: typ.Type, got: valueKind(typ)}
}
