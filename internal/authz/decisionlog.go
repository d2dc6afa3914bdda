package authz

import (
	"context"
	"time"
)

// DecisionRecord is one decision as the decision log keeps it: enough to
// evaluate it again (the principal, never the token), and where it came
// from.
type DecisionRecord struct {
	Time   time.Time
	Origin Origin
	// Principal is the session's; the anonymous principal when there was
	// no token or the token was refused (TokenReason then says why, and
	// the policies did not run).
	Principal   Principal
	TokenReason Reason
	Check       Check
	Decision    Decision
	Elapsed     time.Duration
	// Shadow is the shadow policy set's answer, when it differs.
	Shadow *ShadowOutcome
}

// DecisionLog receives every decision the Decider makes. Record must not
// block: the decision waits for it.
type DecisionLog interface {
	Record(DecisionRecord)
}

// Origin is where a decision was asked: the endpoint's path and the
// request's id, for the decision log.
type Origin struct {
	Path      string
	RequestID string
}

type originKey struct{}

// WithOrigin returns ctx carrying o, for the decisions made under it.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin ctx carries, or none.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
