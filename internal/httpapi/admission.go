package httpapi

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"sync"
)

// admission is the intake of the decision routes: it reads each request
// body and bounds the memory that bodies cost, in two budgets.
//
//   - Receiving: a body being read holds the buffer its bytes have filled,
//     never what its Content-Length promises: room is taken only for bytes
//     that have arrived, and a buffer grows by doubling, so a body holds at
//     most twice what it has sent and a connection that has sent nothing
//     holds nothing. The receiving budget is readingFactor times the
//     working one: raw bytes cost their size, and a slow sender pays in
//     bandwidth for every byte it keeps here.
//   - Working: a body that has arrived is decoded and evaluated, which
//     costs many times its size, so the bodies being worked on at once are
//     bounded by the working budget. Work never waits on a client.
//
// A request that finds its budget full is refused at once with 503 and
// Retry-After. A budget always admits a request that is alone in it, so
// that a budget below the body limit cannot lock a valid request out for
// ever.
type admission struct {
	bodyLimit          int64
	receiving, working budget
	scratch            sync.Pool // *[scratchSize]byte: where a full buffer's next bytes land
}

// minAdmissionWeight is what a request with a tiny or empty body weighs in
// the working budget: its headers, token and decision still cost memory. It
// is also the least a body buffer holds once its first bytes arrive.
const minAdmissionWeight = 4 << 10

// scratchSize is how much a read into a full buffer may bring before the
// buffer grows to take it.
const scratchSize = 4 << 10

// readingFactor sizes the receiving budget against the working one.
const readingFactor = 8

func newAdmission(budget, bodyLimit int64) *admission {
	a := &admission{bodyLimit: bodyLimit}
	a.receiving.limit = saturatingMul(readingFactor, budget)
	a.working.limit = budget
	a.scratch.New = func() any { return new([scratchSize]byte) }
	return a
}

// saturatingMul is a*b for positive a and b, or the largest int64 when that
// overflows (a budget given as "unlimited").
func saturatingMul(a, b int64) int64 {
	if b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// budget is a count of bytes with a limit.
type budget struct {
	limit int64

	mu   sync.Mutex
	held int64
}

// tryAcquire takes n more bytes for a request that already holds own of
// the budget. It admits them when they fit, or when the request is alone.
func (b *budget) tryAcquire(n, own int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.fitsLocked(n, own) {
		return false
	}
	b.held += n
	return true
}

// fits reports whether a request holding nothing could take n now, taking
// nothing.
func (b *budget) fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fitsLocked(n, 0)
}

func (b *budget) fitsLocked(n, own int64) bool { return b.held == own || b.held+n <= b.limit }

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.held -= n
	b.mu.Unlock()
}

// middleware admits or refuses each request and hands the handler its body
// through the request context (see requestBody). The working weight is
// given back when the handler returns, panics included.
func (a *admission) middleware(s *server) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, weight, err := a.admit(w, r)
			if err != nil {
				writeError(w, r, s.logger, err)
				return
			}
			defer a.working.release(weight)
			st := stateOf(r.Context())
			if st == nil { // not behind requestID
				st = &requestState{}
				r = r.WithContext(context.WithValue(r.Context(), requestStateKey{}, st))
			}
			st.body = body
			next.ServeHTTP(w, r)
		})
	}
}

// admit reads r's body and takes its weight from the working budget, which
// the caller gives back when the work is done.
func (a *admission) admit(w http.ResponseWriter, r *http.Request) (body []byte, weight int64, err error) {
	if err := a.precheck(r); err != nil {
		dropConnection(w)
		return nil, 0, err
	}
	body, err = a.receive(w, r)
	if err != nil {
		dropConnection(w)
		return nil, 0, err
	}
	weight = max(int64(len(body)), minAdmissionWeight)
	admitted := a.working.tryAcquire(weight, 0)
	a.receiving.release(int64(cap(body))) // from here the working weight accounts for body
	if !admitted {
		return nil, 0, overloaded()
	}
	return body, weight, nil
}

// dropConnection has the server close the connection after the answer
// rather than read and discard the rest of a body refused before it was
// read, which may be slow to come or never come.
func dropConnection(w http.ResponseWriter) { w.Header().Set("Connection", "close") }

// precheck refuses, before any byte of the body is read, what would be
// refused anyway: a body that is not JSON (415), is declared over the limit
// (413), or is declared larger than the working budget can take now (503).
// The last spares receiving a body only to drop it, whose buffers would
// otherwise pile up as garbage beside the bodies being worked on; it takes
// nothing, so a client that never sends its body holds nothing by it.
func (a *admission) precheck(r *http.Request) error {
	if err := requireJSON(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > a.bodyLimit {
		return payloadTooLarge(a.bodyLimit)
	}
	if !a.working.fits(max(r.ContentLength, minAdmissionWeight)) {
		return overloaded()
	}
	return nil
}

// receive reads the body. Its buffer's capacity is held in the receiving
// budget, taken only as bytes arrive: a read into a full buffer lands in a
// scratch buffer, and the buffer grows (doubling, up to what the body may
// hold) to take what it brought. On success the caller gives cap(body)
// back; on failure receive has given everything back.
func (a *admission) receive(w http.ResponseWriter, r *http.Request) (body []byte, err error) {
	defer func() {
		if err != nil {
			a.receiving.release(int64(cap(body)))
		}
	}()
	// The buffer never grows past what the body may hold: its declared
	// length (the server's body reader stops there), else the limit.
	ceiling := a.bodyLimit
	if r.ContentLength >= 0 {
		ceiling = r.ContentLength
	}
	scratch := a.scratch.Get().(*[scratchSize]byte)
	defer a.scratch.Put(scratch)
	src := http.MaxBytesReader(w, r.Body, a.bodyLimit)
	for {
		var n int
		var rerr error
		if len(body) < cap(body) {
			n, rerr = src.Read(body[len(body):cap(body)])
			body = body[:len(body)+n]
		} else if n, rerr = src.Read(scratch[:]); n > 0 {
			if body, err = a.grow(body, int64(n), ceiling); err != nil {
				return body, err
			}
			body = append(body, scratch[:n]...)
		}
		switch {
		case errors.Is(rerr, io.EOF):
			return body, nil
		case rerr != nil:
			var tooLarge *http.MaxBytesError
			if errors.As(rerr, &tooLarge) {
				return body, payloadTooLarge(a.bodyLimit)
			}
			return body, badRequest("could not read the request body")
		}
	}
}

// grow returns body with room for n more bytes, taking the added capacity
// from the receiving budget.
func (a *admission) grow(body []byte, n, ceiling int64) ([]byte, error) {
	need := int64(len(body)) + n
	if need > ceiling { // more than the body may hold: not expected, the readers stop first
		return body, payloadTooLarge(a.bodyLimit)
	}
	grown := min(max(2*int64(cap(body)), need, minAdmissionWeight), ceiling)
	if !a.receiving.tryAcquire(grown-int64(cap(body)), int64(cap(body))) {
		return body, overloaded()
	}
	return append(make([]byte, 0, grown), body...), nil
}

// requestBody is the body admission read for r. Outside admission (a route
// that was never admitted) it is nil, which decodes as "request body is empty".
func requestBody(r *http.Request) []byte {
	if st := stateOf(r.Context()); st != nil {
		return st.body
	}
	return nil
}

// overloaded refuses a request the budgets cannot take now; writeError adds
// Retry-After.
func overloaded() *Error {
	return &Error{
		Status:  http.StatusServiceUnavailable,
		Code:    codeOverloaded,
		Message: "too many requests in flight; retry after a second",
	}
}
