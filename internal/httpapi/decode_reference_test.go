package httpapi

import (
	"reflect"
	"strings"
	"testing"
)

// TestDecodeMatchesReference holds the decoder to the reference it replaced
// (strictref_test.go) on bodies at the edges of JSON, where encoding/json's
// judgement and byte offsets are easy to get wrong: every request type,
// /v1/has's included, must answer each exactly as the reference does. The
// wanted /v1/check answer is written out too, to be read.
func TestDecodeMatchesReference(t *testing.T) {
	t.Parallel()
	decodeCheck, decodeBatch := decoderFor[checkRequest](), decoderFor[batchRequest]()
	decodeAuthenticate := decoderFor[authenticateRequest]()
	tests := []struct {
		name, body string
		want       string // the /v1/check answer; "" decodes
	}{
		{"white space only", " \t\r\n", "request body is empty"},
		{"byte order mark", "\xef\xbb\xbf{}", "malformed JSON at byte 1"},
		{"white space around", " \t{\"action\" :\r\n\"a\" } \n", ""},
		{"NUL after the value", "{\"action\":\"a\"}\x00", "request body holds more than one JSON value"},
		{"brace after the value", `{"action":"a"}}`, "request body holds data after the JSON value"},
		{"bracket after the value", `{"action":"a"} ]`, "request body holds data after the JSON value"},
		{"comma after the value", `{"action":"a"},`, "request body holds more than one JSON value"},
		{"word after the value", `{"action":"a"} x`, "request body holds more than one JSON value"},
		{"half a value after the value", `{"action":"a"}{`, "request body holds more than one JSON value"},
		{"fault before trailing data", `{"action":1}x`, `field "action" must be a string, not number`},
		{"unpaired high surrogate", `{"action":"\ud800"}`, ""},
		{"surrogate pair", `{"action":"\ud83d\ude00"}`, ""},
		{"surrogates in the wrong order", `{"action":"\udc00\ud800x"}`, ""},
		{"high surrogate before an escape", `{"action":"\ud800\u0041\n"}`, ""},
		{"escapes", `{"action":"\"\\\/\b\f\n\r\t\u00e9\u00E9"}`, ""},
		{"short unicode escape", `{"action":"\u12"}`, "malformed JSON at byte 16"},
		{"unknown escape", `{"action":"\x"}`, "malformed JSON at byte 13"},
		{"tab in a string", "{\"action\":\"a\tb\"}", "malformed JSON at byte 13"},
		{"invalid UTF-8", "{\"action\":\"\xff\xed\xa0\x80\xc3\"}", ""},
		{"invalid UTF-8 in a key", "{\"action\":\"a\",\"\xff\":1}", "unknown field \"\ufffd\""},
		{"escaped key differing from a field", `{"action":"a","\u0041ction":"b"}`, `unknown field "Action"`},
		{"minus alone", `{"action":-}`, "malformed JSON at byte 12"},
		{"leading zero", `{"action":01}`, "malformed JSON at byte 12"},
		{"no fraction digits", `{"action":1.}`, "malformed JSON at byte 13"},
		{"no integer part", `{"action":.5}`, "malformed JSON at byte 11"},
		{"no exponent digits", `{"action":1e+}`, "malformed JSON at byte 14"},
		{"minus zero", `{"action":-0}`, `field "action" must be a string, not number`},
		{"broken literal", `{"action":tru}`, "malformed JSON at byte 14"},
		{"long literal", `{"action":nulll}`, "malformed JSON at byte 15"},
		{"trailing comma", `{"action":"a",}`, "malformed JSON at byte 15"},
		{"comma first", `{,}`, "malformed JSON at byte 2"},
		{"key without value", `{"action"}`, "malformed JSON at byte 10"},
		{"missing comma", `{"action":"a" "b":1}`, "malformed JSON at byte 15"},
		{"array trailing comma", `[1,]`, "malformed JSON at byte 4"},
		{"cut literal", `nul`, "malformed JSON: unexpected end of input"},
		{"cut string", `{"action":"a`, "malformed JSON: unexpected end of input"},
		{"cut after a duplicate", `{"action":"a","action":"b",`, "malformed JSON: unexpected end of input"},
		{"cut after a number out of range", `{"context":{"a":1e400`, "malformed JSON: unexpected end of input"},
		{"number at the top", `1x`, "request body must be a JSON object, not number"},
		{"number out of range at the top", `1e400`, "request body must be a JSON object, not number"},
		{"bool at the top", `true`, "request body must be a JSON object, not bool"},
		{"null at the top", `null`, `"action" is required and must be a non-empty string`},
		{"nulls", `{"action":"a","explain":null,"resource":null,"context":null,"token":null}`, ""},
		{"explain as a string", `{"action":"a","explain":"true"}`, `field "explain" must be a boolean, not string`},
		{"explain out of range", `{"action":"a","explain":1e400}`, `field "explain" must be a boolean, not number`},
		{"numbers at the edge of range", `{"action":"a","context":{"n":[-0.0e-0000,1e0300,4.9e-324,1E+308]}}`, ""},
		{"number past the exponent digits", `{"action":"a","context":{"n":1e00001}}`, `number out of range at "context.n"`},
		{"empty key in free-form paths", `{"action":"a","context":{"":{"":[{"x":1,"x":2}]}}}`, `duplicate key "context..[0].x"`},
		{"batch field in a check", `{"checks":null}`, `unknown field "checks"`},
		{"deepest nesting", `{"action":"a","context":{"a":` + nested(9998) + `}}`, ""},
		{"too deep", `{"action":"a","context":{"a":` + nested(9999) + `}}`, "malformed JSON at byte 10028"},
		{"too deep at the top", nested(10001), "malformed JSON at byte 10001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.body)
			sameAsReference(t, body, decodeCheck)
			sameAsReference(t, body, decodeBatch)
			sameAsReference(t, body, decodeAuthenticate)
			hasSameAsReference(t, body)
			var req checkRequest
			err := decodeCheck(body, &req)
			if err == nil {
				_, err = req.check(true)
			}
			if got := errorMessage(err); got != tt.want {
				t.Errorf("decode %.60q = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

// TestHasDepth: /v1/has judges nesting as encoding/json does, refusing the
// 10001st open container as malformed; the reference's walk let one more
// level through and reported a fault inside it instead.
func TestHasDepth(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`{"check":` + nested(9998) + `}`, `"check" is required and must be an object`},
		{`{"check":` + strings.Repeat("[", 9998) + `{"a":1,"a":2}`, `duplicate key "check` + strings.Repeat("[0]", 9998) + `.a"`},
		{`{"check":` + strings.Repeat("[", 9999) + `{"a":1,"a":2}`, "malformed JSON at byte 10009"},
		{strings.Repeat("[", 10001) + `1e400`, "malformed JSON at byte 10001"},
	}
	for _, tt := range tests {
		req, err := decodeHasRequest([]byte(tt.body))
		if err == nil && req.Check == nil {
			err = badRequest(`"check" is required and must be an object`)
		}
		if got := errorMessage(err); got != tt.want {
			t.Errorf("decodeHasRequest(%.40q…) = %.80q, want %.80q", tt.body, got, tt.want)
		}
	}
}

// TestRecursiveType: a type that holds itself is planned whole, so keys
// below the first level are exact too (a plan that handed the inner value
// to encoding/json took "NEXT" for "next").
func TestRecursiveType(t *testing.T) {
	t.Parallel()
	type node struct {
		Next *node  `json:"next"`
		Kids []node `json:"kids"`
	}
	for body, want := range map[string]string{
		`{"next":{"next":{"kids":[{}]}}}`:      "",
		`{"next":{"NEXT":{}}}`:                 `unknown field "next.NEXT"`,
		`{"kids":[{},{"kids":[{"Kids":[]}]}]}`: `unknown field "kids[1].kids[0].Kids"`,
	} {
		var got, ref node
		err, refErr := unmarshalStrict([]byte(body), &got), refUnmarshalStrict([]byte(body), &ref)
		if errorMessage(err) != want || !sameError(err, refErr) {
			t.Errorf("unmarshalStrict(%s) = %v, want %q (the reference says %v)", body, err, want, refErr)
		}
	}
}

// TestRequestTypesArePlanned: every field of the request types, however
// deep, is decoded by the plan itself, never handed to encoding/json
// (planStd), which would match the keys inside it in any case.
func TestRequestTypesArePlanned(t *testing.T) {
	t.Parallel()
	for _, p := range []*plan{compile(reflect.TypeFor[checkRequest]()), compile(reflect.TypeFor[batchRequest]()),
		compile(reflect.TypeFor[authenticateRequest]())} {
		if std := findStd(p, map[*plan]bool{}); std != "" {
			t.Errorf("%s: %s is decoded by encoding/json", p.typ, std)
		}
	}
}

// findStd names a type in p that is decoded by encoding/json, or "".
func findStd(p *plan, seen map[*plan]bool) string {
	if seen[p] {
		return ""
	}
	seen[p] = true
	if p.kind == planStd {
		return p.typ.String()
	}
	for _, m := range p.members {
		if m.std {
			return p.typ.String() + " member of type " + m.plan.typ.String()
		}
		if std := findStd(m.plan, seen); std != "" {
			return std
		}
	}
	if p.elem != nil {
		return findStd(p.elem, seen)
	}
	return ""
}

// nested is n arrays, each inside the one before.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func errorMessage(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Message
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
