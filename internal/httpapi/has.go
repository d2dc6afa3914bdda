package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// hasRequest is read leniently, as the contract wants for /v1/has: only
// malformed JSON or a missing or non-object check is a 400. Other fields
// are ignored, and a check field of the wrong type is Clerk's "false".
// Keys are still exact and never repeated (decodeHasRequest): "TOKEN" is
// another field, not the token, as for every other endpoint.
type hasRequest struct {
	Token json.RawMessage
	Check json.RawMessage
}

// freeForm is the type of a body read without a schema: any keys, each
// object's keys checked only for repeats.
var freeForm = reflect.TypeFor[map[string]any]()

// decodeHasRequest reads the body's "token" and "check" by their exact
// names, after refusing a key repeated anywhere in it.
func decodeHasRequest(body []byte) (hasRequest, error) {
	if fault := scanBody(body, freeForm).strict; fault != nil {
		return hasRequest{}, badRequest(fault.Error())
	}
	var fields map[string]json.RawMessage
	if err := unmarshalLenient(body, &fields); err != nil {
		return hasRequest{}, err
	}
	return hasRequest{Token: fields["token"], Check: fields["check"]}, nil
}

// handleHas serves POST /v1/has: Clerk's has() answered for a token.
func (s *server) handleHas() http.Handler {
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		req, err := decodeHasRequest(requestBody(r))
		if err != nil {
			return err
		}
		var check map[string]any
		if !isJSONObject(req.Check) || unmarshalLenient(req.Check, &check) != nil {
			return badRequest(`"check" is required and must be an object`)
		}
		var token string
		if !isJSONNull(req.Token) && json.Unmarshal(req.Token, &token) != nil {
			return writeJSON(w, http.StatusOK, authz.HasAnswer{Reason: authz.ReasonTokenInvalid, Message: "token must be a string"})
		}
		answer, err := s.decider.Has(r.Context(), token, check)
		if err != nil {
			return internalError(err)
		}
		return writeJSON(w, http.StatusOK, answer)
	})
}

// unmarshalLenient decodes one JSON object, ignoring unknown fields;
// numbers stay exact.
func unmarshalLenient(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return badRequest(describeJSONError(err))
	}
	if dec.More() {
		return badRequest("request body holds more than one JSON value")
	}
	return nil
}

func isJSONObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func isJSONNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}
