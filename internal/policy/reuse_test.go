package policy_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/fstest"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// guestDenial is a team rule that reads the principal only, so its
// denials are carried between decisions, beside the example team's rules,
// which read the resource and are not.
const guestDenial = `package verdict.rules.guests

deny contains {"reason": "guest", "message": "guests only read"} if {
	input.principal.org_role == "org:guest"
	not input.action in {"tasks:read"}
}
`

// carryEngine serves the shipped policies, the example team's and
// guestDenial.
func carryEngine(tb testing.TB) *policy.Engine {
	tb.Helper()
	fsys := fstest.MapFS{"guests.rego": {Data: []byte(guestDenial)}}
	for name, b := range policyFiles(tb) {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	e, err := policy.Load(context.Background(), fsys, policy.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// carrySessions are principals prepared by e, as the Decider prepares one
// per verified token: their decisions carry values from one to the next.
func carrySessions(tb testing.TB, e *policy.Engine) []authz.Subject {
	base := authz.Principal{
		Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_acme", OrgRole: "org:member", OrgSlug: "acme",
		OrgPermissions: []string{"org:posts:publish", "org:tasks:delete"}, Features: []string{"o:posts"}, TokenVersion: 2,
	}
	admin := base
	admin.UserID, admin.OrgRole, admin.OrgPermissions = "user_2", "org:admin", nil
	guest := base
	guest.UserID, guest.OrgRole = "user_3", "org:guest"
	impersonated := admin
	impersonated.Actor = map[string]any{"sub": "user_support"}
	noOrg := base
	noOrg.OrgID, noOrg.OrgRole, noOrg.OrgSlug, noOrg.OrgPermissions = "", "", "", nil
	var out []authz.Subject
	for _, p := range []authz.Principal{base, admin, guest, impersonated, noOrg} {
		out = append(out, prepare(tb, e, p))
	}
	return out
}

var (
	carryActions = []string{
		"tasks:read", "tasks:delete", "invoices:approve", "billing:manage", "posts:publish", "invitations:create",
		"org:sys_memberships:manage", "org:sys_memberships:read", "org:posts:publish", "org:tasks:delete", "no:such_action",
	}
	carryOrgs   = []string{"org_acme", "org_other", ""}
	carrySlugs  = []string{"acme", "other", ""}
	carryOwners = []string{"user_1", "user_2", ""}
)

// carryCheck builds a check from choices.
func carryCheck(action, org, slug, owner, locked, hasResource int) authz.Check {
	c := authz.Check{Action: carryActions[action%len(carryActions)]}
	if hasResource%4 != 0 {
		c.Resource = &authz.Resource{
			Type: "task", ID: "t1",
			OrgID: carryOrgs[org%len(carryOrgs)], OrgSlug: carrySlugs[slug%len(carrySlugs)], OwnerID: carryOwners[owner%len(carryOwners)],
		}
		if locked%3 != 0 {
			c.Resource.Attributes = map[string]any{"locked": locked%3 == 1}
		}
	}
	return c
}

// assertCarriedMatchesFresh decides c for session s, carrying values from
// the session's earlier decisions, and again from nothing (its principal
// outside any session): the two must agree exactly.
func assertCarriedMatchesFresh(tb testing.TB, e *policy.Engine, s authz.Subject, c authz.Check) authz.Outcome {
	tb.Helper()
	ctx := context.Background()
	carriedOut, _, err := e.Evaluate(ctx, authz.Input{Subject: s, Check: c})
	if err != nil {
		tb.Fatalf("carried %s: %v", c.Action, err)
	}
	p := s.Principal()
	freshOut, _, err := e.Evaluate(ctx, authz.Input{Subject: authz.PrincipalSubject(p), Check: c})
	if err != nil {
		tb.Fatalf("fresh %s: %v", c.Action, err)
	}
	if carriedOut != freshOut {
		tb.Fatalf("%s as %s on %+v:\ncarried %+v\nfresh   %+v", c.Action, p.OrgRole, c.Resource, carriedOut, freshOut)
	}
	return carriedOut
}

// TestCarriedDecisionsMatchFreshOnes runs long random sequences of checks
// through the same sessions, from two goroutines at once: whatever an
// earlier decision carried, each decision equals the one evaluated from
// nothing.
func TestCarriedDecisionsMatchFreshOnes(t *testing.T) {
	e := carryEngine(t)
	sessions := carrySessions(t, e)
	for worker := range uint64(2) {
		t.Run(fmt.Sprint(worker), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, worker))
			allows := map[bool]int{}
			for range 2000 {
				p := sessions[rng.IntN(len(sessions))]
				c := carryCheck(rng.IntN(64), rng.IntN(64), rng.IntN(64), rng.IntN(64), rng.IntN(64), rng.IntN(64))
				allows[assertCarriedMatchesFresh(t, e, p, c).Allow]++
			}
			if allows[true] < 100 || allows[false] < 100 {
				t.Fatalf("the sequence does not exercise both answers: %v", allows)
			}
		})
	}
}

// FuzzCarriedDecisions lets the fuzzer choose the sequence: each six bytes
// pick a session and a check.
func FuzzCarriedDecisions(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1})
	f.Add([]byte{1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 3, 6, 0, 0, 0, 1, 3, 6, 1, 0, 0, 1})
	e := carryEngine(f)
	sessions := carrySessions(f, e)
	f.Fuzz(func(t *testing.T, seq []byte) {
		for len(seq) >= 7 {
			p := sessions[int(seq[0])%len(sessions)]
			c := carryCheck(int(seq[1]), int(seq[2]), int(seq[3]), int(seq[4]), int(seq[5]), int(seq[6]))
			assertCarriedMatchesFresh(t, e, p, c)
			seq = seq[7:]
		}
	})
}

// carryHasChecks are has() checks of every kind: each field, several
// fields, wrong types, unknown fields, no object at all.
var carryHasChecks = []any{
	map[string]any{"role": "org:admin"},
	map[string]any{"role": "admin"},
	map[string]any{"role": "org:member"},
	map[string]any{"permission": "org:posts:publish"},
	map[string]any{"permission": "posts:publish"},
	map[string]any{"permission": "org:sys_memberships:read"},
	map[string]any{"feature": "o:posts"},
	map[string]any{"feature": "posts"},
	map[string]any{"feature": "org:reports"},
	map[string]any{"plan": "o:pro"},
	map[string]any{"reverification": "strict"},
	map[string]any{"permission": "org:posts:publish", "feature": "o:posts"},
	map[string]any{"role": "org:member", "plan": "o:pro"},
	map[string]any{"role": 7},
	map[string]any{"feature": []any{"o:posts"}},
	map[string]any{"colour": "blue"},
	map[string]any{},
	"org:admin",
	nil,
}

// TestCarriedHasMatchesFresh asks random has() checks of the same
// sessions: each answer equals the one evaluated from nothing.
func TestCarriedHasMatchesFresh(t *testing.T) {
	e := carryEngine(t)
	sessions := carrySessions(t, e)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	results := map[bool]int{}
	for range 2000 {
		p := sessions[rng.IntN(len(sessions))]
		check := carryHasChecks[rng.IntN(len(carryHasChecks))]
		carried, err := e.Has(ctx, p, check)
		if err != nil {
			t.Fatalf("carried %v: %v", check, err)
		}
		want, err := e.Has(ctx, authz.PrincipalSubject(p.Principal()), check)
		if err != nil {
			t.Fatalf("fresh %v: %v", check, err)
		}
		if carried != want {
			t.Fatalf("has(%v) as %s:\ncarried %+v\nfresh   %+v", check, p.Principal().OrgRole, carried, want)
		}
		results[carried.Result]++
	}
	if results[true] < 100 || results[false] < 100 {
		t.Fatalf("the checks do not exercise both answers: %v", results)
	}
}
