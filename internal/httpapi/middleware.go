package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// requestState is what the middleware hand the handler through the
// request's context: one value, so that the request is copied once
// (http.Request.WithContext copies it) rather than once per middleware.
type requestState struct {
	id   string // for logs (requestID)
	body []byte // the body admission read
}

type requestStateKey struct{}

// stateOf returns the request's state, nil outside requestID.
func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// requestID gives every request an id: the caller's X-Request-Id when it
// sends a reasonable one, else a fresh one. It is echoed in the response
// and carried in the context for logs, in the request's state.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestStateKey{}, &requestState{id: id})))
	})
}

// requestIDFrom returns the request's id, "" outside a request.
func requestIDFrom(ctx context.Context) string {
	if st := stateOf(ctx); st != nil {
		return st.id
	}
	return ""
}

// accessLog logs every request at debug level (method, path, status,
// duration, request id), never its body, so tokens stay out of the logs.
func accessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !logger.Enabled(r.Context(), slog.LevelDebug) {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			logger.DebugContext(r.Context(), "request",
				"method", r.Method, "path", r.URL.Path, "status", sw.status,
				"duration", time.Since(start), "request_id", requestIDFrom(r.Context()))
		})
	}
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
