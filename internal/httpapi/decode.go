package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// decoderFor builds the strict decoder of request type T, once per handler.
// It decodes a body that admission has read and checked for type and size
// into dst: a single value with no unknown field, no repeated key and no
// wrong type (400).
func decoderFor[T any]() func(body []byte, dst *T) error {
	p := compile(reflect.TypeFor[T]())
	return func(body []byte, dst *T) error { return p.unmarshal(body, reflect.ValueOf(dst).Elem()) }
}

// unmarshalStrict is decoderFor for one body, into any type.
func unmarshalStrict(body []byte, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	return compile(v.Type()).unmarshal(body, v)
}

// unmarshal decodes exactly one JSON value into v, refusing unknown fields,
// duplicate keys and trailing data. Numbers in free-form objects stay
// exact.
//
// encoding/json matches keys case-insensitively and lets the last of a
// repeated key win, so a gateway that reads keys exactly would see another
// request than ours ({"org_id": "a", "ORG_ID": "b"}). Keys here must be
// exactly a field's name, and no object, free-form ones included, may
// repeat one. A body is read once, and the first fault in document order
// is reported, malformed JSON first, as encoding/json reports it: it reads
// the whole value before decoding any of it (refuse).
func (p *plan) unmarshal(body []byte, v reflect.Value) error {
	l := lexer{data: body}
	if err := l.value(p, v); err != nil {
		return refuse(body, err)
	}
	return l.end()
}

// end checks what follows the value: white space only.
func (l *lexer) end() error {
	l.space()
	switch {
	case l.pos == len(l.data):
		return nil
	case l.data[l.pos] == ']' || l.data[l.pos] == '}':
		return badRequest("request body holds data after the JSON value")
	}
	return badRequest("request body holds more than one JSON value")
}

// refuse says why a body was refused: malformed JSON in its first value
// in encoding/json's words, or else the fault (a *fieldError) found.
func refuse(body []byte, fault error) error {
	if err := firstValueError(body); err != nil {
		return badRequest(describeJSONError(err))
	}
	if f, ok := fault.(*fieldError); ok {
		return badRequest(f.Error())
	}
	return badRequest("malformed JSON") // refused here, taken by encoding/json: not expected
}

// firstValueError is encoding/json's error reading the first JSON value of
// body, if it is malformed or missing.
func firstValueError(body []byte) error {
	var first json.RawMessage
	return json.NewDecoder(bytes.NewReader(body)).Decode(&first)
}

// requireJSON accepts application/json and any +json type.
func requireJSON(contentType string) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return &Error{
		Status:  http.StatusUnsupportedMediaType,
		Code:    codeUnsupportedMediaType,
		Message: "Content-Type must be application/json",
	}
}

// describeJSONError turns encoding/json's errors other than type errors
// (which stdFault places) into messages that never echo the body (which
// may hold a token).
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "request body is empty"
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// typeMessage says what the field at path must hold. A number refused by a
// numeric field is out of its range (or, for an integer, not whole).
func typeMessage(path string, want reflect.Type, got string) string {
	switch k := want.Kind(); {
	case got == "number" && k >= reflect.Int && k <= reflect.Uintptr:
		return fmt.Sprintf("field %q must be a whole number that fits %s", path, k)
	case got == "number" && (k == reflect.Float32 || k == reflect.Float64):
		return fmt.Sprintf("field %q must be a number that fits %s", path, k)
	}
	return fmt.Sprintf("field %q must be %s, not %s", path, jsonKind(want.Kind().String()), got)
}

// valueKind is the JSON kind a type error found ("number"), without the
// literal that encoding/json appends for numbers out of range ("number 1e400").
func valueKind(typ *json.UnmarshalTypeError) string {
	kind, _, _ := strings.Cut(typ.Value, " ")
	return kind
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "map", "struct", "ptr":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	}
	return "a number"
}
