package policy_test

import (
	"context"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// benchInputs are typical checks against the shipped policies, for
// principals e prepared once, as the Decider does once per session.
func benchInputs(tb testing.TB, e *policy.Engine) map[string]authz.Input {
	member := authz.Principal{
		Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_1", OrgRole: "org:member", OrgSlug: "acme",
		OrgPermissions: []string{"org:posts:publish", "org:reports:export"}, Features: []string{"o:posts", "o:reports"}, TokenVersion: 2,
	}
	admin := member
	admin.OrgRole = "org:admin"
	memberSession, adminSession := prepare(tb, e, member), prepare(tb, e, admin)
	res := &authz.Resource{Type: "task", ID: "t1", OrgID: "org_1", OrgSlug: "acme"}
	return map[string]authz.Input{
		"catalog-allow":     {Subject: memberSession, Check: authz.Check{Action: "tasks:read", Resource: res}},
		"catalog-role-deny": {Subject: memberSession, Check: authz.Check{Action: "billing:manage", Resource: res}},
		"system-permission": {Subject: adminSession, Check: authz.Check{Action: "org:sys_memberships:manage", Resource: res}},
		"custom-permission": {Subject: memberSession, Check: authz.Check{Action: "org:posts:publish", Resource: res}},
		"tenant-mismatch":   {Subject: memberSession, Check: authz.Check{Action: "tasks:read", Resource: &authz.Resource{OrgID: "org_2"}}},
		"anonymous":         {Check: authz.Check{Action: "tasks:read", Resource: res}},
	}
}

// prepare is p as e prepares it for a session.
func prepare(tb testing.TB, e *policy.Engine, p authz.Principal) authz.Subject {
	tb.Helper()
	s, err := e.Prepare(p)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func BenchmarkEvaluate(b *testing.B) {
	e, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for name, in := range benchInputs(b, e) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := e.Evaluate(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHas answers has() for a session that asked the same before
// (values carried from its earlier evaluations) and for a session's
// first check (a new token's principal every time).
func BenchmarkHas(b *testing.B) {
	e, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	session := benchInputs(b, e)["custom-permission"].Subject
	check := map[string]any{"permission": "org:posts:publish", "feature": "o:posts"}
	b.Run("asked-again", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Has(context.Background(), session, check); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Has(context.Background(), prepare(b, e, session.Principal()), check); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEvaluateMix evaluates each of benchInputs in turn: one figure
// for comparing policy structures, allows and denials alike.
func BenchmarkEvaluateMix(b *testing.B) {
	e, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	inputs := benchInputs(b, e)
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := e.Evaluate(ctx, inputs[names[i%len(names)]]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEvaluateActions sets one decision (one-check) beside the
// decisions of every action the shipped catalog knows (default-catalog,
// what /v1/allowed-actions asks), in one run so that their ratio reads
// true: each iteration asks about a resource of its own, for a session
// that has asked before.
func BenchmarkEvaluateActions(b *testing.B) {
	e, err := policy.Load(context.Background(), os.DirFS(shippedPolicies), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	in := benchInputs(b, e)["custom-permission"]
	resource := func(i int) *authz.Resource {
		return &authz.Resource{Type: "task", ID: "t" + strconv.Itoa(i), OrgID: "org_1", OrgSlug: "acme"}
	}
	// Warm the session, as the requests before it would have.
	in.Check.Resource = resource(-1)
	if _, _, _, err := e.EvaluateActions(ctx, in, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("one-check", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			in := in
			in.Check.Resource = resource(i)
			if _, _, err := e.Evaluate(ctx, in); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("default-catalog", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			in := in
			in.Check.Resource = resource(i)
			if _, _, _, err := e.EvaluateActions(ctx, in, nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(len(e.Actions())), "actions")
	})
}
