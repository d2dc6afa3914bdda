package authz_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// fakeAuthn and fakePolicies are function-field fakes of the interfaces the
// Decider consumes.
type fakeAuthn func(token string) (authz.Principal, error)

func (f fakeAuthn) Authenticate(_ context.Context, token string) (authz.Verification, error) {
	p, err := f(token)
	return authz.Verification{Principal: p, Until: time.Now().Add(time.Hour)}, err
}

type fakePolicies func(in authz.Input) (authz.Outcome, error)

func (fakePolicies) Prepare(p authz.Principal) (authz.Subject, error) {
	return authz.PrincipalSubject(p), nil
}

func (f fakePolicies) Evaluate(_ context.Context, in authz.Input) (authz.Outcome, string, error) {
	out, err := f(in)
	return out, "sha256:test", err
}

func (f fakePolicies) Explain(_ context.Context, in authz.Input) (authz.Outcome, []string, string, error) {
	out, err := f(in)
	return out, []string{"test.rego:1: explained"}, "sha256:test", err
}

func (fakePolicies) Revision() string { return "sha256:test" }

func (f fakePolicies) Actions() []string { return fakeActions }

func (f fakePolicies) EvaluateActions(ctx context.Context, in authz.Input, actions []string) ([]string, []authz.Outcome, string, error) {
	return evaluateEach(ctx, f.Evaluate, in, actions)
}

// fakeActions are the actions the fakes know.
var fakeActions = []string{"tasks:read", "billing:manage"}

// evaluateEach is EvaluateActions for a fake: evaluate once per action.
func evaluateEach(ctx context.Context, evaluate func(context.Context, authz.Input) (authz.Outcome, string, error), in authz.Input, actions []string) ([]string, []authz.Outcome, string, error) {
	if actions == nil {
		actions = fakeActions
	}
	outs := make([]authz.Outcome, len(actions))
	var revision string
	for i, a := range actions {
		in.Check.Action = a
		var err error
		if outs[i], revision, err = evaluate(ctx, in); err != nil {
			return nil, nil, revision, err
		}
	}
	return actions, outs, revision, nil
}

func (fakePolicies) Has(context.Context, authz.Subject, any) (authz.HasAnswer, error) {
	return authz.HasAnswer{Result: true, Reason: "granted"}, nil
}

type recorded struct {
	decisions              []string
	verifications          []string
	cacheHits, cacheMisses int
	tokenHits, tokenMisses int
}

func (r *recorded) ObserveDecision(allow bool, reason string, _ time.Duration) {
	r.decisions = append(r.decisions, reason)
}

func (r *recorded) ObserveTokenVerification(result string) {
	r.verifications = append(r.verifications, result)
}

func (r *recorded) ObserveTokenCacheLookup(hit bool) {
	if hit {
		r.tokenHits++
	} else {
		r.tokenMisses++
	}
}

func (r *recorded) ObserveDecisionCacheLookup(hit bool) {
	if hit {
		r.cacheHits++
	} else {
		r.cacheMisses++
	}
}

var member = authz.Principal{Authenticated: true, UserID: "user_1", OrgID: "org_1", OrgRole: "org:member"}

func authnReturning(p authz.Principal, err error) fakeAuthn {
	return func(string) (authz.Principal, error) { return p, err }
}

func allowAll(in authz.Input) (authz.Outcome, error) {
	return authz.Outcome{Allow: true, Reason: "membership", Message: "ok " + in.Subject.Principal().UserID}, nil
}

func TestDecide(t *testing.T) {
	t.Parallel()
	pending := member
	pending.SessionStatus = "pending"
	tests := []struct {
		name       string
		token      string
		authn      fakeAuthn
		policies   fakePolicies
		want       authz.Decision // DecisionID checked separately
		wantErr    bool
		wantVerify []string
	}{
		{"allow", "t", authnReturning(member, nil), allowAll,
			authz.Decision{Allow: true, Reason: "membership", Message: "ok user_1", PolicyRevision: "sha256:test"}, false, []string{"valid"}},
		{"anonymous reaches the policies", "", authnReturning(authz.Principal{}, errors.New("must not be called")), allowAll,
			authz.Decision{Allow: true, Reason: "membership", Message: "ok ", PolicyRevision: "sha256:test"}, false, nil},
		{"expired token skips the policies", "t", authnReturning(authz.Principal{}, &authz.TokenError{Reason: authz.ReasonTokenExpired, Message: "token is expired"}), nil,
			authz.Decision{Reason: "token_expired", Message: "token is expired", PolicyRevision: "sha256:test"}, false, []string{"expired"}},
		{"invalid token", "t", authnReturning(authz.Principal{}, authz.InvalidToken("bad signature", nil)), nil,
			authz.Decision{Reason: "token_invalid", Message: "bad signature", PolicyRevision: "sha256:test"}, false, []string{"invalid"}},
		{"pending session is signed out", "t", authnReturning(pending, nil), nil,
			authz.Decision{Reason: "session_pending", Message: "the session has unfinished tasks (sts: pending) and is treated as signed out", PolicyRevision: "sha256:test"}, false, []string{"valid"}},
		{"internal authn failure is an error", "t", authnReturning(authz.Principal{}, authz.ErrNoKeys), nil, authz.Decision{}, true, nil},
		{"evaluation error is an error", "t", authnReturning(member, nil),
			func(authz.Input) (authz.Outcome, error) {
				return authz.Outcome{Allow: true, Reason: "x"}, errors.New("boom")
			},
			authz.Decision{}, true, []string{"valid"}},
		{"allow without reason is an error", "t", authnReturning(member, nil),
			func(authz.Input) (authz.Outcome, error) { return authz.Outcome{Allow: true}, nil },
			authz.Decision{}, true, []string{"valid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorded{}
			d := authz.NewDecider(tt.authn, tt.policies, rec, authz.Options{})
			got, err := d.Check(context.Background(), tt.token, authz.Check{Action: "tasks:read"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Check error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if got.Allow {
					t.Errorf("Check allowed alongside error %v", err)
				}
			} else if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.DecisionID) {
				t.Errorf("DecisionID = %q, want a UUIDv4", got.DecisionID)
			}
			got.DecisionID = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantVerify, rec.verifications); diff != "" {
				t.Errorf("verifications recorded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckBatch(t *testing.T) {
	t.Parallel()
	calls := 0
	authn := fakeAuthn(func(string) (authz.Principal, error) { calls++; return member, nil })
	policies := fakePolicies(func(in authz.Input) (authz.Outcome, error) {
		if in.Check.Action == "explode" {
			return authz.Outcome{}, errors.New("boom")
		}
		return authz.Outcome{Allow: in.Check.Action == "a", Reason: authz.Reason("r_" + in.Check.Action)}, nil
	})
	d := authz.NewDecider(authn, policies, nil, authz.Options{})
	got, err := d.CheckBatch(context.Background(), "t", []authz.Check{{Action: "a"}, {Action: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(got) != 2 || !got[0].Allow || got[1].Allow || got[1].Reason != "r_b" {
		t.Errorf("CheckBatch = %+v after %d verifications, want [allow r_a, deny r_b] after 1", got, calls)
	}
	if got, err := d.CheckBatch(context.Background(), "t", []authz.Check{{Action: "a"}, {Action: "explode"}}); err == nil {
		t.Errorf("CheckBatch with a failing check = %+v, nil; want an error and no partial answer", got)
	}
}

// countingPolicies counts evaluations and answers from the check; the
// revision and determinism are the test's to set.
type countingPolicies struct {
	evaluations   int
	prepared      int
	revision      string
	deterministic bool
}

func (p *countingPolicies) Evaluate(_ context.Context, in authz.Input) (authz.Outcome, string, error) {
	p.evaluations++
	return authz.Outcome{Allow: true, Reason: authz.Reason("r_" + in.Check.Action), Deterministic: p.deterministic}, p.revision, nil
}

func (p *countingPolicies) Explain(ctx context.Context, in authz.Input) (authz.Outcome, []string, string, error) {
	out, revision, err := p.Evaluate(ctx, in)
	return out, []string{"test.rego:1: explained"}, revision, err
}

func (p *countingPolicies) Revision() string { return p.revision }

func (p *countingPolicies) Actions() []string { return fakeActions }

func (p *countingPolicies) EvaluateActions(ctx context.Context, in authz.Input, actions []string) ([]string, []authz.Outcome, string, error) {
	return evaluateEach(ctx, p.Evaluate, in, actions)
}

func (p *countingPolicies) Prepare(pr authz.Principal) (authz.Subject, error) {
	p.prepared++
	return authz.PrincipalSubject(pr), nil
}

func (p *countingPolicies) Has(context.Context, authz.Subject, any) (authz.HasAnswer, error) {
	return authz.HasAnswer{}, nil
}

// TestDecisionCache: only the very same token, action, resource, context
// and revision is answered from the cache, and only for deterministic
// policies. A decision is cached when it is evaluated a second time (the
// doorkeeper), so the third ask is the first answered from the cache.
func TestDecisionCache(t *testing.T) {
	t.Parallel()
	policies := &countingPolicies{revision: "sha256:a", deterministic: true}
	rec := &recorded{}
	d := authz.NewDecider(authnReturning(member, nil), policies, rec, authz.Options{DecisionCacheSize: 100})
	ctx := context.Background()
	res := func(org string) *authz.Resource { return &authz.Resource{OrgID: org} }
	ask := func(token string, c authz.Check) authz.Decision {
		t.Helper()
		dec, err := d.Check(ctx, token, c)
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	base := authz.Check{Action: "tasks:read", Resource: res("org_1"), Context: map[string]any{"ip": "10.0.0.1"}}
	first := ask("t1", base)
	ask("t1", base)
	if policies.evaluations != 2 || rec.cacheHits != 0 {
		t.Fatalf("same input twice: %d evaluations, %d hits; want 2, 0", policies.evaluations, rec.cacheHits)
	}
	second := ask("t1", authz.Check{Action: "tasks:read", Resource: res("org_1"), Context: map[string]any{"ip": "10.0.0.1"}})
	if policies.evaluations != 2 || rec.cacheHits != 1 {
		t.Fatalf("same input three times: %d evaluations, %d hits; want 2, 1", policies.evaluations, rec.cacheHits)
	}
	if first.DecisionID == second.DecisionID || second.Reason != first.Reason {
		t.Errorf("cached decision %+v vs %+v: want the same answer under a new decision id", second, first)
	}
	for name, c := range map[string]authz.Check{
		"other action":   {Action: "tasks:list", Resource: res("org_1"), Context: base.Context},
		"other resource": {Action: "tasks:read", Resource: res("org_2"), Context: base.Context},
		"other context":  {Action: "tasks:read", Resource: res("org_1"), Context: map[string]any{"ip": "10.0.0.2"}},
		"no context":     {Action: "tasks:read", Resource: res("org_1")},
	} {
		before := policies.evaluations
		ask("t1", c)
		if policies.evaluations != before+1 {
			t.Errorf("%s: answered from the cache", name)
		}
	}
	before := policies.evaluations
	ask("t2", base)
	if policies.evaluations != before+1 {
		t.Error("another token: answered from the cache")
	}
	policies.revision = "sha256:b"
	ask("t1", base)
	if policies.evaluations != before+2 {
		t.Error("a new policy revision: answered from the cache")
	}
	policies.deterministic = false
	ask("t1", authz.Check{Action: "never:cached"})
	ask("t1", authz.Check{Action: "never:cached"})
	ask("t1", authz.Check{Action: "never:cached"})
	if policies.evaluations != before+5 {
		t.Error("a non-deterministic outcome was cached")
	}
}

// TestDecisionCacheNeedsAToken: a session built from a principal alone
// (verdict check --claims) has no token to key the cache with, so it is
// never cached: otherwise two such principals would share entries.
func TestDecisionCacheNeedsAToken(t *testing.T) {
	t.Parallel()
	policies := &countingPolicies{revision: "sha256:a", deterministic: true}
	d := authz.NewDecider(nil, policies, nil, authz.Options{DecisionCacheSize: 100})
	for _, p := range []authz.Principal{member, {Authenticated: true, UserID: "user_2", OrgID: "org_2"}} {
		if _, err := d.Decide(context.Background(), authz.SessionFor(p), authz.Check{Action: "tasks:read"}); err != nil {
			t.Fatal(err)
		}
	}
	if policies.evaluations != 2 {
		t.Errorf("two principals without tokens: %d evaluations, want 2", policies.evaluations)
	}
}

// TestDecisionCacheSkipsAnonymous: checks without a token are evaluated
// every time and never looked up in or stored into the cache, so callers
// who need no token cannot fill it; neither are checks of a rejected token.
func TestDecisionCacheSkipsAnonymous(t *testing.T) {
	t.Parallel()
	policies := &countingPolicies{revision: "sha256:a", deterministic: true}
	rec := &recorded{}
	d := authz.NewDecider(authnReturning(authz.Principal{}, authz.InvalidToken("bad", nil)), policies, rec, authz.Options{DecisionCacheSize: 100})
	for range 3 {
		for _, token := range []string{"", "rejected"} {
			if _, err := d.Check(context.Background(), token, authz.Check{Action: "tasks:read"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rec.cacheHits != 0 || rec.cacheMisses != 0 {
		t.Errorf("anonymous and rejected checks: %d cache hits, %d misses; want no lookups", rec.cacheHits, rec.cacheMisses)
	}
	if policies.evaluations != 3 {
		t.Errorf("%d evaluations, want 3: each anonymous check evaluated, no rejected one", policies.evaluations)
	}
}

// TestExplainedDecisions: an explained check is evaluated, never answered
// from the cache, and gives the same answer with its explanation; a token
// refused before the policies ran says so.
func TestExplainedDecisions(t *testing.T) {
	t.Parallel()
	policies := &countingPolicies{revision: "sha256:a", deterministic: true}
	d := authz.NewDecider(authnReturning(member, nil), policies, nil, authz.Options{DecisionCacheSize: 100})
	ctx := context.Background()
	plain, err := d.Check(ctx, "t1", authz.Check{Action: "tasks:read"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		explained, err := d.Check(ctx, "t1", authz.Check{Action: "tasks:read", Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if explained.Allow != plain.Allow || explained.Reason != plain.Reason || len(explained.Explanation) != 1 {
			t.Errorf("explained = %+v, want %+v with an explanation", explained, plain)
		}
	}
	if policies.evaluations != 3 {
		t.Errorf("%d evaluations, want 3: explained checks are never answered from the cache", policies.evaluations)
	}
	if plain.Explanation != nil {
		t.Errorf("an unexplained decision carries %v", plain.Explanation)
	}

	rejected := authz.NewDecider(authnReturning(authz.Principal{}, authz.InvalidToken("bad", nil)), policies, nil, authz.Options{})
	dec, err := rejected.Check(ctx, "t2", authz.Check{Action: "tasks:read", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"token verification: token_invalid: the policies did not run"}; !cmp.Equal(dec.Explanation, want) {
		t.Errorf("explanation of a refused token = %q, want %q", dec.Explanation, want)
	}
}

// TestSessions: a verified token is verified and prepared for the
// policies once, then found in the session cache; an expired session
// answers token_expired without verifying; a session whose key no longer
// holds is verified again; a rejected token is never remembered.
func TestSessions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	verifications := 0
	keyHolds := true
	authn := fakeVerifier(func(token string) (authz.Verification, error) {
		verifications++
		if token == "bad" {
			return authz.Verification{}, authz.InvalidToken("bad signature", nil)
		}
		return authz.Verification{
			Principal: member, Until: now.Add(time.Minute),
			KeyHolds: func(context.Context) bool { return keyHolds },
		}, nil
	})
	policies := &countingPolicies{revision: "sha256:a"}
	rec := &recorded{}
	d := authz.NewDecider(authn, policies, rec, authz.Options{SessionCacheSize: 10, Now: clock})
	ctx := context.Background()
	ask := func(token string) authz.Decision {
		t.Helper()
		dec, err := d.Check(ctx, token, authz.Check{Action: "tasks:read"})
		if err != nil {
			t.Fatal(err)
		}
		return dec
	}
	for range 3 {
		ask("t1")
	}
	if verifications != 1 || policies.prepared != 1 || rec.tokenHits != 2 {
		t.Errorf("three checks of one token: %d verifications, %d preparations, %d hits; want 1, 1, 2",
			verifications, policies.prepared, rec.tokenHits)
	}
	for range 2 {
		if got := ask("bad"); got.Reason != authz.ReasonTokenInvalid {
			t.Errorf("bad token: %s, want token_invalid", got.Reason)
		}
	}
	if verifications != 3 || d.CachedSessions() != 1 {
		t.Errorf("a bad token twice: %d verifications, %d sessions; want 3, 1 (never remembered)", verifications, d.CachedSessions())
	}
	keyHolds = false
	ask("t1")
	if verifications != 4 || policies.prepared != 2 {
		t.Errorf("key no longer holds: %d verifications, %d preparations; want 4, 2", verifications, policies.prepared)
	}
	keyHolds = true
	now = now.Add(time.Minute)
	if got := ask("t1"); got.Reason != authz.ReasonTokenExpired {
		t.Errorf("past the session's end: %s, want token_expired", got.Reason)
	}
	if verifications != 4 {
		t.Errorf("an expired session was verified again (%d verifications)", verifications)
	}
}

type fakeVerifier func(token string) (authz.Verification, error)

func (f fakeVerifier) Authenticate(_ context.Context, token string) (authz.Verification, error) {
	return f(token)
}
