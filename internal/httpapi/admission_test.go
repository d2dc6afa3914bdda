package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// newAdmissionHandler is the real router with a working budget that holds
// exactly two small requests (8 KiB) and so a receiving budget of 64 KiB. It has no decider, so a well-formed check panics
// inside the handler: the recoverer answers 500 and admission must still
// release the request's weight.
func newAdmissionHandler(t *testing.T) http.Handler {
	t.Helper()
	return New(Deps{
		Ready:   func() error { return nil },
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
		Logger:  slog.New(slog.DiscardHandler),
		Limits:  Limits{MaxInflightBytes: 8 << 10}, // two requests of the 4 KiB minimum weight
	})
}

// stallBody opens a connection to srv, sends a POST to path declaring a
// body of declared bytes, sends the first len(sent) of them and stalls
// until the test ends.
func stallBody(t *testing.T, srv *httptest.Server, path string, declared int, sent []byte) {
	t.Helper()
	stall(t, srv, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: verdict\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, declared), sent)
}

// stall opens a connection to srv, sends head and then body, and leaves
// the connection open until the test ends.
func stall(t *testing.T, srv *httptest.Server, head string, body []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write(append([]byte(head), body...)); err != nil {
		t.Fatal(err)
	}
}

// post sends body to srv's path over the loopback.
func post(t *testing.T, srv *httptest.Server, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestAdmission: every request gives its budget back, whether it succeeded,
// failed or panicked; while clients that stall mid-body fill the budget,
// decision requests are refused with 503, Retry-After and the overloaded
// envelope, and health, readiness and metrics still answer.
func TestAdmission(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newAdmissionHandler(t))
	t.Cleanup(srv.Close) // after the stalled connections close: cleanups run last first

	// Requests that fail and requests that panic, many more than the
	// budget holds: none may leak its weight.
	for range 10 {
		for _, path := range []string{"/v1/check", "/v1/check/batch", "/v1/authenticate", "/v1/has"} {
			if resp, body := post(t, srv, path, `{`); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("malformed POST %s = %d %s, want 400", path, resp.StatusCode, body)
			}
		}
		if resp, body := post(t, srv, "/v1/check", `{"action":"tasks:read"}`); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("POST /v1/check without a decider = %d %s, want 500 from the recoverer", resp.StatusCode, body)
		}
	}

	// The receiving budget is eight times the working one, 64 KiB: two
	// clients that send 20 KiB of a 32 KiB body and stall hold it all (a
	// buffer grows by doubling, up to the declared length).
	for range 2 {
		stallBody(t, srv, "/v1/check", 32<<10, bytes.Repeat([]byte(" "), 20<<10))
	}
	refused := func() bool {
		resp, _ := post(t, srv, "/v1/check", `{`)
		return resp.StatusCode == http.StatusServiceUnavailable
	}
	for deadline := time.Now().Add(10 * time.Second); !refused(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("two stalled bodies never filled the 64 KiB receiving budget")
		}
	}
	for _, path := range []string{"/v1/check", "/v1/check/batch", "/v1/authenticate", "/v1/has"} {
		resp, body := post(t, srv, path, `{"action":"tasks:read"}`)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("POST %s over budget = %d (Retry-After %q), want 503 with Retry-After: 1", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.Error.Code != "overloaded" || env.Error.Message == "" {
			t.Errorf("POST %s over budget body = %s, want the overloaded envelope", path, body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s while the budget is held = %d, want 200", path, resp.StatusCode)
		}
	}
	// A body declared over the limit is a 413 at once, even now: it never
	// waits for, or takes, budget it could not use.
	huge := `{"action":"tasks:read","context":{"pad":"` + strings.Repeat("x", int(DefaultLimits.MaxBodyBytes)) + `"}}`
	resp, body := post(t, srv, "/v1/check", huge)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || e.Error.Code != "payload_too_large" {
		t.Errorf("an oversize body while the budget is held = %d %s, want 413 payload_too_large", resp.StatusCode, body)
	}
}

// TestAdmissionConcurrent: under concurrent load every request is either
// answered or refused with 503.
func TestAdmissionConcurrent(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newAdmissionHandler(t))
	defer srv.Close()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			resp, err := srv.Client().Post(srv.URL+"/v1/check", "application/json", strings.NewReader(`{`))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("POST /v1/check = %d, want 400 or 503", resp.StatusCode)
			}
		})
	}
	wg.Wait()
}

// admissionServer serves a's middleware over the loopback around a handler
// that answers 200 with the body's length, or, for /park, parks until
// unpark is closed.
func admissionServer(t *testing.T, a *admission) (srv *httptest.Server, unpark chan struct{}) {
	t.Helper()
	unpark = make(chan struct{})
	s := &server{logger: slog.New(slog.DiscardHandler)}
	srv = httptest.NewServer(a.middleware(s)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/park" {
			<-unpark
		}
		fmt.Fprint(w, len(requestBody(r)))
	})))
	t.Cleanup(srv.Close)
	return srv, unpark
}

// held is what b holds now.
func (b *budget) heldNow() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestAdmissionSlowSendersDoNotStarve: with the default limits, clients
// that declare the largest body and send it slowly, or not at all, hold only
// what they have sent; small requests keep being answered beside them.
// When budgets were taken by declared length, one client that declared
// 1 MiB and sent nothing refused every other request until it timed out.
func TestAdmissionSlowSendersDoNotStarve(t *testing.T) {
	t.Parallel()
	a := newAdmission(DefaultLimits.MaxInflightBytes, DefaultLimits.MaxBodyBytes)
	srv, _ := admissionServer(t, a)
	limit := int(DefaultLimits.MaxBodyBytes)
	head := "POST /v1/check HTTP/1.1\r\nHost: verdict\r\nContent-Type: application/json\r\n"

	// Declares the limit and sends nothing.
	stall(t, srv, head+fmt.Sprintf("Content-Length: %d\r\n\r\n", limit), nil)
	// Declares the limit and sends all but its last byte.
	stall(t, srv, head+fmt.Sprintf("Content-Length: %d\r\n\r\n", limit), bytes.Repeat([]byte(" "), limit-1))
	// Chunked: sends half the limit in one chunk and stalls.
	stall(t, srv, head+"Transfer-Encoding: chunked\r\n\r\n", fmt.Appendf(nil, "%x\r\n%s\r\n", limit/2, bytes.Repeat([]byte(" "), limit/2)))

	waitFor(t, "the server to receive the stalled bodies", func() bool {
		return a.receiving.heldNow() >= int64(limit+limit/2)
	})
	if got, most := a.receiving.heldNow(), int64(2*limit+limit/2+2*minAdmissionWeight); got > most {
		t.Errorf("stalled senders hold %d bytes, want at most %d: about what they sent", got, most)
	}
	if got := a.working.heldNow(); got != 0 {
		t.Errorf("stalled senders hold %d bytes of the working budget, want none", got)
	}
	for i := range 20 {
		resp, body := post(t, srv, "/v1/check", `{"action":"tasks:read"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("small request %d beside stalled senders = %d %s, want 200", i, resp.StatusCode, body)
		}
	}
}

// TestAdmissionWorkingBudget: bodies being worked on hold the working
// budget until their handler returns; a request that finds it full is
// refused, and a body larger than the whole budget is admitted alone.
func TestAdmissionWorkingBudget(t *testing.T) {
	t.Parallel()
	a := newAdmission(8<<10, DefaultLimits.MaxBodyBytes) // two small requests
	srv, unpark := admissionServer(t, a)

	big := `{"pad":"` + strings.Repeat("x", 16<<10) + `"}`
	if resp, body := post(t, srv, "/v1/check", big); resp.StatusCode != http.StatusOK || string(body) != fmt.Sprint(len(big)) {
		t.Errorf("a body over the whole budget, alone = %d %s, want 200 %d", resp.StatusCode, body, len(big))
	}

	parked := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := srv.Client().Post(srv.URL+"/park", "application/json", strings.NewReader(`{}`))
			if err != nil {
				parked <- 0
				return
			}
			resp.Body.Close()
			parked <- resp.StatusCode
		}()
	}
	waitFor(t, "two parked requests", func() bool { return a.working.heldNow() == 2*minAdmissionWeight })
	for _, body := range []string{`{}`, big} {
		resp, _ := post(t, srv, "/v1/check", body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("POST of %d bytes with the working budget full = %d (Retry-After %q), want 503 with Retry-After: 1", len(body), resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	// A body declared larger than the budget can take now is refused
	// before it is sent: the answer comes although the body never does.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/check HTTP/1.1\r\nHost: verdict\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 16<<10)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a 16 KiB body declared with the working budget full, not sent = %v %v, want 503 at once", resp, err)
	}
	close(unpark)
	for range 2 {
		if code := <-parked; code != http.StatusOK {
			t.Errorf("parked request = %d, want 200", code)
		}
	}
	if resp, _ := post(t, srv, "/v1/check", `{}`); resp.StatusCode != http.StatusOK {
		t.Errorf("POST after the parked requests returned = %d, want 200", resp.StatusCode)
	}
	if r, w := a.receiving.heldNow(), a.working.heldNow(); r != 0 || w != 0 {
		t.Errorf("budgets hold %d receiving, %d working bytes after every request returned, want none", r, w)
	}
}

// parkedBody is a request body that reports its first Read and then blocks
// until the test ends, like a client that sent its headers and nothing more.
type parkedBody struct {
	reading chan struct{}
	done    <-chan struct{}
	once    sync.Once
}

func (p *parkedBody) Read([]byte) (int, error) {
	p.once.Do(func() { close(p.reading) })
	<-p.done
	return 0, io.ErrUnexpectedEOF
}

func (p *parkedBody) Close() error { return nil }

// TestAdmissionIdleConnectionsHoldNothing: a request whose body has not
// begun to arrive holds none of the receiving budget, however large it is
// declared: were it charged even a little, enough idle connections would
// fill the budget for the price of their headers.
func TestAdmissionIdleConnectionsHoldNothing(t *testing.T) {
	t.Parallel()
	a := newAdmission(DefaultLimits.MaxInflightBytes, DefaultLimits.MaxBodyBytes)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	for _, declared := range []int64{-1, DefaultLimits.MaxBodyBytes} {
		body := &parkedBody{reading: make(chan struct{}), done: done}
		r := httptest.NewRequest(http.MethodPost, "/v1/check", nil)
		r.Body, r.ContentLength = body, declared
		go a.receive(httptest.NewRecorder(), r) //nolint:errcheck // ends with the test
		<-body.reading
	}
	if got := a.receiving.heldNow(); got != 0 {
		t.Errorf("two requests waiting for their first byte hold %d bytes, want none", got)
	}
}

// TestAdmissionAloneAlwaysFits: a valid body is never refused on an idle
// server, whatever the budgets: one larger than the receiving budget (a
// small --max-inflight-bytes) is read whole when it is alone, and a budget
// given as "unlimited" does not overflow into one that admits nothing.
func TestAdmissionAloneAlwaysFits(t *testing.T) {
	t.Parallel()
	body := `{"pad":"` + strings.Repeat("x", 700<<10) + `"}`
	for _, budget := range []int64{64 << 10, math.MaxInt64} {
		a := newAdmission(budget, DefaultLimits.MaxBodyBytes)
		srv, _ := admissionServer(t, a)
		for range 3 {
			if resp, got := post(t, srv, "/v1/check", body); resp.StatusCode != http.StatusOK || string(got) != fmt.Sprint(len(body)) {
				t.Fatalf("budget %d: a %d-byte body alone = %d %.80s, want 200", budget, len(body), resp.StatusCode, got)
			}
		}
		if r, w := a.receiving.heldNow(), a.working.heldNow(); r != 0 || w != 0 {
			t.Errorf("budget %d: budgets hold %d receiving, %d working bytes afterwards, want none", budget, r, w)
		}
	}
}
