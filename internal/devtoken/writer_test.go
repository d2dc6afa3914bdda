package devtoken

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWriteJSONRendersBeforeTheStatus: a value that cannot be rendered is
// answered 500 with the error envelope, never the status asked for with an
// empty body.
func TestWriteJSONRendersBeforeTheStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		v        any
		status   int
		wantCode string // the envelope's code; "" for a rendered value
	}{
		{"renders", map[string]any{"token": "t"}, http.StatusOK, ""},
		{"NaN", map[string]any{"claims": math.NaN()}, http.StatusInternalServerError, "internal"},
		{"channel", map[string]any{"claims": make(chan int)}, http.StatusInternalServerError, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			writeJSON(rec, http.StatusOK, tt.v)
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			if rec.Code != tt.status || body.Error.Code != tt.wantCode {
				t.Errorf("writeJSON = %d %s, want %d with error code %q", rec.Code, rec.Body, tt.status, tt.wantCode)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}
