package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	codeOverloaded           = "overloaded"
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

// payloadTooLarge refuses a body over limit bytes.
func payloadTooLarge(limit int64) *Error {
	return &Error{
		Status:  http.StatusRequestEntityTooLarge,
		Code:    codePayloadTooLarge,
		Message: fmt.Sprintf("request body is larger than %d bytes", limit),
	}
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
	// Failures are logged; an overloaded refusal is not one (under attack it
	// would flood the log); the debug-level access log shows each one.
	if e.Status >= http.StatusInternalServerError && e.Code != codeOverloaded {
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"status", e.Status, "error", e.Error(), "request_id", requestIDFrom(r.Context()))
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	var body errorBody
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	if err := writeJSON(w, e.Status, body); err != nil {
		// The envelope is two strings; should it ever fail, say so plainly.
		http.Error(w, e.Message, e.Status)
	}
}

// writeJSON writes v as a JSON response with status. The body is rendered
// before the status goes out, because a status cannot be taken back: a
// render failure after it would leave a 200 with an empty body, which a
// careless client reads as success. HTML escaping is off: responses are read
// by people and programs, never embedded in a page, and "\u003c" in place of
// "<" only gets in their way.
//
// A value that does not render (a token's exp past the year 9999 makes a
// time.Time that encoding/json refuses) writes nothing and comes back as an
// internal error, which the endpoint's error path logs and answers with a
// 500 envelope.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := renderJSON(v)
	if err != nil {
		return internalError(fmt.Errorf("render %T response: %w", v, err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A write error here means the client went away; there is nobody to tell.
	_, _ = w.Write(body)
	return nil
}

// renderJSON encodes v as writeJSON sends it.
func renderJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
