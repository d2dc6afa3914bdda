package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// teamDir is a team's own directory of rules, actions and tests, added
// beside the shipped policies without touching a shipped file.
const teamDir = "../../testdata/team/acme"

// addTeam copies the team's directory into the policy directory dir.
func addTeam(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(teamDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(teamDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, "acme"), e.Name(), string(b))
	}
}

// runCommand runs one verdict command and returns its exit status and output.
func runCommand(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out lockedBuffer
	err := run(context.Background(), append([]string{"verdict"}, args...), emptyEnv, &out)
	s := out.String()
	if err != nil && !alreadyReported(err) {
		s += err.Error()
	}
	return exitCode(err), s
}

// TestTeamStory plays a team's everyday changes end to end: its own
// actions, a deny rule and an owner grant, with their tests, in a directory
// of its own beside the shipped policies. validate and test pass, a running
// server picks the files up, and the answers are as intended, including
// that the team's rules never cross tenants or grant a system permission.
func TestTeamStory(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	var before decision
	member := inst.mint(t, with(v2Member, "sub", "user_1"))
	inst.post(t, "/v1/check", map[string]any{"token": member, "action": "tasks:delete", "resource": orgA}, &before)
	if before.Reason != "unknown_action" {
		t.Fatalf("before the team's files: tasks:delete = %+v, want unknown_action", before)
	}

	addTeam(t, inst.policies)
	if code, out := runCommand(t, "validate", "--policies", inst.policies); code != 0 {
		t.Fatalf("verdict validate = exit %d\n%s", code, out)
	}
	if code, out := runCommand(t, "test", "--policies", inst.policies); code != 0 || !strings.Contains(out, " 0 failed") {
		t.Fatalf("verdict test = exit %d\n%s", code, out)
	}
	waitUpTo(t, 10*time.Second, func() (decision, bool) {
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": member, "action": "tasks:delete", "resource": orgA}, &d)
		return d, d.PolicyRevision != before.PolicyRevision
	})

	admin := inst.mint(t, v1Admin)
	approver := inst.mint(t, with(v2Member, "sub", "user_2", "o", map[string]any{"id": "org_A", "rol": "member", "slg": "acme", "per": "approve", "fpm": "1"}, "fea", "o:invoices"))
	task := func(extra ...any) map[string]any { return with(orgA, extra...) }
	tests := []struct {
		name, token, action string
		resource            map[string]any
		allow               bool
		reason              string
	}{
		{"a team action, by role", admin, "invoices:approve", orgA, true, "role"},
		{"a team action, by its permission", approver, "invoices:approve", orgA, true, "permission"},
		{"a team action, without it", member, "invoices:approve", orgA, false, "missing_permission"},
		{"a team action, another tenant", admin, "invoices:approve", task("org_id", "org_evil"), false, "tenant_mismatch"},
		{"delete an unlocked task", admin, "tasks:delete", task("attributes", map[string]any{"locked": false}), true, "role"},
		{"the locked rule beats a role", admin, "tasks:delete", task("attributes", map[string]any{"locked": true}), false, "task_locked"},
		{"the owner grant", member, "tasks:delete", task("owner_id", "user_1"), true, "owner"},
		{"not the owner", member, "tasks:delete", task("owner_id", "user_9"), false, "missing_permission"},
		{"the locked rule beats the owner grant", member, "tasks:delete", task("owner_id", "user_1", "attributes", map[string]any{"locked": true}), false, "task_locked"},
		{"the grant never crosses tenants", member, "tasks:delete", task("owner_id", "user_1", "org_id", "org_evil"), false, "tenant_mismatch"},
		{"the grant never skips the tenant", member, "tasks:delete", map[string]any{"owner_id": "user_1"}, false, "tenant_missing"},
		{"the grant never gives a system permission", member, "org:sys_memberships:manage", task("owner_id", "user_1"), false, "missing_role"},
		{"shipped actions unchanged", member, "tasks:read", task("attributes", map[string]any{"locked": true}), true, "membership"},
		{"shipped actions unchanged, another tenant", member, "tasks:read", task("org_id", "org_evil"), false, "tenant_mismatch"},
	}
	for _, tt := range tests {
		var d decision
		if status := inst.post(t, "/v1/check", map[string]any{"token": tt.token, "action": tt.action, "resource": tt.resource}, &d); status != 200 {
			t.Fatalf("%s: status %d", tt.name, status)
		}
		if d.Allow != tt.allow || d.Reason != tt.reason {
			t.Errorf("%s: %s = allow %v %s (%s), want allow %v %s", tt.name, tt.action, d.Allow, d.Reason, d.Message, tt.allow, tt.reason)
		}
	}
}

// policyMistakes are the mistakes a team makes while writing policies, each
// a file added to the shipped policies, with where it must be reported.
var policyMistakes = []struct {
	name, file, src string
	at              string // "file:line: " prefix of the problem
	says            string
}{
	{
		name: "misspelled rule reference",
		file: "tasks.rego",
		src: `package verdict.rules.tasks

import data.verdict.rules.tasks.locked

deny contains d if some d in locked.denail
`,
		at: "tasks.rego:5: ", says: "package verdict.rules.tasks.locked defines no rule denail",
	},
	{
		name: "misspelled role",
		file: "invoices.rego",
		src: `package verdict.rules.invoices

actions["invoices:approve"] := {"requires": [{"any_of": [{"role": "org:admn"}], "deny": "missing_role"}]}
`,
		at: "invoices.rego:3: ", says: "role org:admn is not defined in data.verdict.roles",
	},
	{
		name: "a second decision",
		file: "authz.rego",
		src: `package verdict.authz

decision := {"allow": false, "reason": "locked", "message": "m"} if input.resource.attributes.locked
`,
		at: "authz.rego:1: ", says: "package verdict.authz is reserved",
	},
	{
		name: "an action the shipped catalog has",
		file: "tasks.rego",
		src: `package verdict.rules.tasks

actions["tasks:read"] := {"requires": []}
`,
		at: "tasks.rego:3: ", says: "catalog entry tasks:read: defined in data.verdict.actions and in package verdict.rules.tasks",
	},
	{
		name: "the Clerk library's package",
		file: "clerk.rego",
		src: `package verdict.clerk

passes("role", _, _) := true
`,
		at: "clerk.rego:1: ", says: "package verdict.clerk is reserved",
	},
}

// lockedHelper is a team package the misspelled reference reaches into.
const lockedHelper = `package verdict.rules.tasks.locked

denial contains {"reason": "locked", "message": "the task is locked"} if input.resource.attributes.locked
`

// TestPolicyMistakesAreRefused: each mistake is refused by validate, by
// serve at start and by hot reload, named with file and line, and the
// previous policies keep serving.
func TestPolicyMistakesAreRefused(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeTestFile(t, filepath.Dir(jwks), filepath.Base(jwks), string(inst.issuer.JWKS()))
	token := inst.mint(t, v2Member)
	ask := func() decision {
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": token, "action": "tasks:read", "resource": orgA}, &d)
		return d
	}
	shipped := ask()
	writeTestFile(t, inst.policies, "locked.rego", lockedHelper)
	serving := waitUpTo(t, 10*time.Second, func() (decision, bool) { d := ask(); return d, d.PolicyRevision != shipped.PolicyRevision })
	for _, m := range policyMistakes {
		dir := copyPoliciesWith(t, "locked.rego", lockedHelper)
		writeTestFile(t, dir, m.file, m.src)
		want := filepath.Join(dir, m.at)

		code, out := runCommand(t, "validate", "--policies", dir)
		if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, m.says) {
			t.Errorf("%s: verdict validate = exit %d\n%s\nwant exit 1 with %q and %q", m.name, code, out, want, m.says)
		}
		code, out = runCommand(t, "serve", "--addr", "127.0.0.1:0", "--policies", dir, "--jwks-file", jwks)
		if code != 2 || !strings.Contains(out, want) || !strings.Contains(out, m.says) {
			t.Errorf("%s: verdict serve = exit %d\n%s\nwant exit 2 with %q and %q", m.name, code, out, want, m.says)
		}

		failures := scrape(t, inst.base).counter("verdict_policy_reloads_total", "result", "failure")
		writeTestFile(t, inst.policies, m.file, m.src)
		waitUpTo(t, 10*time.Second, func() (float64, bool) {
			n := scrape(t, inst.base).counter("verdict_policy_reloads_total", "result", "failure")
			return n, n > failures
		})
		if d := ask(); d.PolicyRevision != serving.PolicyRevision || !d.Allow {
			t.Errorf("%s: after a refused reload: %+v, want the previous policies serving", m.name, d)
		}
		if !loggedProblem(inst, filepath.Join(inst.policies, m.file), m.says) {
			t.Errorf("%s: the refused reload was not logged with file, line and %q", m.name, m.says)
		}
		if err := os.Remove(filepath.Join(inst.policies, m.file)); err != nil {
			t.Fatal(err)
		}
	}
}

func loggedProblem(inst *instance, file, says string) bool {
	for _, rec := range inst.out.logLines() {
		if rec["level"] == "ERROR" && rec["file"] == file && rec["line"].(float64) > 0 && strings.Contains(rec["error"].(string), says) {
			return true
		}
	}
	return false
}

// TestTestCommand: `verdict test` passes the shipped policies, says why a
// test failed without -v, refuses a directory serve would refuse even when
// it has no tests, and reports coverage.
func TestTestCommand(t *testing.T) {
	t.Parallel()
	failing := copyPolicies(t)
	writeTestFile(t, failing, "rules.rego", "package verdict.rules.team\n\ndeny contains {\"reason\": \"locked\", \"message\": \"m\"} if input.resource.attributes.locked\n")
	writeTestFile(t, failing, "rules_test.rego", `package verdict.rules.team_test

import data.verdict.clerk

test_the_library_is_loaded if not clerk.has({"authenticated": false}, {"role": "org:admin"})

test_fails if {
	d := data.verdict.rules.team.deny with input as {"resource": {"attributes": {"locked": true}}}
	count(d) == 2
}
`)
	reserved := copyPoliciesWith(t, "evil_test.rego", "package verdict.tenancy\n\npasses := true\n\ntest_anything_goes if passes\n")
	invalid := t.TempDir()
	writeTestFile(t, invalid, "data.json", `{"verdict": {"roles": {}, "actions": {"a:b": {"requires": [{"any_of": [{"role": "org:admin"}]}]}}}}`)
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"shipped", []string{"--policies", "../../policies"}, 0, []string{" 0 failed"}},
		{"a failing test says why", []string{"--policies", failing}, 1, []string{
			" 1 failed",
			"FAIL rules_test.rego:7 data.verdict.rules.team_test.test_fails",
			"rules_test.rego:9: count(d) == 2 (count(d) = 1",
		}},
		{"a directory serve would refuse", []string{"--policies", invalid}, 1, []string{
			filepath.Join(invalid, "data.json") + ":1: catalog entry a:b: requirement 0: term 0: role org:admin is not defined",
			"the policies would be refused",
		}},
		{"coverage", []string{"--policies", failing, "--coverage"}, 1, []string{"coverage 100.0% rules.rego (1 of 1 lines)", "coverage 100.0% total"}},
		{"coverage below the minimum", []string{"--policies", copyPoliciesWith(t, "rules.rego", "package verdict.rules.team\n\ndeny contains {\"reason\": \"r\", \"message\": \"m\"} if input.resource.attributes.locked\n"), "--coverage-min", "50"}, 1, []string{
			"coverage   0.0% rules.rego", "coverage 0.0% is below --coverage-min 50.0%",
		}},
		{"a test file in a reserved package", []string{"--policies", reserved}, 1, []string{"evil_test.rego:1: package verdict.tenancy is reserved"}},
		{"no such directory", []string{"--policies", filepath.Join(invalid, "nope")}, 2, []string{"not a readable directory"}},
	} {
		code, out := runCommand(t, append([]string{"test"}, tt.args...)...)
		if code != tt.code {
			t.Errorf("%s: verdict test = exit %d, want %d\n%s", tt.name, code, tt.code, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, out)
			}
		}
	}
}

func copyPoliciesWith(t *testing.T, name, src string) string {
	t.Helper()
	dir := copyPolicies(t)
	writeTestFile(t, dir, name, src)
	return dir
}

// TestValidateCommand: exit 0 with the shipped policies, 1 with every
// problem listed, 2 on usage errors.
func TestValidateCommand(t *testing.T) {
	t.Parallel()
	broken := copyPoliciesWith(t, "locked.rego", lockedHelper)
	for _, m := range policyMistakes {
		writeTestFile(t, broken, m.file, m.src)
	}
	code, out := runCommand(t, "validate", "--policies", "../../policies")
	if code != 0 || !strings.Contains(out, "would serve") {
		t.Errorf("validate shipped = exit %d\n%s", code, out)
	}
	// Compile-stage problems come first: the reserved packages, which stop
	// the later checks, are each named.
	code, out = runCommand(t, "validate", "--policies", broken)
	if code != 1 || strings.Count(out, "is reserved") != 2 {
		t.Errorf("validate with every mistake = exit %d\n%s\nwant exit 1 naming both reserved packages", code, out)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(broken) + `/\S+\.rego:\d+: `).MatchString(out) {
		t.Errorf("validate output does not name file and line:\n%s", out)
	}
	if code, _ := runCommand(t, "validate", "--policies"); code != 2 {
		t.Errorf("validate without a directory = exit %d, want 2", code)
	}
}

// TestExplainOverHTTP: with --explain a check (and each batch item) may ask
// what decided, and gets the rules and expressions with file and line,
// a team's rule among them; without it the ask is a 400.
func TestExplainOverHTTP(t *testing.T) {
	t.Parallel()
	inst := startServe(t, "--explain")
	plain := startServe(t)
	token := inst.mint(t, v2Member)
	addTeam(t, inst.policies)
	locked := with(orgA, "attributes", map[string]any{"locked": true})
	type explained struct {
		decision
		Explanation []string `json:"explanation"`
	}
	d := waitUpTo(t, 10*time.Second, func() (explained, bool) {
		var d explained
		inst.post(t, "/v1/check", map[string]any{"token": inst.mint(t, v1Admin), "action": "tasks:delete", "resource": locked, "explain": true}, &d)
		return d, d.Reason == "task_locked"
	})
	wantLine := regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Join(inst.policies, "acme", "tasks.rego")) + `:\d+: input.resource.attributes.locked == true$`)
	if !slices.ContainsFunc(d.Explanation, wantLine.MatchString) {
		t.Errorf("explanation of task_locked = %q, want a line matching %s", d.Explanation, wantLine)
	}
	var batch struct {
		Results []explained `json:"results"`
	}
	inst.post(t, "/v1/check/batch", map[string]any{"token": token, "checks": []any{
		map[string]any{"action": "tasks:read", "resource": with(orgA, "org_id", "org_evil"), "explain": true},
		map[string]any{"action": "tasks:read", "resource": orgA},
	}}, &batch)
	if r := batch.Results; len(r) != 2 || r[0].Reason != "tenant_mismatch" ||
		!slices.ContainsFunc(r[0].Explanation, regexp.MustCompile(`tenancy\.rego:\d+: input.resource.org_id != input.principal.org_id$`).MatchString) || r[1].Explanation != nil {
		t.Errorf("batch explanations = %+v, want the first item explained and the second not", r)
	}
	var e apiError
	if status := plain.post(t, "/v1/check", map[string]any{"token": token, "action": "tasks:read", "resource": orgA, "explain": true}, &e); status != 400 || e.Error.Code != "explain_disabled" {
		t.Errorf("explain without --explain = %d %+v, want 400 explain_disabled", status, e)
	}
}

// TestREADMEExplanation keeps the README's "Why was this denied?" example
// as Verdict serves it: the same question, offline, gives the same lines.
func TestREADMEExplanation(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)"explanation":\[(.*?)\]\}`).FindSubmatch(readme)
	if block == nil {
		t.Fatal("README has no explanation example")
	}
	var want []string
	if err := json.Unmarshal([]byte("["+string(block[1])+"]"), &want); err != nil {
		t.Fatalf("README's explanation example is not a JSON list: %v", err)
	}
	claims := filepath.Join(t.TempDir(), "claims.json")
	writeTestFile(t, filepath.Dir(claims), filepath.Base(claims), `{"sub":"user_1","sid":"sess_1","exp":9999999999,"iat":1,"org_id":"org_acme","org_role":"org:member","org_slug":"acme"}`)
	_, out := runCommand(t, "check", "--policies", "../../policies", "--claims", claims, "--action", "tasks:read", "--resource", `{"org_id":"org_evil"}`, "--explain")
	var got struct {
		Explanation []string `json:"explanation"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("verdict check --explain output %q: %v", out, err)
	}
	if !slices.Equal(got.Explanation, want) {
		t.Errorf("README's explanation example is out of date:\n got %q\nwant %q", got.Explanation, want)
	}
}
