package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/verdict-pdp/verdict/internal/httpapi"
)

// newAdmissionHandler is the real router with a budget that holds exactly
// two small requests. It has no decider, so a well-formed check panics
// inside the handler: the recoverer answers 500 and admission must still
// release the request's weight.
func newAdmissionHandler(t *testing.T) http.Handler {
	t.Helper()
	return httpapi.New(httpapi.Deps{
		Ready:   func() error { return nil },
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
		Logger:  slog.New(slog.DiscardHandler),
		Limits:  httpapi.Limits{MaxInflightBytes: 8 << 10}, // two requests of the 4 KiB minimum weight
	})
}

// heldRequest is a decision request admitted and parked in its body read
// until release is called.
type heldRequest struct {
	pw   *io.PipeWriter
	done chan *httptest.ResponseRecorder
}

func holdRequest(t *testing.T, h http.Handler, path string) *heldRequest {
	t.Helper()
	pr, pw := io.Pipe()
	req := httptest.NewRequest(http.MethodPost, path, pr)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 100
	held := &heldRequest{pw: pw, done: make(chan *httptest.ResponseRecorder, 1)}
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		held.done <- rec
	}()
	// The write returns only once the handler reads the body: admitted.
	if _, err := pw.Write([]byte("{")); err != nil {
		t.Fatal(err)
	}
	return held
}

func (h *heldRequest) release() *httptest.ResponseRecorder {
	_ = h.pw.CloseWithError(io.ErrUnexpectedEOF)
	return <-h.done
}

// TestAdmission: while the budget is held, decision requests are refused
// with 503, Retry-After and the overloaded envelope; health, readiness and
// metrics still answer; and every request gives its weight back, whether it
// succeeded, failed or panicked.
func TestAdmission(t *testing.T) {
	t.Parallel()
	h := newAdmissionHandler(t)

	// Requests that fail and requests that panic, many more than the
	// budget holds: none may leak its weight.
	for range 10 {
		for _, path := range []string{"/v1/check", "/v1/check/batch", "/v1/authenticate", "/v1/has"} {
			if rec := serveJSON(h, http.MethodPost, path, `{`); rec.Code != http.StatusBadRequest {
				t.Fatalf("malformed POST %s = %d %s, want 400", path, rec.Code, rec.Body)
			}
		}
		if rec := serveJSON(h, http.MethodPost, "/v1/check", `{"action":"tasks:read"}`); rec.Code != http.StatusInternalServerError {
			t.Fatalf("POST /v1/check without a decider = %d %s, want 500 from the recoverer", rec.Code, rec.Body)
		}
	}

	// Two small requests fit: had anything leaked, the second would be refused.
	a := holdRequest(t, h, "/v1/check")
	b := holdRequest(t, h, "/v1/has")

	for _, path := range []string{"/v1/check", "/v1/check/batch", "/v1/authenticate", "/v1/has"} {
		rec := serveJSON(h, http.MethodPost, path, `{"action":"tasks:read"}`)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("POST %s over budget = %d (Retry-After %q), want 503 with Retry-After: 1", path, rec.Code, rec.Header().Get("Retry-After"))
		}
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code != "overloaded" || env.Error.Message == "" {
			t.Errorf("POST %s over budget body = %s, want the overloaded envelope", path, rec.Body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if rec := serveJSON(h, http.MethodGet, path, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s while the budget is held = %d, want 200", path, rec.Code)
		}
	}

	if rec := a.release(); rec.Code != http.StatusBadRequest {
		t.Errorf("released request = %d %s, want 400 (truncated body)", rec.Code, rec.Body)
	}
	if rec := serveJSON(h, http.MethodPost, "/v1/check", `{`); rec.Code != http.StatusBadRequest {
		t.Errorf("POST /v1/check after a release = %d, want it admitted (400)", rec.Code)
	}
	b.release()
}

// TestAdmissionWeighsBodies: a request that declares a large body is refused
// while small ones are in flight, even though a small one would still fit;
// a body too large for the whole budget is admitted when it is alone.
func TestAdmissionWeighsBodies(t *testing.T) {
	t.Parallel()
	h := newAdmissionHandler(t)
	big := `{"action":"tasks:read","resource":{"attributes":{"a":"` + strings.Repeat("x", 16<<10) + `"}}}`

	if rec := serveJSON(h, http.MethodPost, "/v1/check", big); rec.Code == http.StatusServiceUnavailable {
		t.Errorf("a large body alone = 503, want it admitted")
	}
	held := holdRequest(t, h, "/v1/check")
	if rec := serveJSON(h, http.MethodPost, "/v1/check", big); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a large body beside a held one = %d, want 503", rec.Code)
	}
	held.release()
}

// TestAdmissionConcurrent: under concurrent load every request is either
// answered or refused with 503, and the budget is whole afterwards.
func TestAdmissionConcurrent(t *testing.T) {
	t.Parallel()
	h := newAdmissionHandler(t)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if rec := serveJSON(h, http.MethodPost, "/v1/check", `{`); rec.Code != http.StatusBadRequest && rec.Code != http.StatusServiceUnavailable {
				t.Errorf("POST /v1/check = %d, want 400 or 503", rec.Code)
			}
		})
	}
	wg.Wait()
	a, b := holdRequest(t, h, "/v1/check"), holdRequest(t, h, "/v1/check")
	a.release()
	b.release()
}

// TestAdmissionRefusesOversizeBodiesFirst: a body declared over the body
// limit is a 413 at once, even while the budget is held: it never waits
// for, or takes, budget it could not use.
func TestAdmissionRefusesOversizeBodiesFirst(t *testing.T) {
	t.Parallel()
	h := newAdmissionHandler(t)
	held := holdRequest(t, h, "/v1/check")
	defer held.release()
	huge := `{"action":"tasks:read","context":{"pad":"` + strings.Repeat("x", int(httpapi.DefaultLimits.MaxBodyBytes)) + `"}}`
	rec := serveJSON(h, http.MethodPost, "/v1/check", huge)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusRequestEntityTooLarge || e.Error.Code != "payload_too_large" {
		t.Errorf("an oversize body while the budget is held = %d %s, want 413 payload_too_large", rec.Code, rec.Body)
	}
}
