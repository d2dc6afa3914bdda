package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestErrorMessagesReadAsWritten: error messages reach the caller with the
// full field path and without HTML escaping ("<" stays "<", not "\u003c").
func TestErrorMessagesReadAsWritten(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	tests := []struct {
		name, path, body string
		wantMessage      string
	}{
		{"check", "/v1/check", `{"action":"a","<b>&":1}`, `unknown field "<b>&"`},
		{"batch", "/v1/check/batch", `{"checks":[{"action":"a"},{"action":"b","resource":{"<org>":"x"}}]}`, `unknown field "checks[1].resource.<org>"`},
		{"batch type", "/v1/check/batch", `{"checks":[{"action":"a"},{"action":"b","resource":{"org_id":1}}]}`, `field "checks[1].resource.org_id" must be a string, not number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serveJSON(s.handler, http.MethodPost, tt.path, tt.body)
			raw := rec.Body.String()
			var got struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("POST %s: body %q is not the error envelope: %v", tt.path, raw, err)
			}
			if rec.Code != http.StatusBadRequest || got.Error.Message != tt.wantMessage {
				t.Errorf("POST %s %s = %d %q, want 400 %q", tt.path, tt.body, rec.Code, got.Error.Message, tt.wantMessage)
			}
			if strings.Contains(raw, `\u00`) {
				t.Errorf("POST %s: body %s escapes characters a person should read as written", tt.path, raw)
			}
		})
	}
}
