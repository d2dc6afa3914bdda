package policy

import (
	"context"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestReusableRules checks which rules reuse.go lets an evaluation carry
// to the next one of the same session and action: only those whose value
// cannot depend on anything but the principal, the action, the policies
// and their data.
func TestReusableRules(t *testing.T) {
	data, err := os.ReadFile("../../policies/data.json")
	if err != nil {
		t.Fatal(err)
	}
	shipped := map[string]bool{
		"data.verdict.authz.outcome":              true,
		"data.verdict.authz.standing":             true,
		"data.verdict.authz.known":                true,
		"data.verdict.catalog.entry":              true,
		"data.verdict.team.denies":                true, // no team rule reads the resource
		"data.verdict.impersonation_guard.denial": true,
		"data.verdict.clerk.passes":               true,
		"data.verdict.tenancy.passes":             false,
		"data.verdict.tenancy.in_active_org":      false,
		"data.verdict.authz.stages_pass":          false,
		"data.verdict.tenancy.denial":             false,
		"data.verdict.authz.decision":             false,
	}
	cases := []classCase{
		{"shipped", "", shipped},
		{"a deny that reads the resource", `
deny contains {"reason": "locked", "message": "locked"} if input.resource.attributes.locked == true`,
			map[string]bool{"data.verdict.team.denies": false, "data.verdict.authz.outcome": true}},
		{"a grant that reads the resource", `
grant contains {"reason": "owner", "message": "owner"} if input.resource.owner_id == input.principal.user_id`,
			map[string]bool{"data.verdict.team.denies": true, "data.verdict.authz.outcome": false, "data.verdict.rules.t.grant": false}},
		{"a deny that reads the principal only", `
deny contains {"reason": "guest", "message": "guest"} if input.principal.org_role == "org:guest"`,
			map[string]bool{"data.verdict.team.denies": true, "data.verdict.rules.t.deny": true}},
		{"a deny that reads the context", `
deny contains {"reason": "night", "message": "night"} if input.context.hour < 6`,
			map[string]bool{"data.verdict.team.denies": false}},
		{"a reference inside a reference", `
deny contains {"reason": "typed", "message": "typed"} if data.verdict.actions[input.resource.type]`,
			map[string]bool{"data.verdict.team.denies": false}},
		{"a deny that evaluates under other input", `
deny contains {"reason": "w", "message": "w"} if {
	data.verdict.authz.known with input.action as "tasks:read"
}`,
			map[string]bool{"data.verdict.team.denies": false, "data.verdict.rules.t.deny": false}},
		{"a rule below a rule with a variable in its head", `
b.c[x] := 1 if some x in ["k"]

b.c.d := input.resource.id

deny contains {"reason": "whole", "message": "whole"} if count(b) > 5

deny contains {"reason": "secret", "message": "secret"} if b.c.d == "secret"`,
			map[string]bool{"data.verdict.rules.t.b.c": false, "data.verdict.rules.t.b": false, "data.verdict.rules.t.b.c.d": false, "data.verdict.team.denies": false}},
		{"a helper called with the resource", `
mine(id) if id == input.principal.user_id

deny contains {"reason": "not_mine", "message": "not mine"} if not mine(input.resource.owner_id)`,
			map[string]bool{"data.verdict.rules.t.mine": true, "data.verdict.team.denies": false}},
	}
	checkClassification(t, data, readsPrincipalOrAction, append(cases, opaqueInputReads...))
}

// TestActionFreeRules checks which rules reuse.go lets the evaluations of
// one EvaluateActions call share: only those whose value cannot depend on
// the action.
func TestActionFreeRules(t *testing.T) {
	data, err := os.ReadFile("../../policies/data.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []classCase{
		{"shipped", "", map[string]bool{
			"data.verdict.tenancy.in_active_org": true,
			"data.verdict.authz.stages_pass":     true,
			"data.verdict.team.denies":           true,
			"data.verdict.tenancy.passes":        false, // user_scoped reads the action
			"data.verdict.authz.standing":        false,
			"data.verdict.authz.decision":        false,
		}},
		{"a deny that reads the resource", `
deny contains {"reason": "locked", "message": "locked"} if input.resource.attributes.locked == true`,
			map[string]bool{"data.verdict.team.denies": true, "data.verdict.authz.stages_pass": true}},
		{"a deny that reads the resource and the action", `
deny contains {"reason": "locked", "message": "locked"} if {
	input.resource.attributes.locked == true
	input.action == "tasks:delete"
}`,
			map[string]bool{"data.verdict.team.denies": false, "data.verdict.authz.stages_pass": false, "data.verdict.tenancy.in_active_org": true}},
		{"the action inside a reference", `
deny contains {"reason": "typed", "message": "typed"} if input.resource[input.action]`,
			map[string]bool{"data.verdict.team.denies": false}},
		{"a deny that evaluates under other input", `
deny contains {"reason": "w", "message": "w"} if {
	data.verdict.tenancy.in_active_org with input.resource as {}
}`,
			map[string]bool{"data.verdict.team.denies": false, "data.verdict.tenancy.in_active_org": true}},
		{"a function of the resource that reads the action", `
mine(id) if {
	id == input.principal.user_id
	input.action != "tasks:read"
}

deny contains {"reason": "mine", "message": "mine"} if mine(input.resource.owner_id)`,
			map[string]bool{"data.verdict.rules.t.mine": false, "data.verdict.team.denies": false}},
	}
	checkClassification(t, data, readsAllButAction, append(cases, opaqueInputReads...))
}

// opaqueInputReads are team rules reading input as a whole or under a key
// a variable holds: whatever part of the input a classification accepts,
// such a rule may read another.
var opaqueInputReads = []classCase{
	{"a deny that reads the whole input", `
deny contains {"reason": "big", "message": "big"} if count(input) > 10`,
		map[string]bool{"data.verdict.team.denies": false}},
	{"a deny that reads input under a variable key", `
deny contains {"reason": "odd", "message": "odd"} if {
	some k
	input[k].flag == true
}`,
		map[string]bool{"data.verdict.team.denies": false}},
}

// classCase is a policy set, the shipped data with a team package t when
// team is not empty, and the verdicts wanted for some of its references.
type classCase struct {
	name string
	team string
	want map[string]bool
}

// checkClassification classifies each case's rules by reads and compares
// the verdicts.
func checkClassification(t *testing.T, data []byte, reads func(ast.Ref) bool, cases []classCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{"data.json": {Data: data}}
			if c.team != "" {
				fsys["t.rego"] = &fstest.MapFile{Data: []byte("package verdict.rules.t\n" + c.team + "\n")}
			}
			r := rulesOf(t, fsys, reads)
			for path, want := range c.want {
				if got := r.result(ast.MustParseRef(path)); got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
		})
	}
}

// TestReusableFunctionResults checks that a function's result is looked up
// by the function's reference, whatever its arguments.
func TestReusableFunctionResults(t *testing.T) {
	r := reusableRulesOf(t, os.DirFS("../../policies"))
	call := ast.Ref{ast.NewTerm(ast.MustParseRef("data.verdict.permissions.is_key")), ast.StringTerm("org:a:b")}
	if !r.result(call) {
		t.Errorf("%v is not reusable", call)
	}
	if r.result(ast.MustParseRef("data.verdict.no_such_rule")) {
		t.Error("a reference to no rule is reusable")
	}
}

// reusableRulesOf compiles the policies of fsys as a revision would.
func reusableRulesOf(t *testing.T, fsys fs.FS) *reusable {
	t.Helper()
	return rulesOf(t, fsys, readsPrincipalOrAction)
}

// rulesOf compiles the policies of fsys as a revision would and
// classifies their rules by what of the input they read.
func rulesOf(t *testing.T, fsys fs.FS, reads func(ast.Ref) bool) *reusable {
	t.Helper()
	s, err := readSnapshot(fsys, false)
	if err != nil {
		t.Fatal(err)
	}
	compiler, _, err := check(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return reusableRules(compiler, reads)
}

// TestReusableResultMatchesGetRules: result, which walks the rule tree in
// place, decides every reference exactly as it would from the list
// compiler.GetRules gathers: each rule path, a path below it (a member
// of a rule's value, a package's document), a path to no rule, and a
// function's reference with its arguments.
func TestReusableResultMatchesGetRules(t *testing.T) {
	data, err := os.ReadFile("../../policies/data.json")
	if err != nil {
		t.Fatal(err)
	}
	team := `package verdict.rules.t

b.c[x] := 1 if some x in ["k"]

b.c.d := input.resource.id

mine(id) if id == input.principal.user_id

deny contains {"reason": "guest", "message": "guest"} if input.principal.org_role == "org:guest"

grant contains {"reason": "owner", "message": "owner"} if mine(input.resource.owner_id)
`
	for name, fsys := range map[string]fstest.MapFS{
		"shipped": {"data.json": {Data: data}},
		"team":    {"data.json": {Data: data}, "t.rego": {Data: []byte(team)}},
	} {
		r := reusableRulesOf(t, fsys)
		want := func(key ast.Ref) bool {
			path := key
			if fn, ok := key[0].Value.(ast.Ref); ok {
				path = fn
			}
			rules := r.compiler.GetRules(path)
			return len(rules) > 0 && r.allReusable(rules)
		}
		var keys []ast.Ref
		var walk func(node *ast.TreeNode, path ast.Ref)
		walk = func(node *ast.TreeNode, path ast.Ref) {
			keys = append(keys, path,
				append(path.Copy(), ast.StringTerm("no_such_member")),
				ast.Ref{ast.NewTerm(path.Copy()), ast.StringTerm("arg")})
			for _, child := range node.Children {
				walk(child, append(path.Copy(), ast.NewTerm(child.Key)))
			}
		}
		walk(r.compiler.RuleTree.Child(ast.DefaultRootDocument.Value), ast.Ref{ast.DefaultRootDocument})
		for _, key := range keys {
			if got, want := r.result(key), want(key); got != want {
				t.Errorf("%s: result(%v) = %v, want %v", name, key, got, want)
			}
		}
		if len(keys) < 100 {
			t.Errorf("%s: only %d keys", name, len(keys))
		}
	}
}
