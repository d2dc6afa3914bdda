package policy_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/explain")

// lockedRule is a team deny rule: a task marked locked may not be touched.
const lockedRule = `package verdict.rules.locked

deny contains {"reason": "locked", "message": "the task is locked"} if input.resource.attributes.locked
`

// explanationLine is the contract's form of one line of an explanation.
var explanationLine = regexp.MustCompile(`^[^:]+:\d+: .+`)

// explainEngine loads the shipped catalog plus team files, kept in a
// subdirectory as teams keep them, named from "policies" as an operator
// would run the service.
func explainEngine(t *testing.T, teamFiles map[string]string) *policy.Engine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(shippedPolicies, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"data.json": string(data)}
	for name, src := range teamFiles {
		files[name] = src
	}
	// Explanations of long evaluations are what these tests are about, not
	// the evaluation deadline: give them room on a loaded machine.
	return load(t, writePolicies(t, files), policy.Options{Dir: "policies", EvalTimeout: time.Minute})
}

type explainCase struct {
	name string // also the golden file's, in testdata/explain
	in   authz.Input
}

// explainCases are one input per kind of answer.
func explainCases() []explainCase {
	member := authz.Principal{
		Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_A", OrgRole: "org:member",
		OrgSlug: "acme", OrgPermissions: []string{}, TokenVersion: 2,
	}
	check := func(action, org string, locked bool) authz.Check {
		attrs := map[string]any{"locked": locked}
		return authz.Check{Action: action, Resource: &authz.Resource{OrgID: org, Attributes: attrs}}
	}
	return []explainCase{
		{"membership", authz.Input{Subject: authz.PrincipalSubject(member), Check: check("tasks:read", "org_A", false)}},
		{"tenant_mismatch", authz.Input{Subject: authz.PrincipalSubject(member), Check: check("tasks:read", "org_B", false)}},
		{"missing_role", authz.Input{Subject: authz.PrincipalSubject(member), Check: check("billing:manage", "org_A", false)}},
		{"system_permission", authz.Input{Subject: authz.PrincipalSubject(member), Check: check("org:sys_billing:read", "org_A", false)}},
		{"unauthenticated", authz.Input{Check: check("tasks:read", "org_A", false)}},
		{"unknown_action", authz.Input{Subject: authz.PrincipalSubject(member), Check: check("rockets:launch", "org_A", false)}},
		{"locked", authz.Input{Subject: authz.PrincipalSubject(member), Check: check("tasks:read", "org_A", true)}},
	}
}

func explainInput(t *testing.T, name string) authz.Input {
	t.Helper()
	for _, tc := range explainCases() {
		if tc.name == name {
			return tc.in
		}
	}
	t.Fatalf("no explain case %s", name)
	return authz.Input{}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	e := explainEngine(t, map[string]string{"acme/locked.rego": lockedRule})
	ctx := context.Background()
	for _, tc := range explainCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, lines, rev, err := e.Explain(ctx, tc.in)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			want, wantRev, err := e.Evaluate(ctx, tc.in)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Explain's outcome differs from Evaluate's (-Evaluate +Explain):\n%s", diff)
			}
			if rev != wantRev {
				t.Errorf("Explain's revision is %s, Evaluate's %s", rev, wantRev)
			}
			for _, l := range lines {
				if !explanationLine.MatchString(l) {
					t.Errorf("line %q is not <file>:<line>: <text>", l)
				}
			}
			compareGolden(t, filepath.Join("testdata", "explain", tc.name+".golden"), explanationText(got, lines))
		})
	}
}

// The lines a policy author needs most, whatever else the goldens hold:
// the file and the condition that decided (any line, so that an edit above
// it in the file does not matter here).
func TestExplainNamesTheDecidingLine(t *testing.T) {
	t.Parallel()
	e := explainEngine(t, map[string]string{"acme/locked.rego": lockedRule})
	want := map[string]struct{ file, text string }{
		"tenant_mismatch": {"verdict-builtin/tenancy.rego", "input.resource.org_id != input.principal.org_id"},
		"locked":          {"policies/acme/locked.rego", "input.resource.attributes.locked"},
		"unauthenticated": {"verdict-builtin/authz.rego", "not input.principal.authenticated == true"},
	}
	for name, w := range want {
		_, lines, _, err := e.Explain(context.Background(), explainInput(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		found := slices.ContainsFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, w.file+":") && strings.HasSuffix(l, ": "+w.text)
		})
		if !found {
			t.Errorf("%s: no line %s:<n>: %s in\n%s", name, w.file, w.text, strings.Join(lines, "\n"))
		}
	}
}

func TestExplainIsCapped(t *testing.T) {
	t.Parallel()
	const maxLines = 100 // policy.maxExplanation
	var body strings.Builder
	for i := range 2 * maxLines {
		fmt.Fprintf(&body, "\tinput.resource.attributes.locked != %d\n", i)
	}
	e := explainEngine(t, map[string]string{"acme/locked.rego": "package verdict.rules.locked\n\n" +
		`deny contains {"reason": "locked", "message": "the task is locked"} if {` + "\n" + body.String() + "}\n"})
	out, lines, _, err := e.Explain(context.Background(), explainInput(t, "locked"))
	if err != nil || out.Reason != "locked" {
		t.Fatalf("Explain = %+v, %v; want a locked deny", out, err)
	}
	if len(lines) != maxLines {
		t.Errorf("explanation has %d lines, want the cap, %d", len(lines), maxLines)
	}
}

// Explaining only reads the engine: it serves the same revision and
// answers afterwards, and runs safely beside evaluations (go test -race).
func TestExplainLeavesTheEngineAlone(t *testing.T) {
	t.Parallel()
	e := explainEngine(t, map[string]string{"acme/locked.rego": lockedRule})
	ctx := context.Background()
	before, rev := evaluateAll(t, e), e.Revision()
	var wg sync.WaitGroup
	for _, tc := range explainCases() {
		wg.Go(func() {
			if _, _, _, err := e.Explain(ctx, tc.in); err != nil {
				t.Errorf("Explain %s: %v", tc.name, err)
			}
		})
		wg.Go(func() {
			if _, _, err := e.Evaluate(ctx, tc.in); err != nil {
				t.Errorf("Evaluate %s: %v", tc.name, err)
			}
		})
	}
	wg.Wait()
	if e.Revision() != rev {
		t.Errorf("revision changed from %s to %s", rev, e.Revision())
	}
	if diff := cmp.Diff(before, evaluateAll(t, e)); diff != "" {
		t.Errorf("answers changed after explaining (-before +after):\n%s", diff)
	}
}

func evaluateAll(t *testing.T, e *policy.Engine) map[string]authz.Outcome {
	t.Helper()
	out := map[string]authz.Outcome{}
	for _, tc := range explainCases() {
		o, _, err := e.Evaluate(context.Background(), tc.in)
		if err != nil {
			t.Fatalf("Evaluate %s: %v", tc.name, err)
		}
		out[tc.name] = o
	}
	return out
}

// explanationText is the golden form: the outcome as a comment, then the
// explanation.
func explanationText(o authz.Outcome, lines []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# allow=%t reason=%s message=%q\n", o.Allow, o.Reason, o.Message)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (create it with go test ./internal/policy -run TestExplain -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); if intended, run go test ./internal/policy -run TestExplain -update:\n%s", name, diff)
	}
}

// itemsRule is a team deny rule over a list the caller sends in the
// context: its cost grows with the list, and so must an explanation's,
// only in proportion.
const itemsRule = `package verdict.rules.items

deny contains {"reason": "item_locked", "message": sprintf("item %v is locked", [item.id])} if {
	some item in input.context.items
	item.locked == true
}
`

// itemsInput is a member's check carrying n locked items.
func itemsInput(n int) authz.Input {
	items := make([]any, n)
	for i := range items {
		items[i] = map[string]any{"id": fmt.Sprintf("item_%d", i), "locked": true}
	}
	in := explainCases()[0].in
	in.Check = authz.Check{Action: "tasks:read", Resource: &authz.Resource{OrgID: "org_A"},
		Context: map[string]any{"items": items}}
	return in
}

// itemsEngine loads the shipped catalog and itemsRule from memory, so that
// benchmarks can use it too.
func itemsEngine(tb testing.TB) *policy.Engine {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(shippedPolicies, "data.json"))
	if err != nil {
		tb.Fatal(err)
	}
	fsys := fstest.MapFS{
		"data.json":       {Data: data},
		"acme/items.rego": {Data: []byte(itemsRule)},
	}
	e, err := policy.Load(context.Background(), fsys, policy.Options{Dir: "policies", EvalTimeout: time.Minute})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return e
}

// An evaluation too long to record whole is explained within the caps: the
// same outcome as Evaluate's, at most maxExplanation lines and a last line
// saying the explanation is truncated, which still name the deciding rule.
func TestExplainIsBoundedForLongEvaluations(t *testing.T) {
	t.Parallel()
	e := itemsEngine(t)
	in := itemsInput(2000)
	got, lines, _, err := e.Explain(context.Background(), in)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	want, _, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Explain's outcome differs from Evaluate's (-Evaluate +Explain):\n%s", diff)
	}
	const maxLines = 100 // policy.maxExplanation
	if len(lines) == 0 || len(lines) > maxLines+1 {
		t.Fatalf("explanation has %d lines, want 1 to %d:\n%s", len(lines), maxLines+1, strings.Join(lines, "\n"))
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "… explanation truncated: ") {
		t.Errorf("last line is %q, want the truncation notice", last)
	}
	for _, l := range lines[:len(lines)-1] {
		if !explanationLine.MatchString(l) {
			t.Errorf("line %q is not <file>:<line>: <text>", l)
		}
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "policies/acme/items.rego:") && strings.HasSuffix(l, ": item.locked == true")
	}) {
		t.Errorf("no line names the deciding expression in\n%s", strings.Join(lines, "\n"))
	}
}

// errOnlyContext reports cancellation through Err alone: OPA, which waits
// on Done, evaluates to the end, so only the walk over the trace that
// follows can notice.
type errOnlyContext struct{ context.Context }

func (errOnlyContext) Err() error { return context.Canceled }

// A client that went away costs no explanation, and is never answered an
// allow: Explain returns the context's error, whether the evaluation or
// the walk over its trace notices it.
func TestExplainStopsWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	e := itemsEngine(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ctxs := map[string]context.Context{
		"cancelled":           cancelled,
		"cancelled after OPA": errOnlyContext{context.Background()},
	}
	for name, ctx := range ctxs {
		for _, n := range []int{0, 2000} {
			out, lines, _, err := e.Explain(ctx, itemsInput(n))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s, %d items: Explain's error is %v, want %v", name, n, err, context.Canceled)
			}
			if out != (authz.Outcome{}) || lines != nil {
				t.Errorf("%s, %d items: Explain = %+v, %d lines; want neither", name, n, out, len(lines))
			}
		}
	}
}

// BenchmarkExplain explains a denial by itemsRule with 2,000 locked items.
// Goal: under four times BenchmarkExplain/evaluate, the same decision
// without an explanation (most of the difference is OPA's own cost of
// tracing). Before the walk over the trace looked documents up by path
// and the trace was bounded, it was about thirty times, growing with the
// square of the items.
func BenchmarkExplain(b *testing.B) {
	e := itemsEngine(b)
	in := itemsInput(2000)
	ctx := context.Background()
	b.Run("explain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := e.Explain(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("evaluate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := e.Evaluate(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
