package httpapi

import (
	"net/http"
)

type hasRequest struct {
	Token string `json:"token"`
	// Check is the object Clerk's has() takes. Its fields are not typed
	// here: a field of the wrong type is Clerk's "false", not a 400.
	Check *map[string]any `json:"check"`
}

// handleHas serves POST /v1/has: Clerk's has() answered for a token.
func (s *server) handleHas() http.Handler {
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req hasRequest
		if err := decodeJSON(w, r, s.limits.MaxBodyBytes, &req); err != nil {
			return err
		}
		if req.Check == nil || *req.Check == nil {
			return badRequest(`"check" is required and must be an object`)
		}
		answer, err := s.decider.Has(r.Context(), req.Token, *req.Check)
		if err != nil {
			return internalError(err)
		}
		writeJSON(w, http.StatusOK, answer)
		return nil
	})
}
