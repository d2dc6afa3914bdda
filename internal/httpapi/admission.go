package httpapi

import (
	"net/http"
	"sync"
)

// admission bounds the request bodies being worked on at once. Each request
// weighs what its body may hold (its Content-Length, or the body limit when
// the length is unknown or larger) and is admitted while the weights of the
// admitted requests stay within the budget; any other is refused at once
// with 503 and Retry-After, before its body is read. A request weighs at
// least minAdmissionWeight, so that a flood of empty bodies is bounded too.
// A request heavier than the whole budget is admitted when nothing else is
// in flight, so that a budget below the body limit cannot lock a valid
// request out for ever.
type admission struct {
	budget, bodyLimit int64

	mu       sync.Mutex
	inflight int64
}

// minAdmissionWeight is what a request with a tiny or empty body weighs: its
// headers, token and decision still cost memory.
const minAdmissionWeight = 4 << 10

func newAdmission(budget, bodyLimit int64) *admission {
	return &admission{budget: budget, bodyLimit: bodyLimit}
}

// weight is what r may cost, by its declared body length (the body limit
// when unknown: a chunked body is read up to it).
func (a *admission) weight(r *http.Request) int64 {
	n := r.ContentLength
	if n < 0 {
		n = a.bodyLimit
	}
	return max(n, minAdmissionWeight)
}

func (a *admission) tryAcquire(n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight > 0 && a.inflight+n > a.budget {
		return false
	}
	a.inflight += n
	return true
}

func (a *admission) release(n int64) {
	a.mu.Lock()
	a.inflight -= n
	a.mu.Unlock()
}

// middleware admits or refuses each request. The weight is released when
// the handler returns, panics included.
func (a *admission) middleware(s *server) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A body declared over the limit is refused as such, at once:
			// it would be refused anyway, and must not take budget first.
			if r.ContentLength > a.bodyLimit {
				writeError(w, r, s.logger, payloadTooLarge(a.bodyLimit))
				return
			}
			n := a.weight(r)
			if !a.tryAcquire(n) {
				w.Header().Set("Retry-After", "1")
				writeError(w, r, s.logger, overloaded())
				return
			}
			defer a.release(n)
			next.ServeHTTP(w, r)
		})
	}
}

func overloaded() *Error {
	return &Error{
		Status:  http.StatusServiceUnavailable,
		Code:    codeOverloaded,
		Message: "too many requests in flight; retry after a second",
	}
}
