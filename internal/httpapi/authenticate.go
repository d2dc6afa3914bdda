package httpapi

import (
	"net/http"

	"github.com/verdict-pdp/verdict/internal/authz"
)

type authenticateRequest struct {
	Token string `json:"token"`
}

type authenticateResponse struct {
	Authenticated bool             `json:"authenticated"`
	Principal     *authz.Principal `json:"principal,omitempty"`
	Reason        authz.Reason     `json:"reason,omitempty"`
	Message       string           `json:"message,omitempty"`
}

// handleAuthenticate serves POST /v1/authenticate: verify a token and return
// the normalized principal, or the reason it was not accepted.
func (s *server) handleAuthenticate() http.Handler {
	decode := decoderFor[authenticateRequest]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req authenticateRequest
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		resp, err := s.authenticate(r, req.Token)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, resp)
	})
}

func (s *server) authenticate(r *http.Request, token string) (authenticateResponse, error) {
	if token == "" {
		return authenticateResponse{
			Reason:  authz.ReasonUnauthenticated,
			Message: "no token was given",
		}, nil
	}
	session, err := s.decider.Authenticate(r.Context(), token)
	if err != nil {
		return authenticateResponse{}, internalError(err)
	}
	if rej := session.Rejected; rej != nil {
		return authenticateResponse{Reason: rej.Reason, Message: rej.Message}, nil
	}
	return authenticateResponse{Authenticated: true, Principal: &session.Principal}, nil
}
