package policy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// volatileRules is a team package whose rules read the context and the
// subject, evaluate under other input (`with`) and call builtins that are
// not functions of their arguments (the clock, randomness), whose values
// here never change the answer, so that a decision must still be the same
// every time it is asked. It also adds an action a calling service may
// decide for a subject it vouches for.
const volatileRules = `package verdict.rules.volatile

actions["kiosk:open"] := {
	"description": "Open the kiosk: any subject the kiosk service vouches for.",
	"authentication": "subject",
	"callers": ["kiosk-service"],
	"scope": "user",
	"requires": [],
}

deny contains {"reason": "night", "message": msg} if {
	input.context.hour < 6
	time.now_ns() > 0
	msg := sprintf("action %s is closed at night", [input.action])
}

deny contains {"reason": "blocked_subject", "message": "the subject is blocked"} if {
	input.subject.properties.blocked == true
	rand.intn("volatile", 1) == 0
}

deny contains {"reason": "secret", "message": "secret resources are read only"} if {
	input.resource.attributes.secret == true
	not data.verdict.authz.known with input.action as "no:such_action"
	input.action != "tasks:read"
}
`

// mixedRules is a team package whose rules read the resource and the
// action together in every way a rule can, each in a helper that reads
// the resource too, so that sharing it between the actions of one
// resource would change answers: input as a whole, input under a key a
// variable holds, a function of the resource whose body reads the
// action, and the action in a reference inside a reference; and one asks
// a shared rule under another resource (with). Its other helpers read the
// resource but not the action (owned, blocked, the prefix function):
// EvaluateActions shares those.
const mixedRules = `package verdict.rules.mixed

_action := object.get(input, "action", "") if input.resource.owner_id == "user_2"

deny contains {"reason": "whole_input", "message": msg} if {
	_action == "tasks:create"
	msg := sprintf("%s: not for user_2's tasks", [_action])
}

_keyed contains v if {
	input.resource.attributes.secret == true
	some k in ["action"]
	v := input[k]
}

deny contains {"reason": "keyed", "message": "secret resources are not exported"} if "reports:export" in _keyed

_guarded(owner) if {
	owner == "user_1"
	startswith(input.action, "org:sys_")
}

deny contains {"reason": "fn_action", "message": "user_1's resources are not managed"} if _guarded(input.resource.owner_id)

_open_on_locked if {
	input.resource.attributes.locked == true
	data.verdict.actions[input.action].requires == []
}

deny contains {"reason": "nested", "message": "locked resources take no open action"} if _open_on_locked

_owned if input.resource.owner_id == input.principal.user_id

_blocked contains a if {
	_owned
	some a in ["tasks:list", "invoices:approve"]
}

deny contains {"reason": "blocked", "message": "not on your own resources"} if input.action in _blocked

_prefix(action) := split(action, ":")[0]

deny contains {"reason": "elsewhere", "message": "secret resources are listed in no other organization"} if {
	input.resource.attributes.secret == true
	input.action == "tasks:list"
	not data.verdict.tenancy.in_active_org with input.resource as {"org_id": "org_nowhere"}
}

deny contains {"reason": "prefixed", "message": "posts stay unpublished on locked resources"} if {
	_prefix(input.action) == "posts"
	input.resource.attributes.locked == true
}
`

// TestEvaluateActionsMatchesEvaluate: for random principals, resources,
// contexts and subjects, every action EvaluateActions answers is answered
// exactly as Evaluate answers it alone, for the shipped policies, with the
// example team's, and with rules that are not deterministic; for the
// policies' own actions and for lists the caller names (unknown actions,
// repeats and empty lists included).
func TestEvaluateActionsMatchesEvaluate(t *testing.T) {
	t.Parallel()
	sets := map[string]fstest.MapFS{"shipped": {}, "team": {}, "volatile": {}, "mixed": {}}
	for name, b := range policyFiles(t) {
		if !strings.HasPrefix(name, "acme/") {
			sets["shipped"][name] = &fstest.MapFile{Data: b}
		}
		sets["team"][name] = &fstest.MapFile{Data: b}
		sets["volatile"][name] = &fstest.MapFile{Data: b}
		sets["mixed"][name] = &fstest.MapFile{Data: b}
	}
	sets["volatile"]["volatile.rego"] = &fstest.MapFile{Data: []byte(volatileRules)}
	sets["mixed"]["mixed.rego"] = &fstest.MapFile{Data: []byte(mixedRules)}
	for name, fsys := range sets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, err := policy.Load(context.Background(), fsys, policy.Options{EvalTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, uint64(len(name))))
			sessions := make([]authz.Subject, 0, 16)
			for range cap(sessions) {
				sessions = append(sessions, prepare(t, e, randomPrincipal(rng)))
			}
			reasons := map[authz.Reason]int{}
			for i := range 400 {
				s := sessions[rng.IntN(len(sessions))]
				if i%5 == 0 { // outside any session: nothing carried
					s = authz.PrincipalSubject(s.Principal())
				}
				for _, o := range assertActionsMatch(t, e, authz.Input{Subject: s, Check: randomCheck(rng)}, randomActions(rng, e.Actions())) {
					reasons[o.Reason]++
					if o.Deterministic != (name != "volatile") {
						t.Fatalf("%+v: want Deterministic %v", o, name != "volatile")
					}
				}
			}
			// The inputs reach every stage of the decision.
			want := []authz.Reason{"membership", "role", "permission", "unauthenticated", "unknown_action", "tenant_mismatch",
				"no_active_org", "tenant_missing", "missing_role", "missing_permission", "missing_feature"}
			switch name {
			case "team":
				want = append(want, "task_locked", "owner")
			case "volatile":
				want = append(want, "task_locked", "owner", "night", "blocked_subject", "secret")
			case "mixed":
				want = append(want, "whole_input", "keyed", "fn_action", "nested", "blocked", "prefixed", "elsewhere")
			}
			for _, r := range want {
				if reasons[r] == 0 {
					t.Errorf("no decision answered %s: %v", r, reasons)
				}
			}
		})
	}
}

// assertActionsMatch asks EvaluateActions, then Evaluate for each action,
// in the session and outside it: all three must agree exactly.
func assertActionsMatch(t *testing.T, e *policy.Engine, in authz.Input, actions []string) []authz.Outcome {
	t.Helper()
	ctx := context.Background()
	names, outs, _, err := e.EvaluateActions(ctx, in, actions)
	if err != nil {
		t.Fatalf("EvaluateActions(%v): %v", actions, err)
	}
	want := actions
	if want == nil {
		want = e.Actions()
	}
	if len(names) != len(want) || len(outs) != len(want) {
		t.Fatalf("EvaluateActions(%v) = %d names, %d outcomes; want %d", actions, len(names), len(outs), len(want))
	}
	for i, action := range want {
		if names[i] != action {
			t.Fatalf("EvaluateActions name %d = %q, want %q", i, names[i], action)
		}
		one := in
		one.Check.Action = action
		got, _, err := e.Evaluate(ctx, one)
		if err != nil {
			t.Fatalf("Evaluate %s: %v", action, err)
		}
		one.Subject = authz.PrincipalSubject(in.Subject.Principal())
		fresh, _, err := e.Evaluate(ctx, one)
		if err != nil {
			t.Fatalf("Evaluate %s outside the session: %v", action, err)
		}
		if outs[i] != got || got != fresh {
			t.Fatalf("%s for %+v on %+v, context %v, subject %+v:\nEvaluateActions %+v\nEvaluate        %+v\nfresh           %+v",
				action, in.Subject.Principal(), in.Check.Resource, in.Check.Context, in.Check.Subject, outs[i], got, fresh)
		}
	}
	return outs
}

func randomPrincipal(rng *rand.Rand) authz.Principal {
	if rng.IntN(6) == 0 {
		return authz.Principal{} // anonymous
	}
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	some := func(options ...string) []string {
		var out []string
		for _, o := range options {
			if rng.IntN(2) == 0 {
				out = append(out, o)
			}
		}
		return out
	}
	p := authz.Principal{
		Authenticated: true, UserID: pick("user_1", "user_2"), SessionID: "sess", TokenVersion: 2,
		OrgID: pick("org_acme", "org_acme", "org_acme", "org_other", ""), OrgSlug: pick("acme", "acme", "acme", "other", ""),
		OrgRole:        pick("org:admin", "org:member", "org:member", "org:guest", ""),
		OrgPermissions: some("org:posts:publish", "org:reports:export", "org:tasks:delete", "org:invoices:approve", "org:sys_billing:manage"),
		Features:       some("o:posts", "o:reports", "u:beta"),
		Plans:          some("o:pro", "u:free"),
	}
	if rng.IntN(3) == 0 {
		p.FactorVerificationAge = &[2]int{rng.IntN(30) - 1, rng.IntN(30) - 1}
	}
	if rng.IntN(5) == 0 {
		p.Actor = map[string]any{"sub": "user_support"}
	}
	return p
}

func randomCheck(rng *rand.Rand) authz.Check {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	var c authz.Check
	if rng.IntN(5) != 0 {
		c.Resource = &authz.Resource{
			Type: "task", ID: fmt.Sprint("t", rng.IntN(1000)),
			OrgID: pick("org_acme", "org_acme", "org_acme", "org_other", ""), OrgSlug: pick("acme", "acme", "acme", "other", ""),
			OwnerID: pick("user_1", "user_2", ""),
		}
		switch rng.IntN(4) {
		case 1:
			c.Resource.Attributes = map[string]any{"locked": true}
		case 2:
			c.Resource.Attributes = map[string]any{"secret": true, "locked": false}
		}
	}
	if rng.IntN(3) == 0 {
		c.Context = map[string]any{"hour": rng.IntN(24)}
	}
	c.Caller = pick("", "kiosk-service", "other-service")
	if rng.IntN(3) == 0 {
		c.Subject = &authz.RequestSubject{Type: "user", ID: "kiosk_1"}
		if rng.IntN(2) == 0 {
			c.Subject.Properties = map[string]any{"blocked": rng.IntN(2) == 0}
		}
	}
	return c
}

// randomActions is nil (the policies' own) half the time, else a list of
// known and unknown actions, with repeats, possibly empty.
func randomActions(rng *rand.Rand, known []string) []string {
	if rng.IntN(2) == 0 {
		return nil
	}
	extra := []string{"no:such_action", "org:custom:thing", "org:sys_unknown:manage", "kiosk:open", "", "tasks"}
	out := []string{}
	for range rng.IntN(8) {
		if rng.IntN(3) == 0 {
			out = append(out, extra[rng.IntN(len(extra))])
		} else {
			out = append(out, known[rng.IntN(len(known))])
		}
	}
	return out
}

// TestEvaluateActionsDeadline: each action gets the whole evaluation
// timeout (the call as a whole may take longer), and an action that runs
// past it stops the call with ErrEvalTimeout, counted once, never an
// allow.
func TestEvaluateActionsDeadline(t *testing.T) {
	t.Parallel()
	slow := teamRule(`deny contains {"reason": "r", "message": "m"} if {
	input.action == "admin:access"
	some i in numbers.range(1, 1000000000)
	i < 0
}

deny contains {"reason": "r", "message": "m"} if {
	input.action == "tasks:read"
	some i in numbers.range(1, to_number(input.context.steps))
	i < 0
}`)
	dir := writePolicies(t, map[string]string{"data.json": everyone, "team.rego": slow})
	in := adminInput("org:admin")
	// How long one evaluation of tasks:read takes with the context's
	// steps, measured, so that the deadline can be set above it.
	in.Check.Context = map[string]any{"steps": 20000}
	probe := load(t, dir, policy.Options{EvalTimeout: time.Minute})
	one := time.Hour
	for range 3 {
		start := time.Now()
		if _, _, err := probe.Evaluate(context.Background(), withAction(in, "tasks:read")); err != nil {
			t.Fatal(err)
		}
		one = min(one, time.Since(start))
	}

	var timeouts atomic.Int64
	e := load(t, dir, policy.Options{EvalTimeout: 8 * one, OnTimeout: func() { timeouts.Add(1) }})
	many := make([]string, 20) // together well past one deadline
	for i := range many {
		many[i] = "tasks:read"
	}
	if _, _, _, err := e.EvaluateActions(context.Background(), in, many); err != nil {
		t.Fatalf("actions each within the deadline: %v", err)
	}
	_, outs, _, err := e.EvaluateActions(context.Background(), in, []string{"tasks:read", "admin:access", "tasks:read"})
	if !errors.Is(err, policy.ErrEvalTimeout) || outs != nil {
		t.Fatalf("EvaluateActions = %v, %v; want ErrEvalTimeout and no outcomes", outs, err)
	}
	if n := timeouts.Load(); n != 1 {
		t.Errorf("OnTimeout called %d times, want 1", n)
	}
	// A caller that gave up first is its own error, not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := e.EvaluateActions(ctx, in, []string{"admin:access"}); err == nil || errors.Is(err, policy.ErrEvalTimeout) {
		t.Errorf("EvaluateActions with a cancelled context = %v, want an error that is not a timeout", err)
	}
}

func withAction(in authz.Input, action string) authz.Input {
	in.Check.Action = action
	return in
}

// BenchmarkEvaluateActionsTeam is default-catalog with the example team's
// rules, which read the resource.
func BenchmarkEvaluateActionsTeam(b *testing.B) {
	e := carryEngine(b)
	s := carrySessions(b, e)[0]
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		in := authz.Input{Subject: s, Check: authz.Check{Resource: &authz.Resource{Type: "task", ID: fmt.Sprint("t", i), OrgID: "org_acme", OrgSlug: "acme"}}}
		if _, _, _, err := e.EvaluateActions(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
