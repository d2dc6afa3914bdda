# The shipped policies, pinned: the catalog and roles in data.json decide as
# the contract says. These tests evaluate the decision with every team rule
# set aside (`with data.verdict.rules as {}`), so a team that adds its own
# actions, rules and tests in files of its own breaks none of them; only an
# edit to a shipped file can.
package policies.shipped_test

import data.verdict.authz
import data.verdict.catalog

# Principals as the service builds them: absent strings are left out (never
# ""), the lists are always there for a signed-in user.
member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": [], "plans": [], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin"})

publisher := object.union(member, {"org_permissions": ["org:posts:publish"]})

no_org := object.remove(member, ["org_id", "org_role", "org_slug"])

# The plan feature reports and the custom permission org:reports:export.
exporter := object.union(member, {"org_permissions": ["org:reports:export"], "features": ["o:reports"]})

# An admin whose second factor was verified 2 minutes ago.
fresh_admin := object.union(admin, {"factor_verification_age": [3, 2]})

resource := {"type": "post", "id": "p1", "org_id": "org_A", "org_slug": "acme", "owner_id": "user_1"}

other_org := object.union(resource, {"org_id": "org_B"})

# The decision for the shipped policies alone.
decide(principal, action, res) := d if {
	d := authz.decision with input as {"principal": principal, "action": action, "resource": res, "context": {}}
		with data.verdict.rules as {}
}

reason(principal, action, res) := decide(principal, action, res).reason

deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}

# ---------------------------------------------------------------------------
# Every shipped catalog action, allowed and denied: [action, principal,
# allow, reason].

catalog_cases := [
	["invitations:create", admin, true, "role"],
	["invitations:create", member, false, "missing_role"],
	["invitations:create", publisher, false, "missing_role"],
	["posts:publish", admin, true, "role"],
	["posts:publish", publisher, true, "permission"],
	["posts:publish", member, false, "missing_permission"],
	["posts:publish", exporter, false, "missing_permission"],
	["tasks:list", member, true, "membership"],
	["tasks:list", admin, true, "membership"],
	["tasks:read", member, true, "membership"],
	["tasks:read", object.remove(member, ["org_role"]), true, "membership"],
	["tasks:create", member, true, "membership"],
	["tasks:create", publisher, true, "membership"],
	["billing:manage", admin, true, "role"],
	["billing:manage", member, false, "missing_role"],
	["admin:access", admin, true, "role"],
	["admin:access", member, false, "missing_role"],
	["admin:access", publisher, false, "missing_role"],
	["reports:export", exporter, true, "permission"],
	["reports:export", object.union(exporter, {"features": ["u:reports"]}), true, "permission"],
	["reports:export", object.union(exporter, {"org_role": "org:admin"}), true, "permission"],
	["reports:export", object.union(exporter, {"features": []}), false, "missing_feature"],
	["reports:export", object.union(exporter, {"features": ["o:dashboard"]}), false, "missing_feature"],
	["reports:export", object.union(exporter, {"org_permissions": []}), false, "missing_permission"],
	["reports:export", member, false, "missing_permission"],
	["reports:export", admin, false, "missing_permission"],
	["organization:delete", fresh_admin, true, "role"],
	["organization:delete", object.union(admin, {"factor_verification_age": [3, -1]}), true, "role"],
	["organization:delete", admin, false, "reverification_required"],
	["organization:delete", object.union(admin, {"factor_verification_age": [3, 10]}), false, "reverification_required"],
	["organization:delete", object.union(admin, {"factor_verification_age": [30, -1]}), false, "reverification_required"],
	["organization:delete", object.union(fresh_admin, {"org_role": "org:member"}), false, "missing_role"],
	["organization:delete", member, false, "missing_role"],
]

test_every_shipped_catalog_action_allows_and_denies_as_the_contract_says if {
	failures := [[c, d] |
		some c in catalog_cases
		[action, principal, allow, code] := c
		d := decide(principal, action, resource)
		[d.allow, d.reason] != [allow, code]
	]
	print("failures:", failures)
	count(failures) == 0
}

test_the_cases_cover_every_shipped_action_allowed_and_denied if {
	allowed := {c[0] | some c in catalog_cases; c[2]}
	denied := {c[0] | some c in catalog_cases; not c[2]}
	allowed == object.keys(data.verdict.actions)
	denied == object.keys(data.verdict.actions) - {"tasks:list", "tasks:read", "tasks:create"}
}

test_every_shipped_catalog_action_is_organization_scoped if {
	every action, _ in data.verdict.actions {
		reason(no_org, action, resource) == "no_active_org"
		reason(admin, action, {}) == "tenant_missing"
		reason(admin, action, other_org) == "tenant_mismatch"
	}
}

# ---------------------------------------------------------------------------
# Permission keys.

system_permissions := [
	"org:sys_profile:manage", "org:sys_profile:delete",
	"org:sys_memberships:read", "org:sys_memberships:manage",
	"org:sys_domains:read", "org:sys_domains:manage",
	"org:sys_billing:read", "org:sys_billing:manage",
	"org:sys_entconns:manage",
]

test_admin_holds_all_nine_system_permissions if {
	every key in system_permissions {
		decide(admin, key, resource) == {
			"allow": true, "reason": "role",
			"message": sprintf("role org:admin holds system permission %s", [key]),
		}
	}
}

test_member_holds_only_the_read_system_permissions_of_members_and_billing if {
	allowed := {key | some key in system_permissions; decide(member, key, resource).allow}
	allowed == {"org:sys_memberships:read", "org:sys_billing:read"}
	every key in allowed {
		decide(member, key, resource).reason == "role"
	}
	every key in {k | some k in system_permissions} - allowed {
		decide(member, key, resource) == deny(
			"missing_role",
			sprintf("%s is a system permission and is decided by role; role org:member does not hold it", [key]),
		)
	}
}

test_a_forged_system_permission_in_org_permissions_is_ignored if {
	forged := object.union(member, {"org_permissions": ["org:sys_memberships:manage", "org:sys_profile:delete"]})
	decide(forged, "org:sys_memberships:manage", resource) == deny(
		"missing_role",
		"org:sys_memberships:manage is a system permission and is decided by role; role org:member does not hold it",
	)
	reason(forged, "org:sys_profile:delete", resource) == "missing_role"
}

test_an_unknown_system_permission_key_is_missing_role if {
	decide(admin, "org:sys_reports:manage", resource) == deny(
		"missing_role",
		"org:sys_reports:manage is not a known system permission and no role holds it",
	)
	reason(object.union(admin, {"org_permissions": ["org:sys_reports:manage"]}), "org:sys_reports:manage", resource) == "missing_role"
}

test_a_custom_permission_key_allows_when_the_token_carries_it if {
	decide(exporter, "org:reports:export", resource) == {
		"allow": true, "reason": "permission",
		"message": "the session token carries permission org:reports:export",
	}
	decide(publisher, "org:posts:publish", resource).allow
}

test_a_custom_permission_key_denies_when_the_token_lacks_it if {
	decide(member, "org:reports:export", resource) == deny(
		"missing_permission",
		"the session token does not carry permission org:reports:export",
	)
	reason(admin, "org:reports:export", resource) == "missing_permission"
	reason(publisher, "org:reports:export", resource) == "missing_permission"
}

test_every_decision_of_the_catalog_cases_is_complete if {
	every c in catalog_cases {
		d := decide(c[1], c[0], resource)
		object.keys(d) == {"allow", "reason", "message"}
		d.message != ""
	}
}

# ---------------------------------------------------------------------------
# The shipped catalog.

test_the_shipped_catalog_has_no_problems if {
	catalog.problems == set() with data.verdict.rules as {}
}

# At least these: a team's actions live in files of its own, and the
# shipped catalog may grow.
test_the_shipped_catalog_has_the_contracts_actions if {
	object.keys(data.verdict.actions) & {
		"invitations:create", "posts:publish", "tasks:list", "tasks:read",
		"tasks:create", "billing:manage", "admin:access", "reports:export",
		"organization:delete",
	} == {
		"invitations:create", "posts:publish", "tasks:list", "tasks:read",
		"tasks:create", "billing:manage", "admin:access", "reports:export",
		"organization:delete",
	}
}

test_the_shipped_destructive_actions if {
	{name | some name, _ in data.verdict.actions; catalog.destructive(name) with data.verdict.rules as {}} == {"organization:delete", "billing:manage"}
}

test_the_shipped_roles_hold_only_known_system_permissions if {
	every _, role in data.verdict.roles {
		every key in role.system_permissions {
			key in data.verdict.system_permissions
		}
	}
}
