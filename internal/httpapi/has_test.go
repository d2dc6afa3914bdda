package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestHasRequests: /v1/has answers 400 only for malformed JSON or a missing
// or non-object check; everything else is a 200 answer.
func TestHasRequests(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	tests := []struct {
		name, body string
		status     int
		result     bool
		reason     string
	}{
		{"permission held", `{"token":"` + s.token + `","check":{"permission":"org:posts:publish"}}`, 200, true, "granted"},
		{"unknown top-level field ignored", `{"token":"` + s.token + `","check":{"role":"org:member"},"trace":true}`, 200, true, "granted"},
		{"wrong-typed check field", `{"token":"` + s.token + `","check":{"role":123}}`, 200, false, "invalid_check"},
		{"token not a string", `{"token":7,"check":{"role":"org:member"}}`, 200, false, "token_invalid"},
		{"no token", `{"check":{"role":"org:member"}}`, 200, false, "unauthenticated"},
		{"missing check", `{"token":"` + s.token + `"}`, 400, false, ""},
		{"check not an object", `{"token":"` + s.token + `","check":"role"}`, 400, false, ""},
		{"null check", `{"check":null}`, 400, false, ""},
		{"malformed JSON", `{"check":`, 400, false, ""},
		// Keys are exact and never repeated: "TOKEN" is not the token, and a
		// second "token" or "role" is refused rather than winning.
		{"a mis-cased token key is another field", `{"TOKEN":"` + s.token + `","check":{"role":"org:member"}}`, 200, false, "unauthenticated"},
		{"a mis-cased check key is another field", `{"token":"` + s.token + `","CHECK":{"role":"org:member"}}`, 400, false, ""},
		{"a duplicate token", `{"token":"x","token":"` + s.token + `","check":{"role":"org:member"}}`, 400, false, ""},
		{"a number out of range in the check", `{"token":"` + s.token + `","check":{"role":"org:member","n":1e999999}}`, 400, false, ""},
		{"a duplicate key in the check", `{"token":"` + s.token + `","check":{"role":"org:admin","role":"org:member"}}`, 400, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serveJSON(s.handler, http.MethodPost, "/v1/has", tt.body)
			var got struct {
				Result bool   `json:"result"`
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			if rec.Code != tt.status || (tt.status == 200 && (got.Result != tt.result || got.Reason != tt.reason)) {
				t.Errorf("POST /v1/has %s = %d %s, want %d result=%v reason=%s", tt.body, rec.Code, rec.Body, tt.status, tt.result, tt.reason)
			}
		})
	}
}
