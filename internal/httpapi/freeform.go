package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// anyValue reads a free-form value (context, resource.attributes, the
// check of /v1/has) as encoding/json with UseNumber decodes it into an
// any: map[string]any, []any, json.Number, string, bool or nil. Unlike
// encoding/json it refuses a key repeated in an object and a number out
// of range (numberInRange).
func (l *lexer) anyValue() (any, error) {
	c, err := l.start()
	if err != nil {
		return nil, err
	}
	switch kindAt(c) {
	case "object":
		return l.anyObject()
	case "array":
		return l.anyArray()
	case "string":
		s, err := l.str()
		return string(s), err
	case "number":
		return l.anyNumber()
	case "bool", "null":
		word, err := l.literal()
		if word == "null" {
			return nil, err
		}
		return word == "true", err
	}
	return nil, errMalformed
}

func (l *lexer) anyObject() (map[string]any, error) {
	m := make(map[string]any)
	var name string
	err := l.object(func(key []byte) error {
		if _, dup := m[string(key)]; dup {
			return &fieldError{duplicate: true}
		}
		name = string(key)
		return nil
	}, func([]byte) error {
		v, err := l.anyValue()
		m[name] = v
		return err
	})
	return m, err
}

func (l *lexer) anyArray() ([]any, error) {
	a := make([]any, 0) // encoding/json gives [] as an empty slice, not nil
	err := l.array(func(int) error {
		v, err := l.anyValue()
		a = append(a, v)
		return err
	})
	return a, err
}

func (l *lexer) anyNumber() (any, error) {
	text, err := l.number()
	if err != nil {
		return nil, err
	}
	n := string(text)
	if !numberInRange(n) {
		return nil, &fieldError{outOfRange: true}
	}
	return json.Number(n), nil
}

// skim reads a value only to check it as anyValue does: no key repeated,
// no number out of range.
func (l *lexer) skim() error {
	c, err := l.start()
	if err != nil {
		return err
	}
	switch kindAt(c) {
	case "object":
		var seen keySet
		return l.object(func(key []byte) error {
			if seen.add(key) {
				return &fieldError{duplicate: true}
			}
			return nil
		}, func([]byte) error { return l.skim() })
	case "array":
		return l.array(func(int) error { return l.skim() })
	case "string":
		_, err := l.str()
		return err
	case "number":
		_, err := l.anyNumber()
		return err
	}
	_, err = l.literal()
	return err
}

// keySet holds the keys of one object: a short list while it is small, a
// map beyond, so that checking for duplicates stays linear. The keys are
// slices of the body (or unquoted copies), valid while it is read.
type keySet struct {
	list [][]byte
	set  map[string]struct{}
}

// add adds key and reports whether it was already there.
func (s *keySet) add(key []byte) (dup bool) {
	if s.set != nil {
		if _, dup = s.set[string(key)]; !dup {
			s.set[string(key)] = struct{}{}
		}
		return dup
	}
	for _, k := range s.list {
		if bytes.Equal(k, key) {
			return true
		}
	}
	if s.list = append(s.list, key); len(s.list) > 16 {
		s.set = make(map[string]struct{}, 2*len(s.list))
		for _, k := range s.list {
			s.set[string(k)] = struct{}{}
		}
		s.list = nil
	}
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
	mantissa, exponent := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa, exponent = s[:i], s[i+1:]
	}
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
