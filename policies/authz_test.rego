package verdict.authz_test

import data.verdict.authz

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin"})

publisher := object.union(member, {"org_permissions": ["org:posts:publish"]})

no_org := object.remove(member, ["org_id", "org_role", "org_slug", "org_permissions"])

# The plan feature reports and the custom permission org:reports:export.
exporter := object.union(member, {"org_permissions": ["org:reports:export"], "features": ["o:reports"]})

# An admin whose second factor was verified 2 minutes ago.
fresh_admin := object.union(admin, {"factor_verification_age": [3, 2]})

anonymous := {"authenticated": false}

resource := {"type": "post", "id": "p1", "org_id": "org_A", "org_slug": "acme", "owner_id": "user_1", "attributes": {}}

decide(principal, action, res) := d if {
	d := authz.decision with input as {"principal": principal, "action": action, "resource": res, "context": {}}
}

reason(principal, action, res) := decide(principal, action, res).reason

# ---------------------------------------------------------------------------
# Every shipped catalog action, allowed and denied.

catalog_cases := [
	["invitations:create", admin, true, "role"],
	["invitations:create", member, false, "missing_role"],
	["invitations:create", publisher, false, "missing_role"],
	["posts:publish", admin, true, "role"],
	["posts:publish", publisher, true, "permission"],
	["posts:publish", member, false, "missing_permission"],
	["tasks:list", member, true, "membership"],
	["tasks:list", admin, true, "membership"],
	["tasks:list", no_org, false, "no_active_org"],
	["tasks:read", member, true, "membership"],
	["tasks:read", anonymous, false, "unauthenticated"],
	["tasks:create", member, true, "membership"],
	["tasks:create", no_org, false, "no_active_org"],
	["billing:manage", admin, true, "role"],
	["billing:manage", member, false, "missing_role"],
	["admin:access", admin, true, "role"],
	["admin:access", member, false, "missing_role"],
	["reports:export", exporter, true, "permission"],
	["reports:export", object.union(exporter, {"features": ["u:reports"]}), true, "permission"],
	["reports:export", object.union(exporter, {"features": []}), false, "missing_feature"],
	["reports:export", object.union(exporter, {"org_permissions": []}), false, "missing_permission"],
	["reports:export", member, false, "missing_permission"],
	["reports:export", admin, false, "missing_permission"],
	["organization:delete", fresh_admin, true, "role"],
	["organization:delete", admin, false, "reverification_required"],
	["organization:delete", object.union(admin, {"factor_verification_age": [3, 10]}), false, "reverification_required"],
	["organization:delete", object.union(fresh_admin, {"org_role": "org:member"}), false, "missing_role"],
	["organization:delete", member, false, "missing_role"],
]

test_every_catalog_action if {
	failures := [[c, d] |
		some c in catalog_cases
		[action, principal, allow, code] := c
		d := decide(principal, action, resource)
		[d.allow, d.reason] != [allow, code]
	]
	print("failures:", failures)
	count(failures) == 0
}

test_every_catalog_action_is_covered if {
	covered := {c[0] | some c in catalog_cases}
	covered == object.keys(data.verdict.actions)
}

# ---------------------------------------------------------------------------
# The contract's messages.

test_missing_role_message if {
	decide(member, "billing:manage", resource) == {
		"allow": false, "reason": "missing_role",
		"message": "action billing:manage needs role org:admin; the session has role org:member",
	}
}

test_missing_permission_message if {
	decide(member, "posts:publish", resource).message == concat("", [
		"action posts:publish needs role org:admin or permission org:posts:publish; ",
		"the session has role org:member; the session token does not carry permission org:posts:publish",
	])
}

test_missing_feature_message if {
	d := decide(object.union(exporter, {"features": ["o:dashboard"]}), "reports:export", resource)
	d == {"allow": false, "reason": "missing_feature", "message": "action reports:export needs feature reports; the session has features o:dashboard"}
}

test_reverification_required_message if {
	d := decide(object.union(admin, {"factor_verification_age": [3, 45]}), "organization:delete", resource)
	d.reason == "reverification_required"
	d.message == concat("", [
		"action organization:delete needs reverification strict (a second-factor verification within the last 10 minutes); ",
		"the session's last first-factor verification was 3 minutes ago and its last second-factor verification was 45 minutes ago",
	])
}

test_tenant_mismatch_message if {
	d := decide(member, "tasks:read", object.union(resource, {"org_id": "org_B"}))
	d == {"allow": false, "reason": "tenant_mismatch", "message": "resource belongs to org_B but the active organization is org_A"}
}

test_messages_never_contain_claims_they_do_not_need if {
	d := decide(object.union(member, {"session_id": "sess_secret"}), "billing:manage", resource)
	not contains(d.message, "sess_secret")
}

# ---------------------------------------------------------------------------
# Permission keys.

test_system_permissions_by_role if {
	decide(admin, "org:sys_memberships:manage", resource).allow
	decide(admin, "org:sys_entconns:manage", resource).allow
	decide(member, "org:sys_memberships:read", resource).allow
	decide(member, "org:sys_billing:read", resource).allow
	reason(member, "org:sys_billing:manage", resource) == "missing_role"
	reason(member, "org:sys_domains:read", resource) == "missing_role"
}

test_forged_system_permission_is_missing_role if {
	forged := object.union(member, {"org_permissions": ["org:sys_memberships:manage"]})
	d := decide(forged, "org:sys_memberships:manage", object.union(resource, {"type": "membership"}))
	not d.allow
	d.reason == "missing_role"
	d.message == "org:sys_memberships:manage is a system permission and is decided by role; role org:member does not hold it"
}

test_custom_permission_keys if {
	p := object.union(member, {"org_permissions": ["org:reports:export"]})
	decide(p, "org:reports:export", resource) == {"allow": true, "reason": "permission", "message": "the session token carries permission org:reports:export"}
	reason(member, "org:reports:export", resource) == "missing_permission"
	reason(admin, "org:reports:export", resource) == "missing_permission"
}

# ---------------------------------------------------------------------------
# Each deny code, and precedence between them.

test_unauthenticated if {
	d := decide(anonymous, "tasks:read", resource)
	d == {"allow": false, "reason": "unauthenticated", "message": "action tasks:read needs a signed-in user; no session token was presented"}
	reason(anonymous, "org:reports:export", resource) == "unauthenticated"
	reason(anonymous, "org:sys_memberships:read", resource) == "unauthenticated"
}

test_anonymous_with_unknown_action_is_unauthenticated if {
	reason(anonymous, "rockets:launch", {}) == "unauthenticated"
}

test_unknown_action if {
	d := decide(member, "rockets:launch", resource)
	d.reason == "unknown_action"
	d.message == "action rockets:launch is neither a permission key (org:<feature>:<permission>) nor in the action catalog"
	reason(member, "org:posts", resource) == "unknown_action"
	reason(member, "org:posts:publish:now", resource) == "unknown_action"
	reason(member, "org::publish", resource) == "unknown_action"
	reason(member, "", resource) == "unknown_action"
	reason(member, "Tasks:Read", resource) == "unknown_action"
}

test_malformed_catalog_entry_is_unknown_action if {
	actions := {"tasks:read": {"require": []}}
	d := decide(member, "tasks:read", resource) with data.verdict.actions as actions
	d.reason == "unknown_action"
	d.message == "action tasks:read has a malformed catalog entry and is denied until the entry is fixed"
}

test_unknown_action_comes_before_tenancy if {
	reason(no_org, "rockets:launch", resource) == "unknown_action"
	reason(member, "rockets:launch", {}) == "unknown_action"
	reason(member, "rockets:launch", object.union(resource, {"org_id": "org_B"})) == "unknown_action"
}

test_no_active_org if {
	reason(no_org, "tasks:read", resource) == "no_active_org"
	reason(no_org, "org:reports:export", resource) == "no_active_org"
	reason(no_org, "org:sys_billing:read", resource) == "no_active_org"
	reason(object.union(member, {"org_id": ""}), "tasks:read", resource) == "no_active_org"
}

test_no_active_org_comes_before_tenant_missing if {
	reason(no_org, "billing:manage", {}) == "no_active_org"
}

test_tenant_missing if {
	reason(member, "tasks:read", {}) == "tenant_missing"
	reason(member, "tasks:read", {"org_id": ""}) == "tenant_missing"
	reason(admin, "org:sys_memberships:manage", {"type": "membership"}) == "tenant_missing"
}

test_tenant_missing_comes_before_requirements if {
	reason(member, "billing:manage", {}) == "tenant_missing"
}

test_tenant_mismatch if {
	reason(admin, "billing:manage", object.union(resource, {"org_id": "org_B"})) == "tenant_mismatch"
	reason(admin, "org:sys_memberships:manage", object.union(resource, {"org_id": "org_B"})) == "tenant_mismatch"
	reason(publisher, "org:posts:publish", object.union(resource, {"org_id": "org_B"})) == "tenant_mismatch"
}

test_slug_mismatch if {
	d := decide(admin, "tasks:list", object.union(resource, {"org_slug": "evil-corp"}))
	d.reason == "tenant_mismatch"
	d.message == "resource belongs to organization slug evil-corp but the active organization's slug is acme"
	reason(object.remove(admin, ["org_slug"]), "tasks:list", resource) == "tenant_mismatch"
	decide(object.remove(admin, ["org_slug"]), "tasks:list", object.remove(resource, ["org_slug"])).allow
}

test_tenant_mismatch_comes_before_requirements if {
	reason(member, "billing:manage", object.union(resource, {"org_slug": "evil-corp"})) == "tenant_mismatch"
}

test_missing_role_comes_before_missing_permission if {
	actions := {"reports:export": {"requires": [
		{"any_of": [{"permission": "org:reports:export"}]},
		{"any_of": [{"role": "org:admin"}]},
	]}}
	reason(member, "reports:export", resource) == "missing_role" with data.verdict.actions as actions
}

# The gate codes are produced by the default policies as soon as a catalog
# entry asks for them.
gates := {
	"posts:draft": {"requires": [{"any_of": [{"feature": "o:posts"}]}]},
	"reports:run": {"requires": [{"any_of": [{"plan": "o:pro"}]}]},
	"billing:refund": {"requires": [
		{"any_of": [{"role": "org:admin"}]},
		{"any_of": [{"reverification": "strict"}]},
	]},
	"members:remove": {"requires": [
		{"any_of": [{"role": "org:admin"}]},
		{"any_of": [{"not_impersonated": true}]},
	]},
}

test_missing_feature if {
	reason(member, "posts:draft", resource) == "missing_feature" with data.verdict.actions as gates
	d := decide(object.union(member, {"features": ["o:posts"]}), "posts:draft", resource) with data.verdict.actions as gates
	d.allow
	d.reason == "membership"
}

test_missing_plan if {
	reason(member, "reports:run", resource) == "missing_plan" with data.verdict.actions as gates
	decide(object.union(member, {"plans": ["o:pro"]}), "reports:run", resource).allow with data.verdict.actions as gates
}

test_reverification_required if {
	stale := object.union(admin, {"factor_verification_age": [3, 45]})
	reason(stale, "billing:refund", resource) == "reverification_required" with data.verdict.actions as gates
	reason(admin, "billing:refund", resource) == "reverification_required" with data.verdict.actions as gates
	fresh := object.union(admin, {"factor_verification_age": [3, 2]})
	decide(fresh, "billing:refund", resource).reason == "role" with data.verdict.actions as gates
	reason(object.union(fresh, {"org_role": "org:member"}), "billing:refund", resource) == "missing_role" with data.verdict.actions as gates
}

test_impersonation_denied if {
	impersonated := object.union(admin, {"actor": {"sub": "user_support"}})
	d := decide(impersonated, "members:remove", resource) with data.verdict.actions as gates
	d.reason == "impersonation_denied"
	d.message == "action members:remove needs a session that is not impersonated; user_support is impersonating the user"
	decide(admin, "members:remove", resource).allow with data.verdict.actions as gates
}

test_impersonation_is_allowed_unless_an_entry_forbids_it if {
	decide(object.union(admin, {"actor": {"sub": "user_support"}}), "billing:manage", resource).allow
}

# ---------------------------------------------------------------------------
# Exactly one decision for any input, never undefined.

test_decision_is_always_defined if {
	inputs := [
		{},
		{"principal": null},
		{"principal": {"authenticated": true}},
		{"principal": {"authenticated": true}, "action": 42},
		{"principal": member, "action": "tasks:read"},
		{"principal": member, "action": "tasks:read", "resource": null},
		{"principal": object.union(member, {"org_permissions": null}), "action": "org:a:b", "resource": resource},
		{"principal": object.union(member, {"org_role": 7}), "action": "admin:access", "resource": resource},
	]
	every i in inputs {
		d := authz.decision with input as i
		is_boolean(d.allow)
		d.reason != ""
		is_string(d.message)
		count(object.keys(d)) == 3

		# Decided by the chain, not by the fail-closed default.
		d.message != "no policy rule could decide this check, so it is denied"
	}
}

test_allows_always_carry_a_reason if {
	every c in catalog_cases {
		d := decide(c[1], c[0], resource)
		d.reason != ""
		d.message != ""
	}
}
