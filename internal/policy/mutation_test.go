package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// teamPolicies is an example team's directory, served beside the shipped
// policies in the mutation test.
const teamPolicies = "../../testdata/team/acme"

// TestMutantsNeverBreakTheInvariants deletes each policy file in turn, cuts
// each one short at every rule boundary (every line of a data file), and
// drops each entry of the data file's objects and lists: the half-written
// saves and half-done edits a team makes. Every mutant that loads must
// still deny every cross-tenant request, every system permission the role
// does not hold, and every anonymous caller.
func TestMutantsNeverBreakTheInvariants(t *testing.T) {
	t.Parallel()
	base := policyFiles(t)
	roles := shippedRoles(t, base["data.json"])
	all := mutants(t, base)
	work := make(chan mutant)
	var loaded atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for m := range work {
				if checkMutant(t, m, probes(base), roles) {
					loaded.Add(1)
				}
			}
		})
	}
	for _, m := range all {
		work <- m
	}
	close(work)
	wg.Wait()
	t.Logf("%d mutants loaded, %d refused", loaded.Load(), int64(len(all))-loaded.Load())
	if n := loaded.Load(); n < 50 {
		t.Errorf("only %d mutants loaded: the test is not exercising the invariants", n)
	}
}

// checkMutant loads a mutant and, if it loads, asks every probe; it reports
// whether the mutant loaded.
func checkMutant(t *testing.T, m mutant, probes []probe, roles map[string][]string) bool {
	e, err := policy.Load(context.Background(), m.files, policy.Options{})
	if err != nil {
		return false
	}
	for _, p := range probes {
		out, _, err := e.Evaluate(context.Background(), p.input)
		if err != nil || !out.Allow {
			continue // a deny or a 500: never an allow
		}
		if why := p.forbids(roles); why != "" {
			t.Errorf("%s: %s allowed %s on %+v (%s): %s", m.name, p.who, p.input.Check.Action, *p.input.Check.Resource, out.Reason, why)
		}
	}
	return true
}

type mutant struct {
	name  string
	files fstest.MapFS
}

// policyFiles is the shipped policy set with the example team's directory.
func policyFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for dir, prefix := range map[string]string{shippedPolicies: "", teamPolicies: "acme/"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasSuffix(name, "_test.rego") || !(strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, ".json")) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[prefix+name] = b
		}
	}
	return files
}

// mutants are the policy set without each file, and with each file cut
// short at each boundary.
func mutants(t *testing.T, base map[string][]byte) []mutant {
	t.Helper()
	var out []mutant
	with := func(name string, change func(fstest.MapFS)) {
		fsys := fstest.MapFS{}
		for n, b := range base {
			fsys[n] = &fstest.MapFile{Data: b}
		}
		change(fsys)
		out = append(out, mutant{name, fsys})
	}
	for _, file := range slices.Sorted(maps.Keys(base)) {
		with("without "+file, func(fsys fstest.MapFS) { delete(fsys, file) })
		if strings.HasSuffix(file, ".json") {
			for _, d := range dataEdits(t, base[file]) {
				with(file+" "+d.name, func(fsys fstest.MapFS) { fsys[file] = &fstest.MapFile{Data: d.data} })
			}
		}
		for _, cut := range boundaries(t, file, base[file]) {
			with(fmt.Sprintf("%s cut at byte %d", file, cut), func(fsys fstest.MapFS) {
				fsys[file] = &fstest.MapFile{Data: base[file][:cut]}
			})
		}
	}
	return out
}

// boundaries are where a file may be cut: after the package line and after
// each rule of a Rego file; after each line of a data file.
func boundaries(t *testing.T, name string, src []byte) []int {
	t.Helper()
	var cuts []int
	if !strings.HasSuffix(name, ".rego") {
		for i, b := range src {
			if b == '\n' {
				cuts = append(cuts, i+1)
			}
		}
		return cuts
	}
	m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	// The end of the package line: Location.Text is only the keyword.
	pkgEnd := m.Package.Location.Offset + strings.IndexByte(string(src[m.Package.Location.Offset:]), '\n') + 1
	cuts = append(cuts, pkgEnd)
	for _, r := range m.Rules {
		cuts = append(cuts, r.Location.Offset+len(r.Location.Text))
	}
	return cuts
}

type dataEdit struct {
	name string
	data []byte
}

// dataEdits are the data document with one member of one of its objects,
// or one element of one of its lists, taken out (to a depth of five, which
// reaches every term of the catalog).
func dataEdits(t *testing.T, src []byte) []dataEdit {
	t.Helper()
	var doc any
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	var out []dataEdit
	var walk func(path string, v any, depth int)
	walk = func(path string, v any, depth int) {
		if depth > 5 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				child := x[k]
				delete(x, k)
				b, _ := json.Marshal(doc)
				out = append(out, dataEdit{"without " + path + "/" + k, b})
				x[k] = child
				walk(path+"/"+k, child, depth+1)
			}
		case []any:
			for i := range x {
				child := x[i]
				rest := append(append([]any{}, x[:i]...), x[i+1:]...)
				setList(doc, path, rest)
				b, _ := json.Marshal(doc)
				out = append(out, dataEdit{fmt.Sprintf("without %s/%d", path, i), b})
				setList(doc, path, x)
				walk(fmt.Sprintf("%s/%d", path, i), child, depth+1)
			}
		}
	}
	walk("", doc, 0)
	return out
}

// setList replaces the list at the slash-separated path of doc.
func setList(doc any, path string, list []any) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	parent := doc
	for _, p := range parts[:len(parts)-1] {
		switch x := parent.(type) {
		case map[string]any:
			parent = x[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			parent = x[i]
		}
	}
	last := parts[len(parts)-1]
	switch x := parent.(type) {
	case map[string]any:
		x[last] = list
	case []any:
		var i int
		fmt.Sscan(last, &i)
		x[i] = list
	}
}

// probe is one request and what the invariants say of it.
type probe struct {
	who     string
	input   authz.Input
	forbids func(roles map[string][]string) string // why an allow breaks an invariant, or ""
}

// probes ask every action the set knows (and every system permission) for
// principals of every kind, against resources of the session's
// organization, of another one, and of none.
func probes(base map[string][]byte) []probe {
	member := authz.Principal{
		Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_A",
		OrgRole: "org:member", OrgSlug: "acme", TokenVersion: 2,
		OrgPermissions: []string{"org:invoices:approve", "org:tasks:delete", "org:posts:publish", "org:sys_memberships:manage", "org:sys_profile:delete"},
		Features:       []string{"o:reports"},
	}
	admin := member
	admin.OrgRole, admin.UserID = "org:admin", "user_admin"
	noOrg := authz.Principal{Authenticated: true, UserID: "user_1", SessionID: "sess_1", TokenVersion: 2, OrgPermissions: []string{}}
	principals := map[string]authz.Principal{"member": member, "admin": admin, "no org": noOrg, "anonymous": {}}
	resources := map[string]*authz.Resource{
		"own":           {OrgID: "org_A", OwnerID: "user_1"},
		"other org":     {OrgID: "org_evil", OwnerID: "user_1"},
		"other slug":    {OrgID: "org_A", OrgSlug: "evil", OwnerID: "user_1"},
		"no org":        {OwnerID: "user_1"},
		"other org, id": {OrgID: "org_evil", OwnerID: "user_admin", Attributes: map[string]any{"locked": false}},
	}
	var out []probe
	for _, action := range knownActions(base) {
		for who, p := range principals {
			for where, r := range resources {
				out = append(out, probe{
					who:   who + " on " + where,
					input: authz.Input{Subject: authz.PrincipalSubject(p), Check: authz.Check{Action: action, Resource: r}},
					forbids: func(roles map[string][]string) string {
						switch {
						case !p.Authenticated:
							return "an anonymous caller"
						case r.OrgID != p.OrgID || r.OrgSlug != "" && r.OrgSlug != p.OrgSlug || p.OrgID == "":
							return "another tenant's resource"
						case strings.HasPrefix(action, "org:sys_") && !slices.Contains(roles[p.OrgRole], action):
							return "a system permission role " + p.OrgRole + " does not hold"
						}
						return ""
					},
				})
			}
		}
	}
	return out
}

// knownActions are the catalog's actions, the team's (found by name in
// their files) and every system permission key.
func knownActions(base map[string][]byte) []string {
	set := map[string]bool{
		"invoices:approve": true, "tasks:delete": true, "org:invoices:approve": true,
		"org:sys_memberships:manage": true, "org:sys_memberships:read": true, "org:sys_profile:delete": true,
		"org:sys_billing:manage": true, "org:sys_billing:read": true, "org:sys_domains:manage": true,
	}
	var data struct {
		Verdict struct {
			Actions map[string]any `json:"actions"`
		} `json:"verdict"`
	}
	_ = json.Unmarshal(base["data.json"], &data)
	for name := range data.Verdict.Actions {
		set[name] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// shippedRoles are the system permissions each shipped role holds.
func shippedRoles(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	var doc struct {
		Verdict struct {
			Roles map[string]struct {
				SystemPermissions []string `json:"system_permissions"`
			} `json:"roles"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for name, r := range doc.Verdict.Roles {
		out[name] = r.SystemPermissions
	}
	return out
}
