package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/verdict-pdp/verdict/internal/clerkwebhook"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// Webhooks receives Clerk's webhook deliveries (clerkwebhook.Receiver).
type Webhooks interface {
	Receive(ctx context.Context, body []byte, h http.Header) error
}

// Webhook bodies are Clerk events, a few kilobytes: they are admitted on
// budgets of their own, so that deliveries (which need no caller key) can
// never take the decision routes' budget from the callers.
const (
	maxWebhookBodyBytes     = 256 << 10
	maxWebhookInflightBytes = 1 << 20
)

// codeUnavailable is the envelope's code for a webhook whose revocations
// are in force here but not shared yet: Clerk delivers it again.
const codeUnavailable = "unavailable"

// handleClerkWebhook takes a Clerk webhook delivery: 204 once done (an
// event Verdict does not act on, or one done before, included), 401 when
// the signature does not hold, 400 when it is not an event, 503 when its
// revocations could not be shared with the other replicas yet.
func (s *server) handleClerkWebhook(hooks Webhooks) http.Handler {
	return s.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		if err := hooks.Receive(r.Context(), requestBody(r), r.Header); err != nil {
			return webhookError(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// webhookError is what the caller is told of a delivery refused.
func webhookError(err error) error {
	switch {
	case errors.Is(err, clerkwebhook.ErrSignature):
		return &Error{Status: http.StatusUnauthorized, Code: codeUnauthorized, Err: err,
			Message: "the webhook's signature is missing or wrong, or its timestamp is more than 5 minutes off"}
	case errors.Is(err, clerkwebhook.ErrNotAnEvent):
		return &Error{Status: http.StatusBadRequest, Code: codeBadRequest, Message: err.Error()}
	case errors.Is(err, revocation.ErrFull):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Err: err,
			Message: "the revocations in force fill this replica's store; deliver it again"}
	case errors.Is(err, revocation.ErrNotShared):
		return &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Err: err,
			Message: "the revocation is in force on this replica but could not be shared with the others yet; deliver it again"}
	}
	return internalError(err)
}

// requirePolicies answers 503 on the decision routes while no policy set
// serves: a decision then would come from Verdict's built-in layer alone,
// without the team's rules and data.
func requirePolicies(s *server, serving func() bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !serving() {
				writeError(w, r, s.logger, &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
					Message: "no policy set serves yet: waiting for the first bundle"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
