package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

type healthResponse struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// handleHealthz serves GET /healthz: 200 while the process serves.
func (s *server) handleHealthz() http.Handler {
	return s.endpoint(func(w http.ResponseWriter, _ *http.Request) error {
		return writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
	})
}

// handleReadyz serves GET /readyz: 200 once policies are compiled and a
// verification key is loaded, 503 otherwise and while shutting down.
func (s *server) handleReadyz() http.Handler {
	return s.endpoint(func(w http.ResponseWriter, _ *http.Request) error {
		if err := s.ready(); err != nil {
			return writeJSON(w, http.StatusServiceUnavailable, healthResponse{Status: "unavailable", Reason: err.Error()})
		}
		return writeJSON(w, http.StatusOK, healthResponse{Status: "ready"})
	})
}

func (s *server) handleNotFound() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The path is not repeated: echoing what a caller sent back to it
		// is how reflected content starts, and the caller knows its path.
		writeError(w, r, s.logger, &Error{
			Status:  http.StatusNotFound,
			Code:    codeNotFound,
			Message: "no endpoint at this path",
		})
	}
}

func (s *server) handleMethodNotAllowed() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.logger, &Error{
			Status:  http.StatusMethodNotAllowed,
			Code:    codeMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path),
		})
	}
}

// recoverer is the outermost safety net: a panic anywhere below answers 500
// with the JSON envelope (never a decision) and is logged with its stack.
func recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler {
					panic(rec) // the server's own signal to abort the response
				}
				logger.Error("panic while serving", "path", r.URL.Path, "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
				writeError(w, r, logger, internalError(fmt.Errorf("panic: %v", rec)))
			}()
			next.ServeHTTP(w, r)
		})
	}
}
