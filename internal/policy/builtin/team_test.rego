package verdict.team_test

import data.verdict.authz
import data.verdict.catalog
import data.verdict.requirements

# Team packages are mocked as data: data.verdict.rules.<name> with deny,
# grant and actions, exactly what a package verdict.rules.<name> defines.

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": [], "plans": [], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin"})

no_org := object.remove(member, ["org_id", "org_role", "org_slug"])

resource := {"org_id": "org_A", "owner_id": "user_1"}

decide(principal, action, res, rules) := d if {
	d := authz.decision with input as {"principal": principal, "action": action, "resource": res, "context": {}}
		with data.verdict.rules as rules
}

locked := {"locked": {"deny": [{"reason": "locked", "message": "the task is locked"}]}}

# ---------------------------------------------------------------------------
# deny

test_a_team_deny_denies_with_its_reason_and_message if {
	decide(member, "tasks:read", resource, locked) == {"allow": false, "reason": "locked", "message": "the task is locked"}
	decide(admin, "org:sys_billing:manage", resource, locked).reason == "locked"
}

test_no_team_rules_change_nothing if {
	decide(member, "tasks:read", resource, {}).allow == true
	decide(member, "tasks:read", resource, {"empty": {"deny": []}}).allow == true
}

test_a_team_deny_comes_after_the_token_and_tenancy_checks if {
	decide({"authenticated": false}, "tasks:read", resource, locked).reason == "unauthenticated"
	decide(member, "rockets:launch", resource, locked).reason == "unknown_action"
	decide(no_org, "tasks:read", resource, locked).reason == "no_active_org"
	decide(member, "tasks:read", {}, locked).reason == "tenant_missing"
	decide(member, "tasks:read", {"org_id": "org_B"}, locked).reason == "tenant_mismatch"
}

test_a_team_deny_comes_before_the_actions_own_requirements if {
	decide(member, "billing:manage", resource, locked).reason == "locked"
	decide(member, "org:reports:export", resource, locked).reason == "locked"
}

test_several_denies_choose_deterministically if {
	rules := {
		"b": {"deny": [{"reason": "alpha", "message": "from b"}]},
		"a": {"deny": [{"reason": "zulu", "message": "from a"}, {"reason": "yankee", "message": "also from a"}]},
	}
	decide(member, "tasks:read", resource, rules) == {"allow": false, "reason": "yankee", "message": "also from a"}
}

test_a_misshapen_deny_still_denies if {
	decide(member, "tasks:read", resource, {"x": {"deny": [{"message": "no reason"}]}}).reason == "invalid_rule"
	decide(member, "tasks:read", resource, {"x": {"deny": [{"reason": ""}]}}).reason == "invalid_rule"
	decide(member, "tasks:read", resource, {"x": {"deny": [true]}}).reason == "invalid_rule"
}

test_a_deny_or_grant_that_is_not_a_collection_is_refused_at_load if {
	problems({"x": {"deny": true}}) == {"package verdict.rules.x: deny must be a set of {\"reason\", \"message\"} objects, not boolean"}
	problems({"x": {"deny": {"reason": "r"}}}) == {"package verdict.rules.x: deny must be a set of {\"reason\", \"message\"} objects, not object"}
	problems({"x": {"grant": "owner"}}) == {"package verdict.rules.x: grant must be a set of {\"reason\", \"message\"} objects, not string"}
	problems({"x": {"deny": [], "grant": []}}) == set()
}

test_a_deny_without_a_message_gets_one_naming_the_package if {
	decide(member, "tasks:read", resource, {"x": {"deny": [{"reason": "r"}]}}).message == "denied by team rule verdict.rules.x"
}

# ---------------------------------------------------------------------------
# grant

# A team package with its own actions and an owner grant, which applies to
# those actions only.
docs := {
	"docs:edit": {"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:docs:edit"}], "deny": "missing_permission"}]},
	"docs:admin": {"requires": [{"any_of": [{"role": "org:admin"}], "deny": "missing_role"}], "destructive": true},
	"docs:export": {"requires": [
		{"any_of": [{"feature": "docs"}], "deny": "missing_feature"},
		{"any_of": [{"role": "org:admin"}], "deny": "missing_role"},
	]},
	"docs:purge": {"requires": [
		{"any_of": [{"role": "org:admin"}], "deny": "missing_role"},
		{"any_of": [{"reverification": "strict"}], "deny": "reverification_required"},
	]},
	"docs:members": {"requires": [{"any_of": [{"permission": "org:sys_memberships:manage"}], "deny": "missing_role"}]},
}

owner_grant := {"owner": {"actions": docs, "grant": [{"reason": "owner", "message": "owners may"}]}}

test_a_grant_stands_in_for_a_missing_role if {
	decide(member, "docs:admin", resource, owner_grant) == {"allow": true, "reason": "owner", "message": "owners may"}
}

test_a_grant_stands_in_for_a_missing_custom_permission_term if {
	decide(member, "docs:edit", resource, owner_grant).reason == "owner"
}

test_a_grant_applies_only_to_its_own_packages_actions if {
	# Shipped actions, and another team's, are never granted around.
	decide(member, "admin:access", resource, owner_grant).reason == "missing_role"
	decide(member, "invitations:create", resource, owner_grant).reason == "missing_role"
	decide(member, "posts:publish", resource, owner_grant).reason == "missing_permission"
	other := object.union(owner_grant, {"other": {"actions": {"x:y": docs["docs:admin"]}}})
	decide(member, "x:y", resource, other).reason == "missing_role"
}

test_a_grant_never_grants_a_system_permission if {
	decide(member, "org:sys_memberships:manage", resource, owner_grant).reason == "missing_role"
	decide(member, "docs:members", resource, owner_grant).reason == "missing_role"
}

test_a_grant_never_grants_a_custom_permission_key if {
	decide(member, "org:invoices:approve", resource, owner_grant).reason == "missing_permission"
}

test_a_grant_never_crosses_tenants if {
	decide(member, "docs:admin", {"org_id": "org_B"}, owner_grant).reason == "tenant_mismatch"
	decide(member, "docs:admin", {}, owner_grant).reason == "tenant_missing"
	decide(no_org, "docs:admin", resource, owner_grant).reason == "no_active_org"
}

test_a_grant_never_passes_a_gate if {
	decide(member, "docs:export", resource, owner_grant).reason == "missing_role"
	decide(admin, "docs:export", resource, owner_grant).reason == "missing_feature"
	decide(admin, "docs:purge", resource, owner_grant).reason == "reverification_required"
	decide(member, "docs:purge", resource, owner_grant).reason == "missing_role"
}

test_a_deny_wins_over_a_grant if {
	decide(member, "docs:admin", resource, object.union(owner_grant, locked)).reason == "locked"
}

test_a_grant_is_not_needed_where_the_requirements_hold if {
	decide(admin, "docs:admin", resource, owner_grant).reason == "role"
	decide(member, "tasks:read", resource, owner_grant).reason == "membership"
}

test_a_misshapen_grant_grants_nothing if {
	decide(member, "docs:admin", resource, {"x": {"actions": docs, "grant": [{"message": "no reason"}]}}).reason == "missing_role"
	decide(member, "docs:admin", resource, {"x": {"actions": docs, "grant": [true]}}).reason == "missing_role"
	decide(member, "docs:admin", resource, {"x": {"actions": docs, "grant": [{"reason": ""}]}}).reason == "missing_role"
}

test_the_impersonation_guard_applies_after_a_grant if {
	impersonated := object.union(member, {"actor": {"sub": "user_support"}})
	d := decide(impersonated, "docs:admin", resource, owner_grant) with data.verdict.impersonation.deny_destructive as true
	d.reason == "impersonation_denied"
}

# ---------------------------------------------------------------------------
# actions

approve := {"invoices": {"actions": {"invoices:approve": {
	"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:invoices:approve"}], "deny": "missing_permission"}],
	"destructive": true,
}}}}

test_a_team_action_is_in_the_catalog if {
	decide(admin, "invoices:approve", resource, approve).reason == "role"
	decide(object.union(member, {"org_permissions": ["org:invoices:approve"]}), "invoices:approve", resource, approve).reason == "permission"
	decide(member, "invoices:approve", resource, approve).reason == "missing_permission"
	decide(member, "invoices:approve", resource, {}).reason == "unknown_action"
}

test_a_team_action_is_organization_scoped if {
	decide(admin, "invoices:approve", {"org_id": "org_B"}, approve).reason == "tenant_mismatch"
}

test_a_team_action_can_be_destructive if {
	catalog.destructive("invoices:approve") with data.verdict.rules as approve
}

profile := {"me": {"actions": {"profile:update": {"scope": "user", "requires": []}}}}

test_a_user_scoped_action_needs_no_organization if {
	d := decide(no_org, "profile:update", {}, profile)
	d.allow == true
	d.message == "any signed-in user may perform action profile:update"
	decide(member, "profile:update", {"owner_id": "user_1"}, profile).allow == true
	decide(member, "profile:update", {"org_id": "org_A"}, profile).allow == true
}

test_a_user_scoped_action_on_another_organizations_resource_is_tenant_mismatch if {
	decide(member, "profile:update", {"org_id": "org_B"}, profile).reason == "tenant_mismatch"
	decide(no_org, "profile:update", {"org_id": "org_B"}, profile).reason == "tenant_mismatch"
	decide(member, "profile:update", {"org_slug": "acme"}, profile).reason == "tenant_mismatch"
}

test_user_scoped_actions_still_need_a_signed_in_user if {
	decide({"authenticated": false}, "profile:update", {}, profile).reason == "unauthenticated"
}

# ---------------------------------------------------------------------------
# load-time checks of team actions

problems(rules) := p if p := catalog.problems with data.verdict.rules as rules

test_well_formed_team_actions_have_no_problems if {
	problems(approve) == set()
	problems(profile) == set()
}

test_a_team_action_that_clashes_with_a_shipped_one_is_a_problem if {
	problems({"t": {"actions": {"tasks:read": {"requires": []}}}}) == {"catalog entry tasks:read: defined in data.verdict.actions and in package verdict.rules.t; an action has one definition"}
}

test_two_teams_defining_one_action_is_a_problem if {
	problems({"a": approve.invoices, "b": approve.invoices}) == {"catalog entry invoices:approve: defined in package verdict.rules.a and in package verdict.rules.b; an action has one definition"}
}

test_team_actions_must_be_an_object if {
	problems({"t": {"actions": ["invoices:approve"]}}) == {"package verdict.rules.t: actions must be an object of catalog entries, not array"}
}

test_team_entries_are_checked_like_shipped_ones if {
	problems({"t": {"actions": {"a:b": {"requires": [{"any_of": [{"role": "org:admn"}]}]}}}}) == {"catalog entry a:b: requirement 0: term 0: role org:admn is not defined in data.verdict.roles (org:admin, org:member)"}
	problems({"t": {"actions": {"a:b": {"scope": "team", "requires": []}}}}) == {"catalog entry a:b: \"scope\" must be \"organization\" or \"user\", not team"}
}

test_a_role_is_defined_as_has_compares_roles if {
	problems({"t": {"actions": {"a:b": {"requires": [{"any_of": [{"role": "admin"}]}]}}}}) == set()
}

test_a_permission_key_is_never_user_scoped if {
	# Refused at load (a name shaped like a permission key); should such an
	# entry ever reach a decision, tenancy still applies.
	keyed := {"x": {"actions": {"org:sys_memberships:manage": {"scope": "user", "requires": []}}}}
	decide(admin, "org:sys_memberships:manage", {}, keyed).reason == "tenant_missing"
	decide(no_org, "org:sys_memberships:manage", {}, keyed).reason == "no_active_org"
}

test_a_term_with_two_keys_is_not_grantable if {
	# Refused at load too: a term has exactly one key.
	not requirements.grantable({"any_of": [{"permission": "org:sys_billing:manage", "role": "org:nobody"}], "deny": "missing_role"})
	requirements.grantable({"any_of": [{"role": "org:admin"}], "deny": "missing_role"})
}
