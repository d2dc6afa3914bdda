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

func (f fakeAuthn) Authenticate(_ context.Context, token string) (authz.Principal, error) {
	return f(token)
}

type fakePolicies func(in authz.Input) (authz.Outcome, error)

func (f fakePolicies) Evaluate(_ context.Context, in authz.Input) (authz.Outcome, string, error) {
	out, err := f(in)
	return out, "sha256:test", err
}

func (fakePolicies) Revision() string { return "sha256:test" }

func (fakePolicies) Has(context.Context, authz.Principal, any) (authz.HasAnswer, error) {
	return authz.HasAnswer{Result: true, Reason: "granted"}, nil
}

type recorded struct {
	decisions     []string
	verifications []string
}

func (r *recorded) ObserveDecision(allow bool, reason string, _ time.Duration) {
	r.decisions = append(r.decisions, reason)
}

func (r *recorded) ObserveTokenVerification(result string) {
	r.verifications = append(r.verifications, result)
}

var member = authz.Principal{Authenticated: true, UserID: "user_1", OrgID: "org_1", OrgRole: "org:member"}

func authnReturning(p authz.Principal, err error) fakeAuthn {
	return func(string) (authz.Principal, error) { return p, err }
}

func allowAll(in authz.Input) (authz.Outcome, error) {
	return authz.Outcome{Allow: true, Reason: "membership", Message: "ok " + in.Principal.UserID}, nil
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
			d := authz.NewDecider(tt.authn, tt.policies, rec)
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
	d := authz.NewDecider(authn, policies, nil)
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
