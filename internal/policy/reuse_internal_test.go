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
		"data.verdict.authz.known":                true,
		"data.verdict.catalog.entry":              true,
		"data.verdict.team.denies":                true, // no team rule reads the resource
		"data.verdict.impersonation_guard.denial": true,
		"data.verdict.clerk.passes":               true,
		"data.verdict.tenancy.passes":             false,
		"data.verdict.tenancy.denial":             false,
		"data.verdict.authz.decision":             false,
	}
	cases := []struct {
		name string
		team string // a package verdict.rules.t, when not empty
		want map[string]bool
	}{
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
		{"a deny that reads the whole input", `
deny contains {"reason": "big", "message": "big"} if count(input) > 10`,
			map[string]bool{"data.verdict.team.denies": false}},
		{"a deny that reads input under a variable key", `
deny contains {"reason": "odd", "message": "odd"} if {
	some k
	input[k].flag == true
}`,
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
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{"data.json": {Data: data}}
			if c.team != "" {
				fsys["t.rego"] = &fstest.MapFile{Data: []byte("package verdict.rules.t\n" + c.team + "\n")}
			}
			r := reusableRulesOf(t, fsys)
			for path, want := range c.want {
				if got := r.result(ast.MustParseRef(path)); got != want {
					t.Errorf("%s reusable = %v, want %v", path, got, want)
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
	s, err := readSnapshot(fsys, false)
	if err != nil {
		t.Fatal(err)
	}
	compiler, _, err := check(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return reusableRules(compiler)
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
