package policy_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// A small policy set: two roles and one action, admin:access, for admins
// only (adminsOnly) or for every member (everyone). The decision itself is
// Verdict's built-in layer.
const adminsOnly = `{"verdict": {
  "roles": {"org:admin": {"system_permissions": []}, "org:member": {"system_permissions": []}},
  "actions": {"admin:access": {"requires": [{"any_of": [{"role": "org:admin"}], "deny": "missing_role"}]}}
}}`

const everyone = `{"verdict": {
  "roles": {"org:admin": {"system_permissions": []}, "org:member": {"system_permissions": []}},
  "actions": {"admin:access": {"requires": []}}
}}`

// teamRule is a team package holding src.
func teamRule(src string) string { return "package verdict.rules.team\n\n" + src + "\n" }

// writePolicies writes files into a fresh directory and returns it.
func writePolicies(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		writeFile(t, filepath.Join(dir, name), src)
	}
	return dir
}

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, dir string, opts policy.Options) *policy.Engine {
	t.Helper()
	e, err := policy.Load(context.Background(), os.DirFS(dir), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return e
}

func adminInput(role string) authz.Input {
	return authz.Input{
		Subject: authz.PrincipalSubject(authz.Principal{Authenticated: true, UserID: "user_1", OrgID: "org_1", OrgRole: role}),
		Check:   authz.Check{Action: "admin:access", Resource: &authz.Resource{OrgID: "org_1"}},
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	e := load(t, writePolicies(t, map[string]string{"data.json": adminsOnly}), policy.Options{})
	tests := []struct {
		role string
		want authz.Outcome
	}{
		{"org:admin", authz.Outcome{Allow: true, Reason: "role", Message: "the session has role org:admin, which grants action admin:access", Deterministic: true}},
		{"org:member", authz.Outcome{Allow: false, Reason: "missing_role", Message: "action admin:access needs role org:admin; the session has role org:member", Deterministic: true}},
	}
	for _, tt := range tests {
		got, rev, err := e.Evaluate(context.Background(), adminInput(tt.role))
		if err != nil {
			t.Fatalf("Evaluate(%s): %v", tt.role, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Evaluate(%s) mismatch (-want +got):\n%s", tt.role, diff)
		}
		if rev != e.Revision() {
			t.Errorf("Evaluate revision = %q, want %q", rev, e.Revision())
		}
	}
}

func TestRevisionIsContentHash(t *testing.T) {
	t.Parallel()
	files := map[string]string{"data.json": adminsOnly, "extra.json": `{"x": 1}`}
	a := load(t, writePolicies(t, files), policy.Options{})
	b := load(t, writePolicies(t, files), policy.Options{})
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(a.Revision()) {
		t.Errorf("Revision() = %q, want sha256:<64 hex>", a.Revision())
	}
	if a.Revision() != b.Revision() {
		t.Errorf("same files, different revisions: %s vs %s", a.Revision(), b.Revision())
	}
	files["extra.json"] = `{"x": 2}`
	if c := load(t, writePolicies(t, files), policy.Options{}); c.Revision() == a.Revision() {
		t.Errorf("changed data kept revision %s", a.Revision())
	}
}

// TestFailClosed: whatever goes wrong inside evaluation is an error, never
// an allow, even where a team rule fails for an action it was written for.
func TestFailClosed(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"builtin error": `deny contains {"reason": sprintf("%d", [to_number(input.action)]), "message": "m"}`,
		"conflicting values": `_level := 1 if input.action

_level := 2 if input.action

deny contains {"reason": "r", "message": "m"} if _level == 3`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := load(t, writePolicies(t, map[string]string{"data.json": everyone, "team.rego": teamRule(src)}), policy.Options{})
			got, _, err := e.Evaluate(context.Background(), adminInput("org:admin"))
			if err == nil {
				t.Fatalf("Evaluate = %+v, nil; want an error", got)
			}
			if got.Allow {
				t.Errorf("Evaluate allowed alongside error %v", err)
			}
		})
	}
}

// TestLoadRefusesBrokenPolicies: every mistake the loader catches names the
// file and line it is at.
func TestLoadRefusesBrokenPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  policy.Problem // Message is matched as a substring
	}{
		{
			name:  "parse error names file and line",
			files: map[string]string{"data.json": adminsOnly, "broken.rego": "package verdict.rules.x\n\nallow if {\n  input.x ==\n}\n"},
			want:  policy.Problem{File: "policies/broken.rego", Line: 5},
		},
		{
			name:  "compile error names file and line",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule("x := undefined_function(1)")},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "undefined function"},
		},
		{
			name:  "strict: an unused variable",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule("deny contains {\"reason\": \"r\", \"message\": \"m\"} if {\n\tx := input.action\n\tinput.resource.locked\n}")},
			want:  policy.Problem{File: "policies/team.rego", Line: 4, Message: "assigned var x unused"},
		},
		{
			name:  "bad data file",
			files: map[string]string{"data.json": "{not json"},
			want:  policy.Problem{File: "policies/data.json", Line: 1},
		},
		{
			name:  "a reserved package",
			files: map[string]string{"data.json": adminsOnly, "authz.rego": "package verdict.authz\n\ndecision := {\"allow\": true}\n"},
			want:  policy.Problem{File: "policies/authz.rego", Line: 1, Message: "package verdict.authz is reserved"},
		},
		{
			name:  "the Clerk library's package",
			files: map[string]string{"data.json": adminsOnly, "x/clerk.rego": "package verdict.clerk\n\npasses(\"role\", _, _) := true\n"},
			want:  policy.Problem{File: "policies/x/clerk.rego", Line: 1, Message: "package verdict.clerk is reserved"},
		},
		{
			name:  "a deny that is not a set",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule("deny := {\"reason\": \"r\", \"message\": \"m\"} if input.resource.locked")},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "deny in package verdict.rules.team must be a set rule"},
		},
		{
			name: "a misspelled rule reference",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`import data.verdict.rules.locked

deny contains d if some d in locked.denail`), "locked.rego": "package verdict.rules.locked\n\ndenial contains {\"reason\": \"locked\", \"message\": \"m\"} if input.resource.attributes.locked\n"},
			want: policy.Problem{File: "policies/team.rego", Line: 5, Message: "package verdict.rules.locked defines no rule denail"},
		},
		{
			name:  "a misspelled role in the catalog",
			files: map[string]string{"data.json": strings.Replace(adminsOnly, `{"role": "org:admin"}`, `{"role": "org:admn"}`, 1)},
			want:  policy.Problem{File: "policies/data.json", Line: 3, Message: "role org:admn is not defined in data.verdict.roles"},
		},
		{
			name:  "a directory passing for the built-in layer",
			files: map[string]string{"data.json": adminsOnly, "verdict-builtin/helpers.rego": "package verdict.tenancy\n\npasses if input.context.backdoor\n"},
			want:  policy.Problem{File: "policies/verdict-builtin", Message: "the name is reserved for Verdict's built-in layer"},
		},
		{
			name:  "team actions that depend on the request",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`actions[name] := {"requires": [], "scope": "user"} if name := input.action`)},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "actions in package verdict.rules.team depends on input"},
		},
		{
			name: "team actions that depend on the request through a helper",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`actions := {name: {"requires": []} | some name in _names}

_names := {input.action}`)},
			want: policy.Problem{File: "policies/team.rego", Line: 3, Message: "depends on input"},
		},
		{
			name:  "one team package in two directories",
			files: map[string]string{"data.json": adminsOnly, "a/locks.rego": teamRule("deny contains {\"reason\": \"r\", \"message\": \"m\"} if not exempt\n\nexempt if input.resource.attributes.open"), "b/other.rego": teamRule("exempt := true")},
			want:  policy.Problem{File: "policies/b/other.rego", Line: 1, Message: "package verdict.rules.team is declared in a and in b"},
		},
		{
			name:  "a deny in a package below a team's",
			files: map[string]string{"data.json": adminsOnly, "team.rego": "package verdict.rules.acme.tasks\n\ndeny contains {\"reason\": \"r\", \"message\": \"m\"} if input.resource.attributes.locked\n"},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "deny in package verdict.rules.acme.tasks is never read"},
		},
		{
			name:  "a rule that reaches the network",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`deny contains {"reason": "r", "message": "m"} if http.send({"method": "GET", "url": "http://127.0.0.1:1/"}).status_code == 200`)},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "undefined function http.send"},
		},
		{
			name:  "a schema whose $ref reaches the network or a file",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`deny contains {"reason": "r", "message": "m"} if json.match_schema(1, {"$ref": "file:///etc/passwd"})[0]`)},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "undefined function json.match_schema"},
		},
		{
			name:  "data under data.verdict from a team directory",
			files: map[string]string{"data.json": adminsOnly, "verdict/roles/data.json": `{"org:viewer": {"system_permissions": ["org:sys_memberships:manage"]}}`},
			want:  policy.Problem{File: "policies/verdict/roles/data.json", Message: "data below data.verdict comes only from the policy root's data files"},
		},
		{
			name:  "a package named actions below a team's",
			files: map[string]string{"data.json": adminsOnly, "team.rego": "package verdict.rules.x.actions\n\nfoo := {\"requires\": []} if input.action == \"foo\"\n"},
			want:  policy.Problem{File: "policies/team.rego", Line: 1, Message: "package verdict.rules.x.actions is refused"},
		},
		{
			name:  "team actions that depend on the clock",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`actions["late:action"] := {"requires": []} if time.now_ns() > 0`)},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "depends on input (or the clock)"},
		},
		{
			name:  "a team action that clashes with a shipped one",
			files: map[string]string{"data.json": adminsOnly, "team.rego": teamRule(`actions["admin:access"] := {"requires": []}`)},
			want:  policy.Problem{File: "policies/team.rego", Line: 3, Message: "catalog entry admin:access: defined in data.verdict.actions and in package verdict.rules.team"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.Load(context.Background(), os.DirFS(writePolicies(t, tt.files)), policy.Options{Dir: "policies"})
			var ce *policy.CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Load error = %v, want *CompileError", err)
			}
			for _, p := range ce.Problems {
				if p.File == tt.want.File && p.Line == tt.want.Line && strings.Contains(p.Message, tt.want.Message) {
					return
				}
			}
			t.Errorf("Load problems = %+v, want one at %s:%d %q", ce.Problems, tt.want.File, tt.want.Line, tt.want.Message)
		})
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	dir := writePolicies(t, map[string]string{"data.json": adminsOnly})
	var reloads []error
	e := load(t, dir, policy.Options{OnReload: func(err error) { reloads = append(reloads, err) }, Dir: "p"})
	ctx := context.Background()
	first := e.Revision()

	if changed, err := e.Reload(ctx); changed || err != nil {
		t.Fatalf("Reload of unchanged files = %v, %v; want false, nil", changed, err)
	}

	writeFile(t, filepath.Join(dir, "data.json"), everyone)
	if changed, err := e.Reload(ctx); !changed || err != nil {
		t.Fatalf("Reload of a valid edit = %v, %v; want true, nil", changed, err)
	}
	second := e.Revision()
	if second == first {
		t.Fatalf("revision unchanged after a valid edit")
	}
	if got, _, _ := e.Evaluate(ctx, adminInput("org:member")); !got.Allow {
		t.Errorf("after reload, member denied: %+v", got)
	}

	writeFile(t, filepath.Join(dir, "team.rego"), "package verdict.rules.team\n\ndeny contains {\n")
	changed, err := e.Reload(ctx)
	var ce *policy.CompileError
	if !changed || !errors.As(err, &ce) {
		t.Fatalf("Reload of a broken edit = %v, %v; want true, *CompileError", changed, err)
	}
	if ce.Problems[0].File != "p/team.rego" || ce.Problems[0].Line == 0 {
		t.Errorf("broken edit problem = %+v, want file p/team.rego with a line", ce.Problems[0])
	}
	if e.Revision() != second {
		t.Errorf("broken edit replaced the revision")
	}
	if got, _, err := e.Evaluate(ctx, adminInput("org:member")); err != nil || !got.Allow {
		t.Errorf("after a refused edit, Evaluate = %+v, %v; want the previous policies", got, err)
	}
	// The same broken files are not retried (or counted) on every poll.
	if changed, _ := e.Reload(ctx); changed {
		t.Errorf("unchanged broken files were reloaded again")
	}
	if len(reloads) != 2 || reloads[0] != nil || reloads[1] == nil {
		t.Errorf("OnReload calls = %v, want [nil, error]", reloads)
	}
}

// TestActivate swaps in sets given as file systems (a bundle's): a set
// that compiles serves, one that does not is refused and the current one
// keeps serving, and a refused set offered again is compiled again.
func TestActivate(t *testing.T) {
	t.Parallel()
	var reloads []error
	e, err := policy.Load(context.Background(), fstest.MapFS{}, policy.Options{OnReload: func(err error) { reloads = append(reloads, err) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, _, _ := e.Evaluate(ctx, adminInput("org:admin")); got.Allow || got.Reason != "unknown_action" {
		t.Fatalf("with no catalog, %+v; want unknown_action", got)
	}
	admins := fstest.MapFS{"data.json": {Data: []byte(adminsOnly)}}
	if err := e.Activate(ctx, admins); err != nil {
		t.Fatalf("Activate(a valid set) = %v", err)
	}
	first := e.Revision()
	if got, _, _ := e.Evaluate(ctx, adminInput("org:admin")); !got.Allow {
		t.Errorf("after Activate, admin denied: %+v", got)
	}
	if err := e.Activate(ctx, admins); err != nil || len(reloads) != 1 {
		t.Errorf("Activate(the set serving) = %v after %d reloads; want nil and nothing counted", err, len(reloads))
	}
	broken := fstest.MapFS{"data.json": {Data: []byte(everyone)}, "team.rego": {Data: []byte("package verdict.rules.team\n\ndeny contains {\n")}}
	for range 2 {
		var ce *policy.CompileError
		if err := e.Activate(ctx, broken); !errors.As(err, &ce) || e.Revision() != first {
			t.Fatalf("Activate(a broken set) = %v, revision %s; want a *CompileError and %s", err, e.Revision(), first)
		}
	}
	if len(reloads) != 3 || reloads[0] != nil || reloads[1] == nil || reloads[2] == nil {
		t.Errorf("OnReload calls = %v, want [nil, error, error]", reloads)
	}
}

func TestTestFilesAreNotServed(t *testing.T) {
	t.Parallel()
	dir := writePolicies(t, map[string]string{"data.json": adminsOnly})
	e := load(t, dir, policy.Options{})
	// A test file, even a broken one, neither changes the revision nor
	// blocks a reload.
	writeFile(t, filepath.Join(dir, "authz_test.rego"), "package broken {")
	if changed, err := e.Reload(context.Background()); changed || err != nil {
		t.Errorf("Reload after adding a test file = %v, %v; want false, nil", changed, err)
	}
}

// TestWatchSwapsWithoutFailingRequests edits the policies while evaluations
// run concurrently: every evaluation succeeds, and the edit is seen within
// the contract's 2 seconds.
func TestWatchSwapsWithoutFailingRequests(t *testing.T) {
	t.Parallel()
	dir := writePolicies(t, map[string]string{"data.json": adminsOnly})
	e := load(t, dir, policy.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Deferred calls run last first: cancel, then wait, so that a failing
	// assertion below stops the evaluating goroutines instead of waiting on
	// them for ever.
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { e.Watch(ctx, 50*time.Millisecond) })

	var failures atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, _, err := e.Evaluate(ctx, adminInput("org:member")); err != nil && ctx.Err() == nil {
					t.Log(err)
					failures.Add(1)
				}
			}
		})
	}
	before := e.Revision()
	writeFile(t, filepath.Join(dir, "data.json"), everyone)
	deadline := time.Now().Add(2 * time.Second)
	for e.Revision() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if e.Revision() == before {
		t.Fatal("edit not picked up within 2 s")
	}
	cancel()
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d evaluations failed during the swap", n)
	}
}

// TestDeterminism: outcomes of policies that read the clock (or any other
// non-deterministic builtin) are marked so, and never cached by the decider.
func TestDeterminism(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		src  string
		want bool
	}{
		"input and data only": {`deny contains {"reason": "locked", "message": "m"} if input.resource.attributes.locked`, true},
		"reads the clock":     {`deny contains {"reason": "after_hours", "message": "m"} if time.now_ns() < 0`, false},
		"random in a helper": {`deny contains {"reason": "lottery", "message": "m"} if _roll < 0

_roll := rand.intn("x", 100)`, false},
		"with replacement": {`deny contains {"reason": id, "message": "m"} if {
	id := f("a") with f as uuid.rfc4122
	id == ""
}

f(x) := x`, false},
		"certificate check": {`deny contains {"reason": "certs", "message": "m"} if count(crypto.x509.parse_and_verify_certificates(input.action)[1]) > 0`, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := load(t, writePolicies(t, map[string]string{"data.json": adminsOnly, "team.rego": teamRule(tt.src)}), policy.Options{})
			out, _, err := e.Evaluate(context.Background(), adminInput("org:admin"))
			if err != nil {
				t.Fatal(err)
			}
			if out.Deterministic != tt.want {
				t.Errorf("Deterministic = %v, want %v", out.Deterministic, tt.want)
			}
		})
	}
}

// TestCatalogProblemsRefuseTheRevision: a catalog the policies find
// problems with is refused like Rego that does not compile, at load and on
// reload, and the previous revision keeps serving.
func TestCatalogProblemsRefuseTheRevision(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	entries, err := os.ReadDir(shippedPolicies)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "data.json" {
			b, err := os.ReadFile(filepath.Join(shippedPolicies, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = string(b)
		}
	}
	dir := writePolicies(t, files)
	e := load(t, dir, policy.Options{})
	good := e.Revision()

	broken := strings.Replace(files["data.json"], `"role": "org:admin"`, `"rolle": "org:admin"`, 1)
	writeFile(t, filepath.Join(dir, "data.json"), broken)
	_, err = e.Reload(context.Background())
	var ce *policy.CompileError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "catalog entry") || !strings.Contains(ce.Error(), "rolle") {
		t.Fatalf("Reload with a misspelled term = %v, want a CompileError naming the entry and the term", err)
	}
	if p := ce.Problems[0]; p.File != "data.json" || p.Line == 0 {
		t.Errorf("catalog problem at %s:%d, want data.json with the entry's line", p.File, p.Line)
	}
	if e.Revision() != good {
		t.Error("a refused catalog replaced the serving revision")
	}
	if _, err := policy.Load(context.Background(), os.DirFS(dir), policy.Options{}); !errors.As(err, &ce) {
		t.Errorf("Load with a misspelled term = %v, want a CompileError", err)
	}
}

// flipFS serves a different version of a policy set on each read of the
// whole directory: versions[i] for read i, the last one thereafter.
type flipFS struct {
	mu       sync.Mutex
	reads    int
	versions []fstest.MapFS
}

// ReadDir of the root starts a read of the whole set.
func (f *flipFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	if name == "." {
		f.reads++
	}
	f.mu.Unlock()
	return f.current().ReadDir(name)
}

func (f *flipFS) Open(name string) (fs.File, error) { return f.current().Open(name) }

func (f *flipFS) current() fstest.MapFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.versions[min(max(f.reads, 1), len(f.versions))-1]
}

// TestWatchCompilesTheFilesItSawSettle: the watcher applies the very files
// two polls agreed on. A save that lands just after (here, a broken one)
// is a change of its own, seen and settled later, never compiled in their
// place.
func TestWatchCompilesTheFilesItSawSettle(t *testing.T) {
	t.Parallel()
	version := func(data string) fstest.MapFS { return fstest.MapFS{"data.json": {Data: []byte(data)}} }
	fsys := &flipFS{versions: []fstest.MapFS{
		version(adminsOnly), // Load
		version(everyone),   // first poll: changed
		version(everyone),   // second poll: settled
		version("{broken"),  // every read after
	}}
	results := make(chan error, 10)
	e, err := policy.Load(context.Background(), fsys, policy.Options{OnReload: func(err error) { results <- err }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Watch(ctx, 10*time.Millisecond)
	select {
	case err := <-results:
		if err != nil {
			t.Fatalf("first reload = %v, want the settled files applied", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload within 5 s")
	}
	if got, _, _ := e.Evaluate(context.Background(), adminInput("org:member")); !got.Allow {
		t.Errorf("after the reload: %+v, want the settled policies (members allowed)", got)
	}
}

// TestEvaluationDeadline: a team rule that runs far too long is stopped at
// the evaluation deadline, answered as an error (never an allow), and
// counted; decisions it does not touch are unaffected.
func TestEvaluationDeadline(t *testing.T) {
	t.Parallel()
	slow := teamRule(`deny contains {"reason": "r", "message": "m"} if {
	input.action == "admin:access"
	some i in numbers.range(1, 1000000000)
	i < 0
}`)
	var timeouts atomic.Int64
	dir := writePolicies(t, map[string]string{"data.json": everyone, "team.rego": slow})
	e := load(t, dir, policy.Options{EvalTimeout: 50 * time.Millisecond, OnTimeout: func() { timeouts.Add(1) }})
	start := time.Now()
	got, _, err := e.Evaluate(context.Background(), adminInput("org:admin"))
	if !errors.Is(err, policy.ErrEvalTimeout) || got.Allow {
		t.Fatalf("Evaluate = %+v, %v; want ErrEvalTimeout and no allow", got, err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("the deadline stopped the evaluation after %s", elapsed)
	}
	if _, _, _, err := e.Explain(context.Background(), adminInput("org:admin")); !errors.Is(err, policy.ErrEvalTimeout) {
		t.Errorf("Explain = %v, want ErrEvalTimeout", err)
	}
	if n := timeouts.Load(); n != 2 {
		t.Errorf("OnTimeout called %d times, want 2", n)
	}
	other := adminInput("org:admin")
	other.Check.Action = "tasks:read"
	// tasks:read is not in this policy set: unknown_action, decided at once.
	if _, _, err := e.Evaluate(context.Background(), other); err != nil {
		t.Errorf("a decision the slow rule does not touch: %v", err)
	}
	// A caller that gave up first is its own error, not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := e.Evaluate(ctx, adminInput("org:admin")); err == nil || errors.Is(err, policy.ErrEvalTimeout) {
		t.Errorf("Evaluate with a cancelled context = %v, want an error that is not a timeout", err)
	}
}
