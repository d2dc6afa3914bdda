package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// checkFields are the fields of one check, shared by /v1/check and each
// entry of /v1/check/batch.
type checkFields struct {
	Action   *string         `json:"action"`
	Resource *authz.Resource `json:"resource"`
	Context  map[string]any  `json:"context"`
	Explain  bool            `json:"explain"`
}

// check validates the fields and returns the domain check. where names the
// check in error messages ("" for the single check); explainable says
// whether the service runs with --explain. Field sizes are authz's to
// bound (authz.Check.Validate); a field over its limit is a 400.
func (c checkFields) check(where string, explainable bool) (authz.Check, error) {
	if c.Action == nil || *c.Action == "" {
		return authz.Check{}, badRequest(where + "\"action\" is required and must be a non-empty string")
	}
	if c.Explain && !explainable {
		return authz.Check{}, &Error{
			Status:  http.StatusBadRequest,
			Code:    codeExplainDisabled,
			Message: where + "\"explain\" needs the service to run with --explain (VERDICT_EXPLAIN=true)",
		}
	}
	ch := authz.Check{Action: *c.Action, Resource: c.Resource, Context: c.Context, Explain: c.Explain}
	if err := ch.Validate(); err != nil {
		var fe *authz.FieldError
		if errors.As(err, &fe) {
			return authz.Check{}, badRequest(where + fe.Error())
		}
		return authz.Check{}, err
	}
	return ch, nil
}

// checkRequest spells out checkFields rather than embedding it, so that a
// decode error names "action", not "checkFields.action".
type checkRequest struct {
	Token    string          `json:"token"`
	Action   *string         `json:"action"`
	Resource *authz.Resource `json:"resource"`
	Context  map[string]any  `json:"context"`
	Explain  bool            `json:"explain"`
}

func (r checkRequest) check(explainable bool) (authz.Check, error) {
	return checkFields{Action: r.Action, Resource: r.Resource, Context: r.Context, Explain: r.Explain}.check("", explainable)
}

// handleCheck serves POST /v1/check: one decision.
func (s *server) handleCheck() http.Handler {
	decode := decoderFor[checkRequest]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req checkRequest
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		c, err := req.check(s.explain)
		if err != nil {
			return err
		}
		c.Caller = callerFrom(r.Context())
		d, err := s.decider.Check(withOrigin(r), req.Token, c)
		if err != nil {
			return internalError(err)
		}
		s.logDecision(r, c, d)
		return writeJSON(w, http.StatusOK, d)
	})
}

type batchRequest struct {
	Token  string        `json:"token"`
	Checks []checkFields `json:"checks"`
}

// checks validates the batch and returns its checks in order.
func (r batchRequest) checks(max int, explainable bool) ([]authz.Check, error) {
	if n := len(r.Checks); n == 0 || n > max {
		return nil, badRequest(fmt.Sprintf("\"checks\" must hold between 1 and %d checks, not %d", max, n))
	}
	checks := make([]authz.Check, len(r.Checks))
	for i, f := range r.Checks {
		c, err := f.check(fmt.Sprintf("checks[%d]: ", i), explainable)
		if err != nil {
			return nil, err
		}
		checks[i] = c
	}
	return checks, nil
}

type batchResponse struct {
	Results []authz.Decision `json:"results"`
}

// handleBatch serves POST /v1/check/batch: many decisions for one token,
// which is verified once.
func (s *server) handleBatch() http.Handler {
	decode := decoderFor[batchRequest]()
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		var req batchRequest
		if err := decode(requestBody(r), &req); err != nil {
			return err
		}
		checks, err := req.checks(s.limits.MaxBatch, s.explain)
		if err != nil {
			return err
		}
		for i := range checks {
			checks[i].Caller = callerFrom(r.Context())
		}
		results, err := s.decider.CheckBatch(withOrigin(r), req.Token, checks)
		if err != nil {
			return internalError(err)
		}
		for i, d := range results {
			s.logDecision(r, checks[i], d)
		}
		return writeJSON(w, http.StatusOK, batchResponse{Results: results})
	})
}

// withOrigin is r's context, saying to the decision log which endpoint and
// request a decision came from.
func withOrigin(r *http.Request) context.Context {
	return authz.WithOrigin(r.Context(), authz.Origin{Path: r.URL.Path, RequestID: requestIDFrom(r.Context())})
}

// logDecision logs a decision at debug level: its id (which the caller
// got), the action, the answer and the policy revision; never the token.
func (s *server) logDecision(r *http.Request, c authz.Check, d authz.Decision) {
	if !s.logger.Enabled(r.Context(), slog.LevelDebug) {
		return // before the arguments are boxed: this is every decision's path
	}
	s.logger.DebugContext(r.Context(), "decision", "decision_id", d.DecisionID, "action", c.Action,
		"allow", d.Allow, "reason", d.Reason, "policy_revision", d.PolicyRevision,
		"request_id", requestIDFrom(r.Context()))
}
