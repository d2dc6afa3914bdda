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

// ApproxBytes estimates what r holds beyond its fixed fields: the strings
// of the check and the decision, and what the resource's attributes and
// the context hold, walked only as far as limit (the result is then over
// limit). Queues of records (the decision log's, the shadow's) bound
// themselves by it: a record keeps a request's decoded values alive.
func (r DecisionRecord) ApproxBytes(limit int) int {
	n := 256 + len(r.Check.Action) + len(r.Decision.Message) + len(r.Decision.Reason) + len(r.Decision.DecisionID) +
		len(r.Origin.Path) + len(r.Origin.RequestID)
	if res := r.Check.Resource; res != nil {
		n += len(res.Type) + len(res.ID) + len(res.OrgID) + len(res.OrgSlug) + len(res.OwnerID)
		n = approxValueBytes(res.Attributes, n, limit)
	}
	return approxValueBytes(r.Check.Context, n, limit)
}

// approxValueBytes adds to n what a decoded JSON value holds, stopping
// once n is over limit.
func approxValueBytes(v any, n, limit int) int {
	if n > limit {
		return n
	}
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if n = approxValueBytes(e, n+len(k)+48, limit); n > limit {
				return n
			}
		}
	case []any:
		for _, e := range v {
			if n = approxValueBytes(e, n+16, limit); n > limit {
				return n
			}
		}
	case string:
		n += len(v)
	default:
		n += 16
	}
	return n
}
