package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// requestState is what the middleware hand the handler through the
// request's context: one value, so that the request is copied once
// (http.Request.WithContext copies it) rather than once per middleware.
type requestState struct {
	id     string // for logs (observe)
	caller string // the API key's caller (requireCaller); "" when keys are off
	body   []byte // the body admission read
	// writer records the status written, when the request is observed.
	writer statusWriter
}

type requestStateKey struct{}

// stateOf returns the request's state, nil outside observe.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// RequestRecorder counts the requests answered.
type RequestRecorder interface {
	// ObserveRequest counts one request: its caller, the route pattern
	// it matched ("" for none), the status written and how long it took.
	ObserveRequest(caller, route string, status int, elapsed time.Duration)
}

// maxRequestIDBytes bounds the caller's request id that logs carry.
const maxRequestIDBytes = 128

// observe gives every request its state and an id: the caller's
// X-Request-Id (its first maxRequestIDBytes), else a fresh one, carried in
// the context for logs; the response echoes the caller's id as sent, else
// the fresh one. Once the request
// is answered it is counted by rec (when set) and logged at debug level
// (method, route, status, duration, caller, id; never its body, so tokens
// stay out of the logs).
func observe(logger *slog.Logger, rec RequestRecorder) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			given := r.Header.Get("X-Request-Id")
			// A caller's id too long to carry into every log line is
			// carried cut to its first maxRequestIDBytes, which still
			// finds it; the response echoes it exactly as sent, as
			// AuthZEN requires.
			st := &requestState{id: given[:min(len(given), maxRequestIDBytes)]}
			if st.id == "" {
				var b [8]byte
				_, _ = rand.Read(b[:])
				st.id = hex.EncodeToString(b[:])
			}
			w.Header().Set("X-Request-Id", cmp.Or(given, st.id))
			ctx := context.WithValue(r.Context(), requestStateKey{}, st)
			debug := logger.Enabled(ctx, slog.LevelDebug)
			if rec == nil && !debug {
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			start := time.Now()
			st.writer = statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(&st.writer, r.WithContext(ctx))
			elapsed := time.Since(start)
			var route string
			if rc := chi.RouteContext(ctx); rc != nil {
				route = rc.RoutePattern()
			}
			if rec != nil {
				rec.ObserveRequest(st.caller, route, st.writer.status, elapsed)
			}
			if debug {
				logger.DebugContext(ctx, "request", "method", r.Method, "path", r.URL.Path, "route", route,
					"status", st.writer.status, "duration", elapsed, "caller", st.caller, "request_id", st.id)
			}
		})
	}
}

// callerFrom returns the name of the caller whose API key the request
// carried, "" when keys are off or outside a request.
func callerFrom(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.caller
	}
	return ""
}

// requestIDFrom returns the request's id, "" outside a request.
func requestIDFrom(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// statusWriter records the status code a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
