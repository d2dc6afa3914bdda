package main

import (
	"testing"
)

// testData is a catalog shaped like the shipped one, plus entries that
// exercise every term kind the harness models.
const testData = `{"verdict": {
  "system_permissions": ["org:sys_memberships:read", "org:sys_memberships:manage", "org:sys_billing:read"],
  "roles": {
    "org:admin": {"system_permissions": ["org:sys_memberships:read", "org:sys_memberships:manage", "org:sys_billing:read"]},
    "org:member": {"system_permissions": ["org:sys_memberships:read", "org:sys_billing:read"]}
  },
  "actions": {
    "invitations:create": {"requires": [{"any_of": [{"role": "org:admin"}], "deny": "missing_role"}]},
    "posts:publish": {"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:posts:publish"}], "deny": "missing_permission"}]},
    "tasks:read": {"requires": []},
    "reports:export": {"requires": [
      {"any_of": [{"feature": "reports"}], "deny": "missing_feature"},
      {"any_of": [{"permission": "org:reports:export"}], "deny": "missing_permission"}]},
    "organization:delete": {"requires": [
      {"any_of": [{"role": "org:admin"}], "deny": "missing_role"},
      {"any_of": [{"reverification": "strict"}], "deny": "reverification_required"}]},
    "members:manage": {"requires": [{"any_of": [{"permission": "org:sys_memberships:manage"}]}]},
    "typo:entry": {"requires": [{"any_of": [{"rol": "org:admin"}]}]},
    "no:requires": {"description": "malformed"}
  }
}}`

func testRules(t *testing.T) *rules {
	t.Helper()
	r, err := parseRules([]byte(testData))
	if err != nil {
		t.Fatalf("parseRules() error = %v", err)
	}
	return r
}

func TestParseRulesSkipsWhatItCannotModel(t *testing.T) {
	r := testRules(t)
	if got, want := len(r.actions), 6; got != want {
		t.Errorf("usable actions = %d, want %d", got, want)
	}
	if got, want := r.skipped, []string{"no:requires", "typo:entry"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("skipped = %v, want %v", got, want)
	}
	if !r.listed["typo:entry"] {
		t.Error("listed misses typo:entry, so the corpus could pick it as an unknown action")
	}
}

func TestExpect(t *testing.T) {
	r := testRules(t)
	own := resource{OrgID: "org_A", OrgSlug: "acme"}
	admin := principal{orgID: "org_A", orgSlug: "acme", role: "org:admin", perms: map[string]bool{}}
	member := principal{orgID: "org_A", orgSlug: "acme", role: "org:member", perms: map[string]bool{
		"org:posts:publish": true, "org:sys_memberships:manage": true, // the second is forged
	}}
	exporter := principal{orgID: "org_A", orgSlug: "acme", role: "org:member",
		perms: map[string]bool{"org:reports:export": true}, features: []string{"u:reports"}}
	noFeature := exporter
	noFeature.features = []string{"u:beta"}
	freshAdmin := admin
	freshAdmin.fva = []int{30, 9}
	staleAdmin := admin
	staleAdmin.fva = []int{0, 10}
	noSecondFactor := admin
	noSecondFactor.fva = []int{5, -1}
	noOrg := principal{perms: map[string]bool{}}

	tests := []struct {
		name   string
		p      principal
		action string
		res    resource
		want   decision
	}{
		{"anonymous", principal{anonymous: true}, "tasks:read", own, deny("unauthenticated")},
		{"expired token", principal{failure: "token_expired"}, "tasks:read", own, deny("token_expired")},
		{"unknown before tenancy", noOrg, "tasks:delete", resource{}, deny("unknown_action")},
		{"malformed entry is unknown", admin, "typo:entry", own, deny("unknown_action")},
		{"no active org", noOrg, "tasks:read", own, deny("no_active_org")},
		{"tenant missing", admin, "tasks:read", resource{OrgSlug: "acme"}, deny("tenant_missing")},
		{"cross tenant", admin, "org:sys_memberships:read", resource{OrgID: "org_B"}, deny("tenant_mismatch")},
		{"slug mismatch", admin, "tasks:read", resource{OrgID: "org_A", OrgSlug: "evil"}, deny("tenant_mismatch")},
		{"slug absent is fine", member, "tasks:read", resource{OrgID: "org_A"}, allow("membership")},
		{"admin system permission", admin, "org:sys_memberships:manage", own, allow("role")},
		{"member system permission", member, "org:sys_billing:read", own, allow("role")},
		{"forged system permission ignored", member, "org:sys_memberships:manage", own, deny("missing_role")},
		{"unknown system permission", admin, "org:sys_nothing:manage", own, deny("missing_role")},
		{"custom permission held", member, "org:posts:publish", own, allow("permission")},
		{"custom permission missing", admin, "org:posts:publish", own, deny("missing_permission")},
		{"catalog role", admin, "posts:publish", own, allow("role")},
		{"catalog permission", member, "posts:publish", own, allow("permission")},
		{"catalog deny code", exporter, "posts:publish", own, deny("missing_permission")},
		{"catalog role only", member, "invitations:create", own, deny("missing_role")},
		{"system permission term by role", member, "members:manage", own, deny("missing_role")},
		{"system permission term grants role", admin, "members:manage", own, allow("role")},
		{"feature of user scope", exporter, "reports:export", own, allow("permission")},
		{"missing feature", noFeature, "reports:export", own, deny("missing_feature")},
		{"permission before feature", admin, "reports:export", own, deny("missing_permission")},
		{"role before reverification", member, "organization:delete", own, deny("missing_role")},
		{"no fva", admin, "organization:delete", own, deny("reverification_required")},
		{"fresh second factor", freshAdmin, "organization:delete", own, allow("role")},
		{"10 minutes is stale", staleAdmin, "organization:delete", own, deny("reverification_required")},
		{"first factor fallback", noSecondFactor, "organization:delete", own, allow("role")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.expect(tt.p, tt.action, tt.res); got != tt.want {
				t.Errorf("expect(%s) = %v, want %v", tt.action, got, tt.want)
			}
			// The unique-resource rounds rely on the id never deciding.
			for _, id := range []string{"", "r_1", idPlaceholder, "u0000000000000042"} {
				res := tt.res
				res.ID = id
				if got := r.expect(tt.p, tt.action, res); got != tt.want {
					t.Errorf("expect(%s) with resource id %q = %v, want %v", tt.action, id, got, tt.want)
				}
			}
		})
	}
}

func TestEntitled(t *testing.T) {
	tests := []struct {
		entries []string
		query   string
		want    bool
	}{
		{[]string{"o:reports"}, "reports", true},
		{[]string{"u:reports"}, "reports", true},
		{[]string{"o:reports"}, "u:reports", false},
		{[]string{"o:reports"}, "org:reports", true},
		{[]string{"o:reports"}, "organization:reports", true},
		{[]string{"ou:reports"}, "user:reports", true},
		{[]string{"u:beta"}, "reports", false},
	}
	for _, tt := range tests {
		if got := entitled(tt.entries, tt.query); got != tt.want {
			t.Errorf("entitled(%v, %q) = %v, want %v", tt.entries, tt.query, got, tt.want)
		}
	}
}

func TestWindowFresh(t *testing.T) {
	tests := []struct {
		preset string
		fva    []int
		want   bool
	}{
		{"strict", []int{0, 9}, true},
		{"strict", []int{0, 10}, false},
		{"strict", []int{9, -1}, true},
		{"strict", []int{-1, -1}, false},
		{"strict_mfa", []int{5, 5}, true},
		{"strict_mfa", []int{25, 5}, false},
		{"strict_mfa", []int{5, -1}, true},
		{"moderate", []int{90, 59}, true},
		{"strict", nil, false},
	}
	for _, tt := range tests {
		w, ok := reverificationWindow(tt.preset)
		if !ok {
			t.Fatalf("reverificationWindow(%q) not ok", tt.preset)
		}
		if got := w.fresh(tt.fva); got != tt.want {
			t.Errorf("%s.fresh(%v) = %v, want %v", tt.preset, tt.fva, got, tt.want)
		}
	}
}
