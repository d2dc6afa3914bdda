package authz

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Authenticator verifies a Clerk session token and returns its principal.
// A token that is not accepted yields a *TokenError; any other error is an
// internal failure.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// Evaluator evaluates the current policies for one input. Revision names the
// policy revision that produced the outcome. Explain evaluates the same and
// says what decided. Has answers Clerk's has() for a principal and a check
// object exactly as the caller sent it.
type Evaluator interface {
	Evaluate(ctx context.Context, in Input) (out Outcome, revision string, err error)
	Explain(ctx context.Context, in Input) (out Outcome, explanation []string, revision string, err error)
	Has(ctx context.Context, p Principal, check any) (HasAnswer, error)
	Revision() string
}

// Recorder observes decisions and token verifications. Its methods take plain
// values so that an implementation needs nothing from this package.
type Recorder interface {
	ObserveDecision(allow bool, reason string, elapsed time.Duration)
	ObserveTokenVerification(result string)
	ObserveDecisionCacheLookup(hit bool)
}

// Token verification results passed to Recorder.ObserveTokenVerification.
const (
	VerificationValid   = "valid"
	VerificationExpired = "expired"
	VerificationInvalid = "invalid"
)

// Decider answers checks: it verifies the token once, evaluates the policies
// for each check and fails closed. It is safe for concurrent use.
type Decider struct {
	authn    Authenticator
	policies Evaluator
	recorder Recorder
	cache    *decisionCache // nil when disabled
	now      func() time.Time
}

// Options tune a Decider.
type Options struct {
	// DecisionCacheSize bounds the exact-decision cache (entries); 0
	// disables it. Only outcomes of deterministic policies are cached.
	DecisionCacheSize int
	// DecisionCacheBytes bounds the same cache by bytes; 0 means
	// DefaultDecisionCacheBytes.
	DecisionCacheBytes int
}

// NewDecider returns a Decider. recorder may be nil.
func NewDecider(authn Authenticator, policies Evaluator, recorder Recorder, opts Options) *Decider {
	if recorder == nil {
		recorder = nopRecorder{}
	}
	d := &Decider{authn: authn, policies: policies, recorder: recorder, now: time.Now}
	if opts.DecisionCacheSize > 0 {
		maxBytes := opts.DecisionCacheBytes
		if maxBytes <= 0 {
			maxBytes = DefaultDecisionCacheBytes
		}
		d.cache = newDecisionCache(opts.DecisionCacheSize, maxBytes)
	}
	return d
}

// Session is the outcome of verifying a token: either a principal or the
// token's own deny reason.
type Session struct {
	Principal Principal
	// Rejected is set when the token was not accepted; decisions for this
	// session then deny with its reason without consulting the policies.
	Rejected *TokenError
	// token is the verified token, which keys the decision cache.
	token string
}

// Authenticate verifies token. An empty token gives the anonymous principal.
// Only an internal failure (for example no keys loaded) is returned as error.
func (d *Decider) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, nil
	}
	p, err := d.authn.Authenticate(ctx, token)
	if err != nil {
		te, ok := AsTokenError(err)
		if !ok {
			return Session{}, fmt.Errorf("authenticate: %w", err)
		}
		d.recorder.ObserveTokenVerification(verificationResult(te.Reason))
		return Session{Rejected: te}, nil
	}
	d.recorder.ObserveTokenVerification(VerificationValid)
	s := SessionFor(p)
	s.token = token
	return s, nil
}

// SessionFor returns the session of a verified principal. A pending session
// (sts: "pending", unfinished session tasks) is treated as signed out, as
// Clerk does by default.
func SessionFor(p Principal) Session {
	if p.SessionStatus == "pending" {
		return Session{Rejected: &TokenError{
			Reason:  ReasonSessionPending,
			Message: "the session has unfinished tasks (sts: pending) and is treated as signed out",
		}}
	}
	return Session{Principal: p}
}

func verificationResult(r Reason) string {
	if r == ReasonTokenExpired {
		return VerificationExpired
	}
	// A pending session is a valid signature on a session that may not act;
	// it never reaches here because the verifier accepts it.
	return VerificationInvalid
}

// Decide answers one check for a session. Any failure inside evaluation is
// returned as an error and never as an allow.
func (d *Decider) Decide(ctx context.Context, s Session, c Check) (Decision, error) {
	start := d.now()
	dec, err := d.decide(ctx, s, c)
	if err != nil {
		return Decision{}, err
	}
	dec.DecisionID = newDecisionID()
	d.recorder.ObserveDecision(dec.Allow, string(dec.Reason), d.now().Sub(start))
	return dec, nil
}

func (d *Decider) decide(ctx context.Context, s Session, c Check) (Decision, error) {
	if s.Rejected != nil {
		dec := Decision{
			Reason:         s.Rejected.Reason,
			Message:        s.Rejected.Message,
			PolicyRevision: d.policies.Revision(),
		}
		if c.Explain {
			dec.Explanation = []string{fmt.Sprintf("token verification: %s: the policies did not run", s.Rejected.Reason)}
		}
		return dec, nil
	}
	var out Outcome
	var explanation []string
	var revision string
	var err error
	if c.Explain {
		// Explained decisions are evaluated, never answered from the cache:
		// the explanation is of this evaluation.
		out, explanation, revision, err = d.policies.Explain(ctx, Input{Principal: s.Principal, Check: c})
	} else {
		out, revision, err = d.evaluate(ctx, s, c)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate policies: %w", err)
	}
	if out.Reason == "" {
		return Decision{}, errors.New("evaluate policies: decision has no reason code")
	}
	return Decision{
		Allow:          out.Allow,
		Reason:         out.Reason,
		Message:        out.Message,
		PolicyRevision: revision,
		Explanation:    explanation,
	}, nil
}

// evaluate answers from the decision cache when it holds this exact input
// under the current revision, and evaluates the policies otherwise.
//
// Only sessions with a verified token use the cache. Anonymous checks are
// cheap to evaluate (the policies stop at "unauthenticated" for anything
// that needs a user) and anyone can send them in any number, so caching
// them would let strangers fill the cache and evict the entries of real
// sessions. A principal without its token (SessionFor) has nothing that
// identifies it in a key. Rejected tokens never get here: decide answers
// them with the token's reason.
func (d *Decider) evaluate(ctx context.Context, s Session, c Check) (Outcome, string, error) {
	in := Input{Principal: s.Principal, Check: c}
	if d.cache == nil || s.token == "" {
		return d.policies.Evaluate(ctx, in)
	}
	revision := d.policies.Revision()
	key, ok := d.cache.key(revision, s.token, c)
	if ok {
		if out, hit := d.cache.get(key); hit {
			d.recorder.ObserveDecisionCacheLookup(true)
			return out, revision, nil
		}
		d.recorder.ObserveDecisionCacheLookup(false)
	}
	out, evaluated, err := d.policies.Evaluate(ctx, in)
	if err == nil && ok && out.Deterministic && evaluated == revision && out.Reason != "" {
		d.cache.put(revision, key, out)
	}
	return out, evaluated, err
}

// Check verifies the token and answers one check.
func (d *Decider) Check(ctx context.Context, token string, c Check) (Decision, error) {
	s, err := d.Authenticate(ctx, token)
	if err != nil {
		return Decision{}, err
	}
	return d.Decide(ctx, s, c)
}

// CheckBatch verifies the token once and answers every check in order. It
// fails as a whole if any check cannot be decided, so a partial answer can
// never be mistaken for a complete one.
func (d *Decider) CheckBatch(ctx context.Context, token string, checks []Check) ([]Decision, error) {
	s, err := d.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	out := make([]Decision, len(checks))
	for i, c := range checks {
		if out[i], err = d.Decide(ctx, s, c); err != nil {
			return nil, fmt.Errorf("check %d: %w", i, err)
		}
	}
	return out, nil
}

// Has answers Clerk's has() for the token's session. A missing, rejected
// or pending token answers false with its reason, as Clerk's signed-out
// auth object does.
func (d *Decider) Has(ctx context.Context, token string, check any) (HasAnswer, error) {
	if token == "" {
		return HasAnswer{Reason: ReasonUnauthenticated, Message: "no token was given; has() is false for a signed-out session"}, nil
	}
	s, err := d.Authenticate(ctx, token)
	if err != nil {
		return HasAnswer{}, err
	}
	if s.Rejected != nil {
		return HasAnswer{Reason: s.Rejected.Reason, Message: s.Rejected.Message}, nil
	}
	a, err := d.policies.Has(ctx, s.Principal, check)
	if err != nil {
		return HasAnswer{}, fmt.Errorf("evaluate has(): %w", err)
	}
	return a, nil
}

// newDecisionID returns a random UUIDv4 string. Decision ids correlate a
// caller's answer with Verdict's logs.
func newDecisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

type nopRecorder struct{}

func (nopRecorder) ObserveDecision(bool, string, time.Duration) {}
func (nopRecorder) ObserveTokenVerification(string)             {}
func (nopRecorder) ObserveDecisionCacheLookup(bool)             {}
