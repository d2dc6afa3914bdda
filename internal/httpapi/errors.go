package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// Error codes of the {"error": {"code", "message"}} envelope.
const (
	codeBadRequest           = "bad_request"
	codePayloadTooLarge      = "payload_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeInternal             = "internal"
	codeExplainDisabled      = "explain_disabled"
)

// Error is a failure to answer a request. Status and Code go on the wire with
// Message; Err is the internal cause, logged but never sent to the caller.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func badRequest(message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeBadRequest, Message: message}
}

// internalError hides err from the caller: a failure inside the decision
// path is reported as a 500 and never as a decision.
func internalError(err error) *Error {
	return &Error{
		Status:  http.StatusInternalServerError,
		Code:    codeInternal,
		Message: "the decision could not be made; nothing was allowed",
		Err:     err,
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError renders err as the JSON envelope. It is the only place that
// maps errors to statuses; anything that is not an *Error is internal.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = internalError(err)
	}
	if e.Status >= http.StatusInternalServerError {
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"status", e.Status, "error", e.Error(), "request_id", requestIDFrom(r.Context()))
	}
	var body errorBody
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	writeJSON(w, e.Status, body)
}

// writeJSON writes v as a JSON response with status. HTML escaping is off:
// responses are read by people and programs, never embedded in a page, and
// "\u003c" in place of "<" only gets in their way.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// An encode error here means the client went away; there is nobody to tell.
	_ = enc.Encode(v)
}
