package policy_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"testing/fstest"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// adversaryEngine serves the shipped policies, the example team's and the given
// team files.
func adversaryEngine(tb testing.TB, team map[string]string) *policy.Engine {
	tb.Helper()
	fsys := fstest.MapFS{}
	for name, b := range policyFiles(tb) {
		fsys[name] = &fstest.MapFile{Data: b}
	}
	for name, src := range team {
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	// A deadline no busy machine (the race detector, parallel tests)
	// reaches: these tests are about answers, not time.
	e, err := policy.Load(context.Background(), fsys, policy.Options{EvalTimeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

var adversaryPrincipal = authz.Principal{
	Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_acme", OrgRole: "org:admin", OrgSlug: "acme",
	OrgPermissions: []string{"org:posts:publish"}, Features: []string{"o:posts"}, TokenVersion: 2,
}

func adversaryResource(id string, attrs map[string]any) *authz.Resource {
	return &authz.Resource{Type: "task", ID: id, OrgID: "org_acme", OrgSlug: "acme", OwnerID: "user_1", Attributes: attrs}
}

// assertSequenceMatchesFresh decides each check for one session, carrying, and compares
// every answer with a fresh evaluation. It reports the first mismatch.
func assertSequenceMatchesFresh(t *testing.T, e *policy.Engine, p authz.Principal, checks []authz.Check) {
	t.Helper()
	s := prepare(t, e, p)
	ctx := context.Background()
	for i, c := range checks {
		carried, _, errC := e.Evaluate(ctx, authz.Input{Subject: s, Check: c})
		fresh, _, errF := e.Evaluate(ctx, authz.Input{Subject: authz.PrincipalSubject(p), Check: c})
		if (errC == nil) != (errF == nil) {
			t.Errorf("check %d %s %+v: carried err %v, fresh err %v", i, c.Action, c.Resource, errC, errF)
			return
		}
		if carried != fresh {
			t.Errorf("check %d %s on %+v:\ncarried %+v\nfresh   %+v", i, c.Action, c.Resource, carried, fresh)
			return
		}
	}
}

// TestCarriedRuleBelowAVariableHead: a rule b.c.d that reads the resource,
// below a rule b.c[x] that does not, is evaluated in every decision: the
// cache key data.verdict.rules.t.b.c holds both.
func TestCarriedRuleBelowAVariableHead(t *testing.T) {
	e := adversaryEngine(t, map[string]string{"t/t.rego": `package verdict.rules.t

b.c[x] := 1 if some x in ["k"]

b.c.d := input.resource.id

deny contains {"reason": "secret", "message": "secret resource"} if b.c.d == "secret"
`})
	checks := []authz.Check{
		{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
		{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
		{Action: "tasks:read", Resource: adversaryResource("secret", nil)},
		{Action: "tasks:read", Resource: adversaryResource("secret", nil)},
	}
	assertSequenceMatchesFresh(t, e, adversaryPrincipal, checks)
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestCarriedValuesAreBoundedBySize: a reusable team rule whose value is
// large is not carried for every session and action (it would escape the
// byte budget): what the sessions leave behind stays small.
func TestCarriedValuesAreBoundedBySize(t *testing.T) {
	e := adversaryEngine(t, map[string]string{"t/t.rego": `package verdict.rules.t

big := [x | some x in numbers.range(1, 5000)]

deny contains {"reason": "never", "message": "never"} if count(big) < 0
`})
	ctx := context.Background()
	const sessions = 200
	before := liveHeap()
	var keep []authz.Subject
	for i := range sessions {
		p := adversaryPrincipal
		p.UserID = fmt.Sprintf("user_%d", i)
		s := prepare(t, e, p)
		keep = append(keep, s)
		if _, _, err := e.Evaluate(ctx, authz.Input{Subject: s, Check: authz.Check{Action: "tasks:read", Resource: adversaryResource("r", nil)}}); err != nil {
			t.Fatal(err)
		}
	}
	keep = nil
	after := liveHeap()
	perSession := (int64(after) - int64(before)) / sessions
	t.Logf("live heap grew by %d bytes per session (%d sessions), after the sessions themselves were dropped", perSession, sessions)
	// Carried, the list would hold some 240 KiB per session; a value over
	// maxCarriedValueBytes (4 KiB) is not carried, so what is left is a few
	// small values.
	if perSession > 64<<10 {
		t.Errorf("each session-action retains ~%d KiB: 32768 of them would hold ~%d GiB against a 32 MiB budget",
			perSession>>10, perSession*32768>>30)
	}
	runtime.KeepAlive(e)
}

// TestCarriedPackageBelowAVariableHead is TestCarriedRuleBelowAVariableHead
// through a package: the rule sub[x] sits at data.verdict.rules.t.sub, and
// the value of data.verdict.rules.t.sub.d (which reads the resource) must
// not be carried because sub[x] alone would be.
func TestCarriedPackageBelowAVariableHead(t *testing.T) {
	e := adversaryEngine(t, map[string]string{
		"t/t.rego": `package verdict.rules.t

sub[x] := 1 if some x in ["k"]

deny contains {"reason": "secret", "message": "secret resource"} if data.verdict.rules.t.sub.d == "secret"
`,
		"t/sub.rego": `package verdict.rules.t.sub

d := input.resource.id
`,
	})
	checks := []authz.Check{
		{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
		{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
		{Action: "tasks:read", Resource: adversaryResource("secret", nil)},
	}
	assertSequenceMatchesFresh(t, e, adversaryPrincipal, checks)
}

// TestCarriedInputReadingConstructs: ways of reading the input that the
// classification must catch: for each, carried equals fresh.
func TestCarriedInputReadingConstructs(t *testing.T) {
	hdr := "package verdict.rules.t\n\n"
	deny := `deny contains {"reason": "secret", "message": "secret resource"} if `
	cases := map[string]string{
		"var bound to input":          deny + "{ x := input; x.resource.id == \"secret\" }",
		"input as arg":                "f(i) if i.resource.id == \"secret\"\n" + deny + "f(input)",
		"object.get":                  deny + "object.get(input, [\"resource\", \"id\"], \"\") == \"secret\"",
		"walk":                        deny + "{ walk(input, [p, v]); v == \"secret\" }",
		"json.marshal":                deny + "contains(json.marshal(input), \"secret\")",
		"comprehension":               "ids := {v | some k, v in input; k == \"resource\"}\n" + deny + "{ some r in ids; r.id == \"secret\" }",
		"every":                       "ok if every _, v in input { not v.id == \"secret\" }\n" + deny + "not ok",
		"some k input[k]":             "bad if { some k; input[k].id == \"secret\" }\n" + deny + "bad",
		"partial set keyed":           "ids contains input.resource.id\n" + deny + "ids[\"secret\"]",
		"partial obj keyed":           "o[input.resource.id] := true\n" + deny + "o.secret",
		"else chain":                  "v := 1 if input.principal.authenticated == false else := 2 if input.resource.id == \"secret\" else := 3\n" + deny + "v == 2",
		"default":                     "default v := false\nv if input.resource.id == \"secret\"\n" + deny + "v",
		"data root var name":          "h := input.resource.id\n" + deny + "{ some n; data.verdict.rules[n].h == \"secret\" }",
		"with data caller":            "h := data.verdict.actions\n" + deny + "{ x := h with data.verdict.actions as {\"r\": input.resource.id}; x.r == \"secret\" }",
		"with input.principal caller": "h := input.principal.user_id\n" + deny + "{ x := h with input.principal as {\"user_id\": input.resource.id}; x == \"secret\" }",
		"rego.metadata":               "# METADATA\n# title: x\nh := input.resource.id\n" + deny + "h == \"secret\"",
		"nested ref in ref":           deny + "data.verdict.rules.t.m[input.resource.id]\nm := {\"secret\": true}",
		"imports alias":               "import input.resource as r\n" + deny + "r.id == \"secret\"",
		"ref head multi obj":          "a.b[input.resource.id] := true\n" + deny + "a.b.secret",
		"ref head deeper":             "a.b.c := input.resource.id\na.x := 1\n" + deny + "a.b.c == \"secret\"",
		"whole pkg ref":               "h := input.resource.id\n" + deny + "data.verdict.rules.t.h == \"secret\"",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"t/t.rego": hdr + src + "\n"}
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("panic %v", r)
				}
			}()
			e := adversaryEngine(t, files)
			checks := []authz.Check{
				{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
				{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
				{Action: "tasks:read", Resource: adversaryResource("secret", nil)},
				{Action: "tasks:read", Resource: adversaryResource("ok", nil)},
				{Action: "tasks:read", Resource: adversaryResource("secret", nil)},
			}
			assertSequenceMatchesFresh(t, e, adversaryPrincipal, checks)
		})
	}
}
