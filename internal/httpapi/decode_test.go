package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeCheckRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int // 0: decodes and validates
		wantMessage string
	}{
		{"minimal", "application/json", `{"action":"tasks:read"}`, 0, ""},
		{"full", "application/json; charset=utf-8", `{"token":"t","action":"a","resource":{"type":"x","id":"1","org_id":"o","org_slug":"s","owner_id":"u","attributes":{"n":1}},"context":{"ip":"1.2.3.4"}}`, 0, ""},
		{"json suffix type", "application/vnd.verdict+json", `{"action":"a"}`, 0, ""},
		{"null resource", "application/json", `{"action":"a","resource":null}`, 0, ""},
		{"not json", "text/plain", `{"action":"a"}`, 415, "Content-Type must be application/json"},
		{"no content type", "", `{"action":"a"}`, 415, "Content-Type must be application/json"},
		{"malformed", "application/json", `{"action":`, 400, "malformed JSON: unexpected end of input"},
		{"syntax", "application/json", `{"action" "a"}`, 400, "malformed JSON at byte 11"},
		{"empty body", "application/json", ``, 400, "request body is empty"},
		{"unknown field", "application/json", `{"action":"a","tokn":"x"}`, 400, `unknown field "tokn"`},
		{"unknown resource field", "application/json", `{"action":"a","resource":{"orgId":"o"}}`, 400, `unknown field "orgId"`},
		{"missing action", "application/json", `{"token":"t"}`, 400, `"action" is required and must be a non-empty string`},
		{"empty action", "application/json", `{"action":""}`, 400, `"action" is required and must be a non-empty string`},
		{"action wrong type", "application/json", `{"action":7}`, 400, `field "action" must be a string, not number`},
		{"resource wrong type", "application/json", `{"action":"a","resource":"org_1"}`, 400, `field "resource" must be an object, not string`},
		{"context wrong type", "application/json", `{"action":"a","context":[]}`, 400, `field "context" must be an object, not array`},
		{"org_id wrong type", "application/json", `{"action":"a","resource":{"org_id":1}}`, 400, `field "resource.org_id" must be a string, not number`},
		{"array body", "application/json", `[]`, 400, "request body must be a JSON object, not array"},
		{"two values", "application/json", `{"action":"a"}{"action":"b"}`, 400, "request body holds more than one JSON value"},
		{"too large", "application/json", `{"action":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "request body is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/v1/check", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			var req checkRequest
			err := decodeJSON(httptest.NewRecorder(), r, DefaultLimits.MaxBodyBytes, &req)
			if err == nil {
				_, err = req.check()
			}
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

// FuzzDecodeCheck feeds arbitrary bodies to the request decoder: it must
// never panic, must classify every failure as a client error, and must never
// echo the body (which may hold a token) into the message.
func FuzzDecodeCheck(f *testing.F) {
	for _, seed := range []string{
		`{"action":"tasks:read"}`,
		`{"token":"eyJhbGciOiJSUzI1NiJ9.e30.sig","action":"org:sys_memberships:manage","resource":{"org_id":"org_1"}}`,
		`{"token":"secret-token-value","action":5}`,
		`{"action":"a","context":{"n":1e400}}`,
		`{"action":"a","resource":{"attributes":{"deep":[[[[{}]]]]}}}`,
		`{"checks":[{"action":"a"}]}`,
		"\x00\xff{",
		`{"action":"\ud800"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var single checkRequest
		err := unmarshalStrict([]byte(body), &single)
		if err == nil {
			_, err = single.check()
		}
		checkClientError(t, err)

		var batch batchRequest
		err = unmarshalStrict([]byte(body), &batch)
		if err == nil {
			_, err = batch.checks(DefaultLimits.MaxBatch)
		}
		checkClientError(t, err)
	})
}

func checkClientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Fatalf("decode error %v is not a 400", err)
	}
	if strings.Contains(e.Message, "secret-token-value") {
		t.Fatalf("message %q echoes the body", e.Message)
	}
}
