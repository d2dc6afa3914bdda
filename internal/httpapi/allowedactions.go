package httpapi

import (
	"fmt"
	"net/http"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// allowedActionsRequest asks which actions the token's user may take on
// one resource: the actions listed, or every action the policies know.
type allowedActionsRequest struct {
	Token    string          `json:"token"`
	Resource *authz.Resource `json:"resource"`
	Context  map[string]any  `json:"context"`
	Actions  []string        `json:"actions"`
}

// actions validates the listed actions and returns them without repeats,
// in order; nil when none were listed (every action).
func (r allowedActionsRequest) actions(max int) ([]string, error) {
	if r.Actions == nil {
		return nil, nil
	}
	if n := len(r.Actions); n > max {
		return nil, badRequest(fmt.Sprintf(`"actions" must hold at most %d actions, not %d`, max, n))
	}
	seen := make(map[string]bool, len(r.Actions))
	actions := make([]string, 0, len(r.Actions))
	for i, a := range r.Actions {
		where := fmt.Sprintf("actions[%d]: ", i)
		if a == "" {
			return nil, badRequest(where + "an action must be a non-empty string")
		}
		if err := (authz.Check{Action: a}).Validate(); err != nil {
			return nil, validationError(where, err)
		}
		if !seen[a] {
			seen[a] = true
			actions = append(actions, a)
		}
	}
	return actions, nil
}

type deniedAction struct {
	Action  string       `json:"action"`
	Reason  authz.Reason `json:"reason"`
	Message string       `json:"message"`
}

type allowedActionsResponse struct {
	Allowed        []string       `json:"allowed"`
	Denied         []deniedAction `json:"denied"`
	PolicyRevision string         `json:"policy_revision"`
}

// handleAllowedActions serves POST /v1/allowed-actions: for UI gating, in
// one call, every action (or those listed) allowed or denied with its
// reason. The token is verified once and the policies decide each action.
func (s *server) handleAllowedActions() http.Handler {
	decode := decoderFor[allowedActionsRequest]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req allowedActionsRequest
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		actions, err := req.actions(s.limits.MaxBatch)
		if err != nil {
			return err
		}
		c := authz.Check{Resource: req.Resource, Context: req.Context, Caller: callerFrom(r.Context())}
		if err := c.Validate(); err != nil {
			return validationError("", err)
		}
		asked := len(actions)
		if actions == nil {
			asked = len(s.decider.Actions())
		}
		if err := s.checkRepeats(asked, encodedSize(req.Resource)+encodedSize(req.Context)); err != nil {
			return err
		}
		sess, err := s.decider.Authenticate(withOrigin(r), req.Token)
		if err != nil {
			return internalError(err)
		}
		decisions, revision, err := s.decider.DecideActions(withOrigin(r), sess, c, actions)
		if err != nil {
			return internalError(err)
		}
		resp := allowedActionsResponse{Allowed: []string{}, Denied: []deniedAction{}, PolicyRevision: revision}
		for _, d := range decisions {
			if d.Allow {
				resp.Allowed = append(resp.Allowed, d.Action)
			} else {
				resp.Denied = append(resp.Denied, deniedAction{Action: d.Action, Reason: d.Reason, Message: d.Message})
			}
		}
		return writeJSON(w, http.StatusOK, resp)
	})
}
