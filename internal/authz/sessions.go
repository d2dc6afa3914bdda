package authz

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/verdict-pdp/verdict/internal/boundedmap"
)

// Verification is what an Authenticator found in a token it accepted:
// the principal, and what decides whether the Decider may reuse the
// verification for the same token later.
type Verification struct {
	Principal Principal
	// Until is when the verification stops standing: the token's exp plus
	// the authenticator's leeway for clocks.
	Until time.Time
	// KeyHolds reports whether the key that verified the token is still the
	// one the key set gives for it; a withdrawn or replaced key sends the
	// token back to full verification. Nil means the key never changes.
	KeyHolds func(ctx context.Context) bool
}

// Subject is a principal as an Evaluator prepared it (its policy input,
// and whatever the Evaluator carries from one of the session's
// evaluations to the next). The Decider prepares one per verified token
// and keeps it with the session.
type Subject interface {
	Principal() Principal
}

// PrincipalSubject is a Subject that holds only p: an Evaluator prepares
// it afresh for each evaluation. It is for a principal outside any session
// (verdict check --claims) and for evaluators that prepare nothing.
func PrincipalSubject(p Principal) Subject { return principalSubject{p} }

type principalSubject struct{ p Principal }

func (s principalSubject) Principal() Principal { return s.p }

// sessionKey identifies a token: the SHA-256 of every byte of it. Any
// change to the token (a tampered claim, another signature) is another
// key, so a forged token can never ride a verified one's session. It keys
// the decision cache too: no domain value holds the token itself.
type sessionKey [sha256.Size]byte

// session is a verified token's: its principal as the policies see it,
// and how long, and while which key holds, the verification stands.
type session struct {
	key      sessionKey
	keyed    bool // key is set: the caches may identify the token by it
	subject  Subject
	until    time.Time
	keyHolds func(ctx context.Context) bool
}

// sessions are the Decider's verified tokens, so that a session's repeated
// checks skip the signature check, the claim decoding and the preparing of
// the policy input. Only tokens that verified are stored: a flood of bad
// tokens costs a miss each but never pushes good sessions out. A hit is
// used only while the key that verified it holds and the clock is before
// its end; entries past their end are dropped when met and go first when
// the cache is full.
type sessions = boundedmap.Map[sessionKey, *session]
