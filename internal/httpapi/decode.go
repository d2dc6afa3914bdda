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

// decodeJSON decodes the request body, which admission has read and
// checked for type and size, into dst, strictly: a single value with no
// unknown fields and no wrong types (400).
func decodeJSON(r *http.Request, dst any) error {
	return unmarshalStrict(requestBody(r), dst)
}

// unmarshalStrict decodes exactly one JSON value into dst, refusing unknown
// fields, duplicate keys and trailing data. Numbers in free-form objects
// stay exact.
//
// encoding/json matches keys case-insensitively and lets the last of a
// repeated key win, so a gateway that reads keys exactly would see another
// request than ours ({"org_id": "a", "ORG_ID": "b"}). One strict pass over
// the body (scanBody) refuses both before encoding/json's result is used;
// faults are reported in document order, malformed JSON first, as
// encoding/json reports them.
func unmarshalStrict(body []byte, dst any) error {
	s := scanBody(body, reflect.TypeOf(dst))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(dst)
	switch {
	case err != nil && !isFieldError(err):
		return badRequest(describeJSONError(err))
	case s.strict != nil && s.strict == s.first:
		return badRequest(s.strict.Error())
	case err != nil:
		return badRequest(describeJSONError(s.locate(err)))
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

// isFieldError reports an error encoding/json finds in a well-formed body:
// a value of the wrong type or an unknown field.
func isFieldError(err error) bool {
	var typ *json.UnmarshalTypeError
	return errors.As(err, &typ) || strings.HasPrefix(err.Error(), "json: unknown field ")
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

// describeJSONError turns decoder errors into messages that name the field
// and never echo the body (which may hold a token).
func describeJSONError(err error) string {
	var field *fieldError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &field):
		return field.Error()
	case errors.Is(err, io.EOF):
		return "request body is empty"
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	case errors.As(err, &typ):
		if typ.Field != "" {
			return typeMessage(typ.Field, typ.Type, valueKind(typ))
		}
		return fmt.Sprintf("request body must be a JSON object, not %s", valueKind(typ))
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
