package httpapi

import (
	"net/http"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// hasRequest is read leniently, as the contract wants for /v1/has: only
// malformed JSON or a missing or non-object check is a 400. Other fields
// are ignored, and a check field of the wrong type is Clerk's "false".
// Keys are still exact and never repeated (decodeHasRequest): "TOKEN" is
// another field, not the token, as for every other endpoint.
type hasRequest struct {
	Token    string
	BadToken bool           // "token" is there and neither a string nor null
	Check    map[string]any // nil unless "check" is an object
}

// decodeHasRequest reads the body's "token" and "check" by their exact
// names, in one pass that refuses a key repeated anywhere in the body and
// a number out of range, whichever comes first, before anything
// malformed after it.
func decodeHasRequest(body []byte) (hasRequest, error) {
	var req hasRequest
	l := lexer{data: body}
	kind, err := l.hasBody(&req)
	if f, ok := err.(*fieldError); ok {
		return hasRequest{}, badRequest(f.Error())
	}
	switch {
	case err != nil:
		return hasRequest{}, refuse(body, err)
	case kind != "object" && kind != "null":
		return hasRequest{}, badRequest(notAnObject(kind))
	}
	// As leniently as encoding/json's Decoder.More judged it: a closing
	// bracket after the value is not another value.
	if l.space(); l.pos < len(body) && body[l.pos] != ']' && body[l.pos] != '}' {
		return hasRequest{}, badRequest("request body holds more than one JSON value")
	}
	return req, nil
}

// hasBody reads the body's first value, keeping token and check, and
// returns its kind.
func (l *lexer) hasBody(req *hasRequest) (kind string, err error) {
	c, err := l.start()
	if kind = kindAt(c); err != nil || kind != "object" {
		return kind, l.skim()
	}
	var seen keySet
	return kind, l.object(func(key []byte) error {
		if seen.add(key) {
			return &fieldError{duplicate: true}
		}
		return nil
	}, func(key []byte) error {
		switch string(key) {
		case "token":
			return l.hasToken(req)
		case "check":
			return l.hasCheck(req)
		}
		return l.skim()
	})
}

// hasToken reads the token: a string, or null for none; anything else is
// no token (BadToken), checked as free-form.
func (l *lexer) hasToken(req *hasRequest) error {
	switch c, err := l.start(); {
	case err != nil:
		return err
	case c == '"':
		s, err := l.str()
		req.Token = string(s)
		return err
	case c != 'n':
		req.BadToken = true
	}
	return l.skim()
}

// hasCheck reads the check, kept only if it is an object.
func (l *lexer) hasCheck(req *hasRequest) error {
	if c, err := l.start(); err != nil || c != '{' {
		return l.skim()
	}
	var err error
	req.Check, err = l.anyObject()
	return err
}

// handleHas serves POST /v1/has: Clerk's has() answered for a token.
func (s *server) handleHas() http.Handler {
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		req, err := decodeHasRequest(requestBody(r))
		if err != nil {
			return err
		}
		if req.Check == nil {
			return badRequest(`"check" is required and must be an object`)
		}
		if req.BadToken {
			return writeJSON(w, http.StatusOK, authz.HasAnswer{Reason: authz.ReasonTokenInvalid, Message: "token must be a string"})
		}
		answer, err := s.decider.Has(r.Context(), req.Token, req.Check)
		if err != nil {
			return internalError(err)
		}
		return writeJSON(w, http.StatusOK, answer)
	})
}
