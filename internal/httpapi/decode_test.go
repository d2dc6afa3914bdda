package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeCheckRequest(t *testing.T) {
	t.Parallel()
	const check, batch = "/v1/check", "/v1/check/batch"
	tests := []struct {
		name        string
		path        string // the endpoint whose request type body is decoded into
		contentType string
		body        string
		wantStatus  int // 0: decodes and validates
		wantMessage string
	}{
		{"minimal", check, "application/json", `{"action":"tasks:read"}`, 0, ""},
		{"full", check, "application/json; charset=utf-8", `{"token":"t","action":"a","resource":{"type":"x","id":"1","org_id":"o","org_slug":"s","owner_id":"u","attributes":{"n":1}},"context":{"ip":"1.2.3.4"}}`, 0, ""},
		{"json suffix type", check, "application/vnd.verdict+json", `{"action":"a"}`, 0, ""},
		{"null resource", check, "application/json", `{"action":"a","resource":null}`, 0, ""},
		{"nested attributes are free-form", check, "application/json", `{"action":"a","resource":{"attributes":{"orgId":{"org":[1,{"x":null}]}}},"context":{"a":{"b":true}}}`, 0, ""},
		{"not json", check, "text/plain", `{"action":"a"}`, 415, "Content-Type must be application/json"},
		{"no content type", check, "", `{"action":"a"}`, 415, "Content-Type must be application/json"},
		{"malformed", check, "application/json", `{"action":`, 400, "malformed JSON: unexpected end of input"},
		{"syntax", check, "application/json", `{"action" "a"}`, 400, "malformed JSON at byte 11"},
		{"empty body", check, "application/json", ``, 400, "request body is empty"},
		{"unknown field", check, "application/json", `{"action":"a","tokn":"x"}`, 400, `unknown field "tokn"`},
		{"unknown resource field", check, "application/json", `{"action":"a","resource":{"orgId":"o"}}`, 400, `unknown field "resource.orgId"`},
		{"empty field name", check, "application/json", `{"action":"a","":1}`, 400, `unknown field ""`},
		{"unknown field is not escaped", check, "application/json", `{"action":"a","<b>&":1}`, 400, `unknown field "<b>&"`},
		{"missing action", check, "application/json", `{"token":"t"}`, 400, `"action" is required and must be a non-empty string`},
		{"empty action", check, "application/json", `{"action":""}`, 400, `"action" is required and must be a non-empty string`},
		{"action wrong type", check, "application/json", `{"action":7}`, 400, `field "action" must be a string, not number`},
		{"resource wrong type", check, "application/json", `{"action":"a","resource":"org_1"}`, 400, `field "resource" must be an object, not string`},
		{"context wrong type", check, "application/json", `{"action":"a","context":[]}`, 400, `field "context" must be an object, not array`},
		{"org_id wrong type", check, "application/json", `{"action":"a","resource":{"org_id":1}}`, 400, `field "resource.org_id" must be a string, not number`},
		{"attributes wrong type", check, "application/json", `{"action":"a","resource":{"attributes":[1]}}`, 400, `field "resource.attributes" must be an object, not array`},
		{"keys match exactly", check, "application/json", `{"action":"a","Resource":{"ORG_ID":1}}`, 400, `unknown field "Resource"`},
		{"token in another case", check, "application/json", `{"token":"member","TOKEN":"admin","action":"a"}`, 400, `unknown field "TOKEN"`},
		{"action in another case", check, "application/json", `{"action":"tasks:read","ACTION":"org:sys_memberships:manage"}`, 400, `unknown field "ACTION"`},
		{"org_id in another case", check, "application/json", `{"action":"a","resource":{"org_id":"org_acme","ORG_ID":"org_evil"}}`, 400, `unknown field "resource.ORG_ID"`},
		{"duplicate action", check, "application/json", `{"action":"tasks:read","action":"org:sys_memberships:manage"}`, 400, `duplicate key "action"`},
		{"duplicate escaped key", check, "application/json", `{"action":"a","\u0061ction":"b"}`, 400, `duplicate key "action"`},
		{"duplicate token", check, "application/json", `{"token":"member","action":"a","token":"admin"}`, 400, `duplicate key "token"`},
		{"duplicate org_id", check, "application/json", `{"action":"a","resource":{"org_id":"org_acme","org_id":"org_evil"}}`, 400, `duplicate key "resource.org_id"`},
		{"duplicate in attributes", check, "application/json", `{"action":"a","resource":{"attributes":{"owner":"u1","owner":"u2"}}}`, 400, `duplicate key "resource.attributes.owner"`},
		{"duplicate deep in attributes", check, "application/json", `{"action":"a","resource":{"attributes":{"a":[1,{"b":{}}],"c":[{},{"d":0,"d":1}]}}}`, 400, `duplicate key "resource.attributes.c[1].d"`},
		{"duplicate in context", check, "application/json", `{"action":"a","context":{"ip":"10.0.0.1","ip":"1.2.3.4"}}`, 400, `duplicate key "context.ip"`},
		{"duplicate in a mistyped value", check, "application/json", `{"action":"a","resource":{"org_id":{"a":1,"a":2}}}`, 400, `field "resource.org_id" must be a string, not object`},
		{"duplicate among many keys", check, "application/json", `{"action":"a","context":{` + manyKeys(40) + `,"k7":0}}`, 400, `duplicate key "context.k7"`},
		{"malformed after a duplicate", check, "application/json", `{"action":"a","action":"b"`, 400, "malformed JSON: unexpected end of input"},
		{"free-form keys differing in case", check, "application/json", `{"action":"a","resource":{"attributes":{"ip":1,"IP":2}},"context":{"a":{"b":1,"B":2}}}`, 0, ""},
		{"same key in sibling objects", check, "application/json", `{"action":"a","context":{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}}`, 0, ""},
		{"array body", check, "application/json", `[]`, 400, "request body must be a JSON object, not array"},
		{"two values", check, "application/json", `{"action":"a"}{"action":"b"}`, 400, "request body holds more than one JSON value"},
		{"number overflows", check, "application/json", `{"action":"a","context":{"n":1e999999}}`, 400, `number out of range at "context.n"`},
		{"number overflows in an array", check, "application/json", `{"action":"a","resource":{"attributes":{"a":[1,-1e309]}}}`, 400, `number out of range at "resource.attributes.a[1]"`},
		{"zero with an exponent past int64", check, "application/json", `{"action":"a","context":{"n":0e99999999999999999999}}`, 400, `number out of range at "context.n"`},
		{"zero with a long exponent", check, "application/json", `{"action":"a","context":{"n":0.0e-00000}}`, 400, `number out of range at "context.n"`},
		{"number underflows", check, "application/json", `{"action":"a","context":{"n":1e-400}}`, 400, `number out of range at "context.n"`},
		{"number out of range in a batch", batch, "application/json", `{"checks":[{"action":"a"},{"action":"b","context":{"x":{"n":2E400}}}]}`, 400, `number out of range at "checks[1].context.x.n"`},
		{"numbers in range, kept exact", check, "application/json", `{"action":"a","context":{"z":0e9999,"m":-0.0E-5000,"e":1E+0300,"big":123456789012345678901234567890,"max":1.7976931348623157e308,"tiny":5e-324}}`, 0, ""},
		{"too large", check, "application/json", `{"action":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "request body is larger than 1048576 bytes"},

		{"batch", batch, "application/json", `{"token":"t","checks":[{"action":"a"},{"action":"b","resource":{"org_id":"o"}}]}`, 0, ""},
		{"batch nested attributes are free-form", batch, "application/json", `{"checks":[{"action":"a","resource":{"attributes":{"org":{"deep":[[{}]]}}},"context":{"org":1}}]}`, 0, ""},
		{"batch unknown field", batch, "application/json", `{"checks":[{"action":"a"}],"trace":true}`, 400, `unknown field "trace"`},
		{"batch unknown item field", batch, "application/json", `{"checks":[{"action":"a","tokn":"x"}]}`, 400, `unknown field "checks[0].tokn"`},
		{"batch unknown resource field", batch, "application/json", `{"checks":[{"action":"a"},{"action":"b","resource":{"org":"x"}}]}`, 400, `unknown field "checks[1].resource.org"`},
		{"batch org_id wrong type", batch, "application/json", `{"checks":[{"action":"a"},{"action":"b","resource":{"org_id":1}}]}`, 400, `field "checks[1].resource.org_id" must be a string, not number`},
		{"batch item wrong type", batch, "application/json", `{"checks":[{"action":"a"},"b"]}`, 400, `field "checks[1]" must be an object, not string`},
		{"batch checks wrong type", batch, "application/json", `{"checks":{"action":"a"}}`, 400, `field "checks" must be an array, not object`},
		{"batch first fault wins", batch, "application/json", `{"checks":[{"action":"a","resource":{"org_id":1}},{"action":"b","x":1}]}`, 400, `field "checks[0].resource.org_id" must be a string, not number`},
		{"batch action in another case", batch, "application/json", `{"checks":[{"action":"a"},{"action":"b","ACTION":"c"}]}`, 400, `unknown field "checks[1].ACTION"`},
		{"batch duplicate token", batch, "application/json", `{"token":"member","checks":[{"action":"a"}],"token":"admin"}`, 400, `duplicate key "token"`},
		{"batch duplicate org_id", batch, "application/json", `{"checks":[{"action":"a"},{"action":"b","resource":{"org_id":"org_acme","org_id":"org_evil"}}]}`, 400, `duplicate key "checks[1].resource.org_id"`},
		{"batch duplicate in context", batch, "application/json", `{"checks":[{"action":"a","context":{"n":[{"x":1,"x":1}]}}]}`, 400, `duplicate key "checks[0].context.n[0].x"`},
		{"batch type fault before duplicate", batch, "application/json", `{"checks":[{"action":1},{"action":"b","action":"c"}]}`, 400, `field "checks[0].action" must be a string, not number`},
		{"batch missing action", batch, "application/json", `{"checks":[{"action":"a"},{}]}`, 400, `checks[1]: "action" is required and must be a non-empty string`},
		{"action at the limit", check, "application/json", `{"action":"` + strings.Repeat("a", 256) + `"}`, 0, ""},
		{"action too long", check, "application/json", `{"action":"` + strings.Repeat("a", 257) + `"}`, 400, `"action" must be at most 256 bytes, not 257`},
		{"resource id too long", check, "application/json", `{"action":"a","resource":{"id":"` + strings.Repeat("i", 257) + `"}}`, 400, `"resource.id" must be at most 256 bytes, not 257`},
		{"resource type too long", check, "application/json", `{"action":"a","resource":{"type":"` + strings.Repeat("t", 1000) + `"}}`, 400, `"resource.type" must be at most 256 bytes, not 1000`},
		{"resource org_id too long", check, "application/json", `{"action":"a","resource":{"org_id":"` + strings.Repeat("o", 257) + `"}}`, 400, `"resource.org_id" must be at most 256 bytes, not 257`},
		{"resource org_slug too long", check, "application/json", `{"action":"a","resource":{"org_slug":"` + strings.Repeat("s", 257) + `"}}`, 400, `"resource.org_slug" must be at most 256 bytes, not 257`},
		{"resource owner_id too long", check, "application/json", `{"action":"a","resource":{"owner_id":"` + strings.Repeat("u", 257) + `"}}`, 400, `"resource.owner_id" must be at most 256 bytes, not 257`},
		{"batch action too long", batch, "application/json", `{"checks":[{"action":"a"},{"action":"` + strings.Repeat("a", 257) + `"}]}`, 400, `checks[1]: "action" must be at most 256 bytes, not 257`},
		{"batch resource id too long", batch, "application/json", `{"checks":[{"action":"a","resource":{"id":"` + strings.Repeat("i", 300) + `"}}]}`, 400, `checks[0]: "resource.id" must be at most 256 bytes, not 300`},
		{"batch empty", batch, "application/json", `{"checks":[]}`, 400, `"checks" must hold between 1 and 100 checks, not 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			err := decodeAndValidate(r)
			var e *Error
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Fatalf("decode(%s) = %v, want success", tt.body, err)
			case tt.wantStatus == 0:
				return
			case !errors.As(err, &e):
				t.Fatalf("decode(%.40s) = %v, want *Error %d", tt.body, err, tt.wantStatus)
			}
			if e.Status != tt.wantStatus || e.Message != tt.wantMessage {
				t.Errorf("decode(%.40s) = %d %q, want %d %q", tt.body, e.Status, e.Message, tt.wantStatus, tt.wantMessage)
			}
		})
	}
}

// decodeAndValidate admits r as the decision routes do (type, size), then
// decodes its body into the request type of its path, as the handler does,
// and validates it.
func decodeAndValidate(r *http.Request) error {
	a := newAdmission(DefaultLimits.MaxInflightBytes, DefaultLimits.MaxBodyBytes)
	body, weight, err := a.admit(httptest.NewRecorder(), r)
	if err != nil {
		return err
	}
	defer a.working.release(weight)
	if r.URL.Path == "/v1/check/batch" {
		var req batchRequest
		if err := unmarshalStrict(body, &req); err != nil {
			return err
		}
		_, err := req.checks(DefaultLimits.MaxBatch, true)
		return err
	}
	var req checkRequest
	if err := unmarshalStrict(body, &req); err != nil {
		return err
	}
	_, err = req.check(true)
	return err
}

// FuzzDecodeCheck feeds arbitrary bodies to the request decoder: it must
// never panic, must classify every failure as a client error, and must never
// echo the body (which may hold a token) into the message. A body it accepts
// must hold no duplicate key and decode to what its keys, read exactly, say
// (checkExact). For every request type, /v1/has's included, it must answer
// exactly as the reference, the two-pass decoder built on encoding/json
// that it replaced, does (sameAsReference).
func FuzzDecodeCheck(f *testing.F) {
	for _, seed := range []string{
		`{"action":"tasks:read"}`,
		`{"token":"eyJhbGciOiJSUzI1NiJ9.e30.sig","action":"org:sys_memberships:manage","resource":{"org_id":"org_1"}}`,
		`{"token":"secret-token-value","action":5}`,
		`{"action":"a","context":{"n":1e400}}`,
		`{"action":"a","context":{"n":[0e99999,1e-99999]}}`,
		`{"action":"a","context":{"n":0e99999999999999999999,"m":0e-9223372036854775809}}`,
		`{"action":"a","resource":{"attributes":{"deep":[[[[{}]]]]}}}`,
		`{"checks":[{"action":"a"}]}`,
		`{"checks":[{"action":"a"},{"action":"b","resource":{"org":"secret-token-value"}}]}`,
		`{"checks":[{"action":"a","RESOURCE":{"Org_Id":1}},"secret-token-value"]}`,
		`{"checks":[[{"action":{"x":[1,2,{"y":null}]}}]],"token":{"secret-token-value":1}}`,
		"\x00\xff{",
		`{"action":"\ud800"}`,
		`{"checks":[{"action":"a","\ud800":1}]}`,
		`{"":0}`,
		`{"token":"a","TOKEN":"b","action":"x"}`,
		`{"action":"a","resource":{"org_id":"o","org_id":"p","attributes":{"k":1,"K":{"z":[{"y":1,"y":2}]}}}}`,
		`{"checks":[{"action":"a","context":{"\u0061":1,"a":2}}],"Checks":[]}`,
		`{"action":"a\ud83d\ude00\udc00\ud800\u0041\n\/","context":{"\u00e9\xff":"\t"}} `,
		"{\"action\":\"\xed\xa0\x80\xc3\"}",
		`{"action":"a"}]`,
		`{"action":"a"} {"action":"b"}`,
		`{"action":"a"},`,
		`{"token":{"a":1,"a":2},"check":{"n":[-0.0e-0]},"TOKEN":7}`,
		`{"check":{"role":"org:admin"},"token":null}[`,
		`[{"check":{}}]`,
		`{"explain":tru}`,
		`{"explain":true,"context":{"n":01}}`,
		` 	{"action" : "a" , "resource" : { "org_id" : null } }` + "\r\n",
		`{"action":"a","secret-token-value":"secret-token-value"}`,
	} {
		f.Add(seed)
	}
	decodeCheck, decodeBatch := decoderFor[checkRequest](), decoderFor[batchRequest]()
	decodeAuthenticate := decoderFor[authenticateRequest]()
	f.Fuzz(func(t *testing.T, body string) {
		sameAsReference(t, []byte(body), decodeCheck)
		sameAsReference(t, []byte(body), decodeBatch)
		sameAsReference(t, []byte(body), decodeAuthenticate)
		hasSameAsReference(t, []byte(body))

		var single checkRequest
		err := unmarshalStrict([]byte(body), &single)
		if err == nil {
			checkExact(t, []byte(body), &single)
			_, err = single.check(true)
		}
		checkClientError(t, []byte(body), err)
		checkLocated(t, []byte(body), &checkRequest{})

		var batch batchRequest
		err = unmarshalStrict([]byte(body), &batch)
		if err == nil {
			checkExact(t, []byte(body), &batch)
			_, err = batch.checks(DefaultLimits.MaxBatch, true)
		}
		checkClientError(t, []byte(body), err)
		checkLocated(t, []byte(body), &batchRequest{})

		_, err = decodeHasRequest([]byte(body))
		checkClientError(t, []byte(body), err)
	})
}

// checkLocated walks arbitrary bytes (which must not panic) and checks that
// every unknown field, and every type error below the top level, that
// encoding/json reports is located by the reference's walk, so no message
// of the reference (and so of the decoder, which must agree with it) loses
// its path, unless the walk found a key fault before it, which is reported
// instead.
func checkLocated(t *testing.T, body []byte, dst any) {
	t.Helper()
	s := refScanBody(body, reflect.TypeOf(dst))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(dst)
	var typ *json.UnmarshalTypeError
	unknown := err != nil && strings.HasPrefix(err.Error(), "json: unknown field ")
	if !unknown && !(errors.As(err, &typ) && typ.Field != "") || s.strict != nil && s.strict == s.first {
		return
	}
	var field *refFault
	if !errors.As(s.locate(err), &field) {
		t.Fatalf("%v was not located in %q", err, body)
	}
}

// sameAsReference decodes body with decode and with the reference
// decoder the service had before (refUnmarshalStrict): both must refuse it
// with the same error, or both take it and decode the same value.
func sameAsReference[T any](t *testing.T, body []byte, decode func([]byte, *T) error) {
	t.Helper()
	var got, want T
	err := decode(body, &got)
	wantErr := refUnmarshalStrict(body, &want)
	if !sameError(err, wantErr) {
		t.Fatalf("decode %T of %q = %v, the reference says %v", got, body, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %T of %q = %#v, the reference decodes %#v", got, body, got, want)
	}
}

// hasSameAsReference is sameAsReference for the body of /v1/has.
func hasSameAsReference(t *testing.T, body []byte) {
	t.Helper()
	got, err := decodeHasRequest(body)
	want, wantErr := refDecodeHasRequest(body)
	if !sameError(err, wantErr) {
		t.Fatalf("decodeHasRequest(%q) = %v, the reference says %v", body, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeHasRequest(%q) = %#v, the reference decodes %#v", body, got, want)
	}
}

// sameError reports whether two decode errors would answer the same.
func sameError(a, b error) bool {
	var ea, eb *Error
	switch {
	case a == nil || b == nil:
		return a == nil && b == nil
	case !errors.As(a, &ea) || !errors.As(b, &eb):
		return false
	}
	return ea.Status == eb.Status && ea.Code == eb.Code && ea.Message == eb.Message
}

// checkClientError checks that a refusal is a 400 whose message never
// echoes a value of the body. It may name a key, as sent: that is how an
// unknown field is named ({"secret-token-value":1} names it).
func checkClientError(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Fatalf("decode error %v is not a 400", err)
	}
	if strings.Contains(e.Message, "secret-token-value") && !hasKey(body, "secret-token-value") {
		t.Fatalf("message %q echoes the body", e.Message)
	}
}

// TestLocateJSONError checks the decoder on types the request bodies do not
// use yet, so a new request field keeps its path, and that what it leaves
// to encoding/json (decodeStd) keeps encoding/json's own path rather than a
// wrong one.
func TestLocateJSONError(t *testing.T) {
	t.Parallel()
	type Inner struct {
		Level int8 `json:"level"`
	}
	type doc struct {
		Inner
		Count  uint             `json:"count"`
		Quoted int              `json:"quoted,string"`
		Pair   [2]bool          `json:"pair"`
		Raw    []byte           `json:"raw"`
		Labels map[string]int   `json:"labels"`
		When   time.Time        `json:"when"`
		Free   json.RawMessage  `json:"free"`
		Nested []map[string]any `json:"nested"`
		Skip   string           `json:"-"`
		hidden string
	}
	tests := []struct {
		body, want string // want "": decodes
	}{
		{`{"count":2,"pair":[true,false],"raw":"AA==","labels":{"a":1},"when":"2025-01-01T00:00:00Z","free":[1],"nested":[{"x":[]}]}`, ""},
		{`{"count":"1"}`, `field "count" must be a number, not string`},
		{`{"pair":[true,1]}`, `field "pair[1]" must be a boolean, not number`},
		{`{"raw":[1,"2"]}`, `field "raw[1]" must be a number, not string`},
		{`{"labels":{"a":1,"b":"2"}}`, `field "labels.b" must be a number, not string`},
		{`{"labels":{"a":{"b":1}}}`, `field "labels.a" must be a number, not object`},
		{`{"nested":[{},[]]}`, `field "nested[1]" must be an object, not array`},
		{`{"nested":[{"x":1}],"Skip":"s"}`, `unknown field "Skip"`},
		{`{"hidden":"h"}`, `unknown field "hidden"`},
		{`{"COUNT":2,"Labels":{"a":true}}`, `unknown field "COUNT"`},
		{`{"labels":{"a":1,"a":2}}`, `duplicate key "labels.a"`},
		{`{"free":{"a":[{"b":1,"b":2}]}}`, `duplicate key "free.a[0].b"`},
		{`{"nested":[{"x":1},{"x":1,"x":2}]}`, `duplicate key "nested[1].x"`},
		{`{"level":1,"count":1}`, ""},
		{`{"level":1,"LEVEL":2}`, `unknown field "LEVEL"`},
		{`{"level":{"a":1,"a":2}}`, `duplicate key "level.a"`},
		{`{"quoted":"3","Count":1}`, `unknown field "Count"`},
		{`{"quoted":"3","count":1,"count":2}`, `duplicate key "count"`},
		// As encoding/json words them: a number out of a field's range, and the
		// path of a promoted field, which it decodes (decodeStd).
		{`{"count":-1}`, `field "count" must be a whole number that fits uint`},
		{`{"nested":[{}],"level":"x"}`, `field "Inner.level" must be a number, not string`},
		{`{"quoted":"3","count":"x"}`, `field "count" must be a number, not string`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			err := unmarshalStrict([]byte(tt.body), &doc{})
			var e *Error
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unmarshalStrict(%s) = %v, want success", tt.body, err)
			case tt.want == "":
				return
			case !errors.As(err, &e):
				t.Fatalf("unmarshalStrict(%s) = %v, want *Error", tt.body, err)
			}
			if e.Message != tt.want {
				t.Errorf("unmarshalStrict(%s) = %q, want %q", tt.body, e.Message, tt.want)
			}
		})
	}
}

// TestExplainNeedsTheFlag: "explain": true is refused with
// explain_disabled unless the service runs with --explain, in a single
// check and in a batch item alike.
func TestExplainNeedsTheFlag(t *testing.T) {
	t.Parallel()
	single := checkRequest{Action: ptr("tasks:read"), Explain: true}
	batch := batchRequest{Checks: []checkFields{{Action: ptr("tasks:read")}, {Action: ptr("tasks:read"), Explain: true}}}
	for name, tt := range map[string]struct {
		check       func(explainable bool) error
		wantMessage string
	}{
		"single": {func(e bool) error { _, err := single.check(e); return err }, `"explain" needs the service to run with --explain`},
		"batch":  {func(e bool) error { _, err := batch.checks(10, e); return err }, `checks[1]: "explain" needs the service to run with --explain`},
	} {
		var e *Error
		if err := tt.check(false); !errors.As(err, &e) || e.Status != 400 || e.Code != codeExplainDisabled || !strings.HasPrefix(e.Message, tt.wantMessage) {
			t.Errorf("%s without --explain = %v, want 400 %s %q", name, err, codeExplainDisabled, tt.wantMessage)
		}
		if err := tt.check(true); err != nil {
			t.Errorf("%s with --explain = %v, want nil", name, err)
		}
	}
}

func ptr(s string) *string { return &s }

// BenchmarkDecodeCheckBody decodes a typical /v1/check body (a token of
// about 900 bytes, an action, a resource) with the decoder and with the
// reference it replaced.
func BenchmarkDecodeCheckBody(b *testing.B) {
	body := []byte(`{"token":"eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18yYWJjIiwidHlwIjoiSldUIn0.` + strings.Repeat("eyJzdWIiOiJ1c2VyXzEiLCJvcmdfaWQiOiJvcmdfMSJ9", 18) +
		`.c2lnbmF0dXJl","action":"tasks:read","resource":{"type":"task","id":"t1","org_id":"org_1","org_slug":"acme"}}`)
	decode := decoderFor[checkRequest]()
	for name, decode := range map[string]func([]byte, *checkRequest) error{
		"decoder":   decode,
		"reference": func(body []byte, req *checkRequest) error { return refUnmarshalStrict(body, req) },
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var req checkRequest
				if err := decode(body, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
