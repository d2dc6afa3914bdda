package devtoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// maxRequestBytes bounds the request body, as every Verdict endpoint does.
const maxRequestBytes = 1 << 20

// Handler returns the handler for POST /dev/tokens. The body is a
// TokenRequest (unknown fields are refused); the answer is
// {"token": "...", "claims": {...}}. Errors use Verdict's envelope
// {"error": {"code": "...", "message": "..."}}. The handler does not look at
// the path, so the caller decides where to mount it.
func (i *Issuer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		req, status, err := decodeRequest(w, r)
		if err != nil {
			code := "bad_request"
			if status == http.StatusRequestEntityTooLarge {
				code = "payload_too_large"
			}
			writeError(w, status, code, err.Error())
			return
		}
		claims, err := i.Claims(req, time.Now())
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		token, err := i.Sign(claims)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "could not sign the token")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": token, "claims": claims})
	})
}

// decodeRequest reads exactly one JSON object into a TokenRequest.
func decodeRequest(w http.ResponseWriter, r *http.Request) (TokenRequest, int, error) {
	var req TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("request body must hold a single JSON object")
	}
	if err == nil {
		return req, http.StatusOK, nil
	}
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		return req, http.StatusRequestEntityTooLarge, errors.New("request body is larger than 1 MiB")
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("request body is empty; send a JSON object")
	}
	return req, http.StatusBadRequest, err
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, map[string]body{"error": {Code: code, Message: message}})
}

// writeJSON writes v with HTML escaping off, so that messages such as
// "org:<feature>:<permission>" read as written rather than as "\u003c". The
// body is rendered before the status goes out, because a status cannot be
// taken back: a render failure after it would leave a 200 with no token.
// Claims and errors are strings and integers, so rendering should never
// fail; if it does, the answer is a plain 500 envelope (this package has no
// logger, and the envelope itself always renders).
func writeJSON(w http.ResponseWriter, status int, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		body.Reset()
		body.WriteString(`{"error":{"code":"internal","message":"could not render the response"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes()) // the client is gone if this fails
}
