package authz

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/verdict-pdp/verdict/internal/boundedmap"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// Authenticator verifies a Clerk session token. A token that is not
// accepted yields a *TokenError; any other error is an internal failure.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Verification, error)
}

// Evaluator evaluates the current policies. Prepare makes the Subject a
// session's evaluations share. Evaluate answers one input; revision names
// the policy revision that produced the outcome. EvaluateActions answers
// the input once per action (nil: every action the policies know, which
// it returns), all under one revision. Actions lists the actions the
// current policies know: their catalog and the system permission keys.
// Explain evaluates the same and says what decided. Has answers Clerk's
// has() for a subject and a check object exactly as the caller sent it.
type Evaluator interface {
	Prepare(p Principal) (Subject, error)
	Evaluate(ctx context.Context, in Input) (out Outcome, revision string, err error)
	EvaluateActions(ctx context.Context, in Input, actions []string) (names []string, outs []Outcome, revision string, err error)
	Actions() []string
	Explain(ctx context.Context, in Input) (out Outcome, explanation []string, revision string, err error)
	Has(ctx context.Context, s Subject, check any) (HasAnswer, error)
	Revision() string
}

// Recorder observes decisions and token verifications. Its methods take plain
// values so that an implementation needs nothing from this package.
type Recorder interface {
	ObserveDecision(allow bool, reason string, elapsed time.Duration)
	ObserveTokenVerification(result string)
	ObserveTokenCacheLookup(hit bool)
	ObserveDecisionCacheLookup(hit bool)
}

// Token verification results passed to Recorder.ObserveTokenVerification.
const (
	VerificationValid   = "valid"
	VerificationExpired = "expired"
	VerificationInvalid = "invalid"
	// VerificationRevoked: a valid token that a revocation covers.
	VerificationRevoked = "revoked"
)

// Revocations says whether a revocation in force covers a token.
type Revocations interface {
	// Covers is consulted for every verified token, cached or not: an
	// in-memory lookup.
	Covers(t revocation.Token, now time.Time) bool
}

// Decider answers checks: it verifies a token once for all the session's
// checks (its session cache), evaluates the policies for each check and
// fails closed. It is safe for concurrent use.
type Decider struct {
	authn    Authenticator
	policies Evaluator
	recorder Recorder
	sessions *sessions      // nil when disabled
	cache    *decisionCache // nil when disabled
	log      DecisionLog    // nil when off
	shadow   *Shadow        // nil when off
	hashers  sync.Pool      // of *tokenHasher, for session keys
	now      func() time.Time
	// revocations, nil when off, covers tokens revoked before they expire.
	revocations Revocations
}

// Options tune a Decider.
type Options struct {
	// SessionCacheSize bounds the verified tokens remembered (sessions);
	// 0 disables the cache, and every check verifies its token.
	SessionCacheSize int
	// DecisionCacheSize bounds the exact-decision cache (entries); 0
	// disables it. Only outcomes of deterministic policies are cached.
	DecisionCacheSize int
	// DecisionCacheBytes bounds the same cache by bytes; 0 means
	// DefaultDecisionCacheBytes.
	DecisionCacheBytes int
	// Now is the clock sessions expire by; nil means time.Now.
	Now func() time.Time
	// Log, when set, receives every decision.
	Log DecisionLog
	// Shadow, when set, evaluates every decision the policies made again
	// with a candidate set, and hands every decision to its own log in
	// place of Log.
	Shadow *Shadow
	// Revocations, when set, turns the tokens its revocations cover into
	// session_revoked.
	Revocations Revocations
}

// NewDecider returns a Decider. recorder may be nil.
func NewDecider(authn Authenticator, policies Evaluator, recorder Recorder, opts Options) *Decider {
	if recorder == nil {
		recorder = nopRecorder{}
	}
	d := &Decider{authn: authn, policies: policies, recorder: recorder, now: opts.Now, log: opts.Log, shadow: opts.Shadow, revocations: opts.Revocations}
	if d.shadow != nil {
		d.log = d.shadow
	}
	if d.now == nil {
		d.now = time.Now
	}
	if opts.SessionCacheSize > 0 {
		d.sessions = boundedmap.New[sessionKey, *session](opts.SessionCacheSize)
	}
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
	// verified is the session of a verified token; nil for the anonymous
	// principal and for a principal given without a token (SessionFor).
	verified *session
}

// subject is the principal as the policies see it.
func (s Session) subject() Subject {
	if s.verified != nil {
		return s.verified.subject
	}
	return PrincipalSubject(s.Principal)
}

// Authenticate verifies token, or finds it verified before. An empty token
// gives the anonymous principal. Only an internal failure (for example no
// keys loaded) is returned as error.
func (d *Decider) Authenticate(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, nil
	}
	v, err := d.verified(ctx, token)
	if err != nil {
		te, ok := AsTokenError(err)
		if !ok {
			return Session{}, fmt.Errorf("authenticate: %w", err)
		}
		d.recorder.ObserveTokenVerification(verificationResult(te.Reason))
		return Session{Rejected: te}, nil
	}
	p := v.subject.Principal()
	if d.revoked(p) {
		d.recorder.ObserveTokenVerification(VerificationRevoked)
		return Session{Rejected: &TokenError{
			Reason:  ReasonSessionRevoked,
			Message: "the session, the user or the membership was revoked at Clerk after this token was issued",
		}}, nil
	}
	d.recorder.ObserveTokenVerification(VerificationValid)
	s := SessionFor(p)
	if s.Rejected == nil {
		s.verified = v
	}
	return s, nil
}

// BindSubject is s for a request that names its subject (AuthZEN's
// subject.id): a verified token of another user is rejected with
// subject_mismatch, so that a token cannot be sent on another subject's
// behalf. A session without a verified token is left as it is: a token's
// own rejection comes first, and a token-less subject is for the
// policies to judge.
func (s Session) BindSubject(subjectID string) Session {
	if s.Rejected != nil || !s.Principal.Authenticated || s.Principal.UserID == subjectID {
		return s
	}
	// As for any refused token, the decision log then shows an anonymous
	// principal beside the token's reason; the message names the user.
	return Session{Rejected: &TokenError{
		Reason:  ReasonSubjectMismatch,
		Message: fmt.Sprintf("subject.id %q is not the token's user %s", subjectID, s.Principal.UserID),
	}}
}

// revoked reports whether a revocation covers p's token. It is asked of
// every request, so that a session cached before its revocation is not let
// through.
func (d *Decider) revoked(p Principal) bool {
	if d.revocations == nil {
		return false
	}
	return d.revocations.Covers(revocation.Token{SessionID: p.SessionID, UserID: p.UserID, OrgID: p.OrgID, IssuedAt: p.IssuedAt}, d.now())
}

// verified returns token's session: from the session cache while the
// verification stands, else verified now (and remembered when it passed).
// Tokens longer than any token the authenticator accepts skip the cache,
// so that a flood of huge ones costs no hashing.
func (d *Decider) verified(ctx context.Context, token string) (*session, error) {
	if d.sessions == nil && d.cache == nil || len(token) > MaxTokenBytes {
		return d.verify(ctx, token, nil)
	}
	key := d.sessionKey(token)
	if d.sessions == nil {
		return d.verify(ctx, token, &key)
	}
	now := d.now()
	if s, ok := d.sessions.Get(key); ok {
		switch {
		case !now.Before(s.until):
			d.recorder.ObserveTokenCacheLookup(true)
			d.sessions.Delete(key)
			return nil, TokenExpired()
		case s.keyHolds == nil || s.keyHolds(ctx):
			d.recorder.ObserveTokenCacheLookup(true)
			return s, nil
		}
		d.sessions.Delete(key) // its key changed: verify the token again
	}
	d.recorder.ObserveTokenCacheLookup(false)
	s, err := d.verify(ctx, token, &key)
	if err == nil {
		d.sessions.Put(key, s, func(old *session) bool { return !now.Before(old.until) })
	}
	return s, err
}

// sessionKey hashes token without copying it: every request with a token
// does this, and the token is most of its body.
func (d *Decider) sessionKey(token string) sessionKey {
	h, _ := d.hashers.Get().(*tokenHasher)
	if h == nil {
		h = &tokenHasher{h: sha256.New()}
	}
	defer d.hashers.Put(h)
	h.h.Reset()
	for len(token) > 0 {
		n := copy(h.buf[:], token)
		h.h.Write(h.buf[:n])
		token = token[n:]
	}
	var key sessionKey
	h.h.Sum(key[:0])
	return key
}

// tokenHasher is a SHA-256 and a buffer to feed it a string through.
type tokenHasher struct {
	h   hash.Hash
	buf [512]byte
}

// verify verifies token and prepares its principal for the policies. key,
// when not nil, identifies the token to the caches.
func (d *Decider) verify(ctx context.Context, token string, key *sessionKey) (*session, error) {
	v, err := d.authn.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	var subject Subject = PrincipalSubject(v.Principal)
	if d.policies != nil { // nil when only authenticating (verdict check)
		if subject, err = d.policies.Prepare(v.Principal); err != nil {
			return nil, fmt.Errorf("prepare the principal for the policies: %w", err)
		}
	}
	s := &session{subject: subject, until: v.Until, keyHolds: v.KeyHolds}
	if key != nil {
		s.key, s.keyed = *key, true
	}
	return s, nil
}

// SessionFor returns the session of a principal given without a token
// (verdict check --claims). A pending session (sts: "pending", unfinished
// session tasks) is treated as signed out, as Clerk does by default.
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
	dec, r, err := d.decideOne(ctx, s, c)
	if err != nil {
		return Decision{}, err
	}
	d.logDecision(s, r)
	return dec, nil
}

// decideOne answers one check, and returns what the decision log keeps of
// it (when a log is on); the caller logs it once the answer is given.
func (d *Decider) decideOne(ctx context.Context, s Session, c Check) (Decision, DecisionRecord, error) {
	start := d.now()
	dec, err := d.decide(ctx, s, c)
	if err != nil {
		return Decision{}, DecisionRecord{}, err
	}
	dec.DecisionID = newDecisionID()
	elapsed := d.now().Sub(start)
	d.recorder.ObserveDecision(dec.Allow, string(dec.Reason), elapsed)
	if d.log == nil {
		return dec, DecisionRecord{}, nil
	}
	r := DecisionRecord{Time: start, Origin: OriginOf(ctx), Principal: s.Principal, Check: c, Decision: dec, Elapsed: elapsed}
	if s.Rejected != nil {
		r.TokenReason = s.Rejected.Reason
	}
	return dec, r, nil
}

// logDecision hands a decision to the shadow (which logs it after) or to
// the decision log, when either is on.
func (d *Decider) logDecision(s Session, r DecisionRecord) {
	switch {
	case d.log == nil:
	case d.shadow != nil && s.Rejected == nil && !r.Check.Explain:
		d.shadow.evaluate(r, s.subject())
	default:
		d.log.Record(r)
	}
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
		out, explanation, revision, err = d.policies.Explain(ctx, Input{Subject: s.subject(), Check: c})
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
	in := Input{Subject: s.subject(), Check: c}
	if d.cache == nil || s.verified == nil || !s.verified.keyed {
		return d.policies.Evaluate(ctx, in)
	}
	revision := d.policies.Revision()
	key, ok := d.cache.key(revision, s.verified.key, c)
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
	asks := make([]Ask, len(checks))
	for i, c := range checks {
		asks[i] = Ask{Session: s, Check: c}
	}
	return d.DecideAll(ctx, asks, nil)
}

// Ask is one check of a request that asks several, with its session.
type Ask struct {
	Session Session
	Check   Check
	// Unanswerable marks a check the caller refuses itself (a malformed
	// item of a batch): it is not decided, its decision is the zero
	// Decision (a deny), and it counts as a deny for stop.
	Unanswerable bool
}

// DecideAll answers asks in order and stops after the first decision for
// which stop, when not nil, reports true: the decisions answered are
// returned, that one included. It fails as a whole if any check cannot be
// decided; the decisions are logged once all are answered, so the log
// holds only decisions a caller got.
func (d *Decider) DecideAll(ctx context.Context, asks []Ask, stop func(allow bool) bool) ([]Decision, error) {
	out := make([]Decision, 0, len(asks))
	records := make([]DecisionRecord, len(asks))
	for i, a := range asks {
		var dec Decision
		if !a.Unanswerable {
			var err error
			if dec, records[i], err = d.decideOne(ctx, a.Session, a.Check); err != nil {
				return nil, fmt.Errorf("check %d: %w", i, err)
			}
		}
		out = append(out, dec)
		if stop != nil && stop(dec.Allow) {
			break
		}
	}
	for i := range out {
		if !asks[i].Unanswerable {
			d.logDecision(asks[i].Session, records[i])
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
	a, err := d.policies.Has(ctx, s.subject(), check)
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
func (nopRecorder) ObserveTokenCacheLookup(bool)                {}
func (nopRecorder) ObserveDecisionCacheLookup(bool)             {}

// CachedSessions reports how many verified tokens the session cache holds.
func (d *Decider) CachedSessions() int {
	if d.sessions == nil {
		return 0
	}
	return d.sessions.Len()
}
