package bundle_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/bundle"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// TestBundleDecidesAsDirectory: a bundle built and signed by OPA's own
// build from a Verdict policy directory (shipped policies, team rules, one
// of which calls the built-in library) decides every check exactly as the
// directory does.
func TestBundleDecidesAsDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := policyDir(t)
	key := newSigner(t, "ES256")
	b, err := bundle.Parse(build(t, dir, &key, "r1"), bundle.ReadOptions{Key: key.key})
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := policy.Load(ctx, os.DirFS(dir), policy.Options{})
	if err != nil {
		t.Fatalf("Load(directory): %v", err)
	}
	fromBundle, err := loadEngine(ctx, b)
	if err != nil {
		t.Fatalf("Load(bundle): %v", err)
	}

	member := authz.Principal{
		Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_acme",
		OrgRole: "org:member", OrgSlug: "acme", OrgPermissions: []string{}, TokenVersion: 2,
	}
	with := func(edit func(*authz.Principal)) authz.Principal {
		p := member
		edit(&p)
		return p
	}
	principals := map[string]authz.Principal{
		"anonymous": {},
		"member":    member,
		"admin":     with(func(p *authz.Principal) { p.OrgRole = "org:admin" }),
		"fresh admin": with(func(p *authz.Principal) {
			p.OrgRole, p.FactorVerificationAge = "org:admin", &[2]int{3, 2}
		}),
		"approver":  with(func(p *authz.Principal) { p.OrgPermissions = []string{"org:invoices:approve", "org:posts:publish"} }),
		"no org":    with(func(p *authz.Principal) { p.OrgID, p.OrgRole, p.OrgSlug = "", "", "" }),
		"task user": with(func(p *authz.Principal) { p.UserID = "user_owner" }),
	}
	actions := []string{
		"invitations:create", "posts:publish", "tasks:list", "tasks:read", "tasks:create",
		"billing:manage", "admin:access", "reports:export", "organization:delete",
		"invoices:approve", "tasks:delete", "reports:archive",
		"org:sys_memberships:read", "org:invoices:approve", "nothing:known",
	}
	resources := map[string]*authz.Resource{
		"none":        nil,
		"own org":     {Type: "task", ID: "t1", OrgID: "org_acme", OrgSlug: "acme", OwnerID: "user_owner"},
		"other org":   {Type: "task", ID: "t2", OrgID: "org_evil", OwnerID: "user_owner"},
		"locked task": {Type: "task", ID: "t3", OrgID: "org_acme", Attributes: map[string]any{"locked": true}},
	}

	seen := map[string]bool{} // reasons, to show the team rules took part
	for pname, p := range principals {
		for _, action := range actions {
			for rname, res := range resources {
				check := authz.Check{Action: action, Resource: res, Context: map[string]any{}}
				want := evaluate(t, fromDir, p, check)
				got := evaluate(t, fromBundle, p, check)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s %s on %s: bundle differs from directory (-dir +bundle):\n%s", pname, action, rname, diff)
				}
				seen[fmt.Sprint(want.Reason)] = true
			}
		}
	}
	for _, reason := range []string{"task_locked", "owner", "reverification_required", "tenant_mismatch", "missing_role", "role", "permission"} {
		if !seen[reason] {
			t.Errorf("no check was decided with reason %s; the cases do not reach the team rules", reason)
		}
	}
}

// evaluate answers check for p with e, failing on an error.
func evaluate(t *testing.T, e *policy.Engine, p authz.Principal, check authz.Check) authz.Outcome {
	t.Helper()
	subject, err := e.Prepare(p)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	out, _, err := e.Evaluate(context.Background(), authz.Input{Subject: subject, Check: check})
	if err != nil {
		t.Fatalf("Evaluate(%s): %v", check.Action, err)
	}
	return out
}
