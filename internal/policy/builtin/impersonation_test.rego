package verdict.impersonation_guard_test

import data.verdict.authz
import data.verdict.impersonation_guard

admin := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:admin", "org_slug": "acme",
	"org_permissions": ["org:reports:export"], "features": ["o:reports"], "plans": [],
	"factor_verification_age": [1, 1], "token_version": 2,
}

impersonated := object.union(admin, {"actor": {"sub": "user_support", "iss": "https://clerk.example.com", "sid": "sess_support"}})

impersonated_member := object.union(impersonated, {"org_role": "org:member"})

resource := {"type": "organization", "org_id": "org_A", "org_slug": "acme"}

input_for(principal, action) := {"principal": principal, "action": action, "resource": resource, "context": {}}

decide(principal, action) := d if d := authz.decision with input as input_for(principal, action)

# The same decision with the guard switched on.
on(principal, action) := d if {
	d := authz.decision with input as input_for(principal, action)
		with data.verdict.impersonation.deny_destructive as true
}

# The guard's own rule, switched on.
denial(principal, action) := d if {
	d := impersonation_guard.denial with input as input_for(principal, action)
		with data.verdict.impersonation.deny_destructive as true
}

# ---------------------------------------------------------------------------
# When the guard speaks.

test_the_guard_is_off_as_shipped if {
	data.verdict.impersonation.deny_destructive == false
	not impersonation_guard.denial with input as input_for(impersonated, "organization:delete")
	decide(impersonated, "organization:delete").allow
	decide(impersonated, "billing:manage").allow
	decide(impersonated, "org:sys_memberships:manage").allow
}

test_only_a_literal_true_turns_it_on if {
	not impersonation_guard.denial with input as input_for(impersonated, "organization:delete")
		with data.verdict.impersonation.deny_destructive as "true"
	not impersonation_guard.denial with input as input_for(impersonated, "organization:delete")
		with data.verdict.impersonation.deny_destructive as 1
	not impersonation_guard.denial with input as input_for(impersonated, "organization:delete")
		with data.verdict.impersonation as {}
	denial(impersonated, "organization:delete")
}

test_without_an_actor_there_is_no_denial if {
	not denial(admin, "organization:delete")
	not denial(admin, "org:sys_memberships:manage")
	on(admin, "organization:delete").allow
	on(admin, "org:sys_memberships:manage").allow
}

test_any_actor_claim_counts_as_impersonation if {
	denial(object.union(admin, {"actor": {"sub": "user_support"}}), "billing:manage")
	denial(object.union(admin, {"actor": {"iss": "https://clerk.example.com"}}), "billing:manage")
}

test_a_destructive_catalog_action_is_denied if {
	denial(impersonated, "organization:delete") == {
		"allow": false, "reason": "impersonation_denied",
		"message": "action organization:delete is destructive, which is not allowed while user_support is impersonating the user",
	}
	denial(impersonated, "billing:manage").reason == "impersonation_denied"
}

test_managing_a_system_permission_is_denied if {
	every key in [
		"org:sys_profile:manage", "org:sys_profile:delete", "org:sys_memberships:manage",
		"org:sys_domains:manage", "org:sys_billing:manage", "org:sys_entconns:manage",
	] {
		denial(impersonated, key).reason == "impersonation_denied"
	}
	denial(impersonated, "org:sys_memberships:manage").message == "org:sys_memberships:manage manages a system permission, which is not allowed while user_support is impersonating the user"
}

test_an_impersonator_without_a_sub_is_another_user if {
	p := object.union(admin, {"actor": {"iss": "https://clerk.example.com"}})
	denial(p, "billing:manage").message == "action billing:manage is destructive, which is not allowed while another user is impersonating the user"
}

test_reading_and_everything_not_destructive_stays_allowed if {
	every action in [
		"org:sys_memberships:read", "org:sys_domains:read", "org:sys_billing:read",
		"org:reports:export", "reports:export", "tasks:create", "admin:access",
		"invitations:create", "posts:publish",
	] {
		not denial(impersonated, action)
	}
	on(impersonated, "org:sys_memberships:read") == {"allow": true, "reason": "role", "message": "role org:admin holds system permission org:sys_memberships:read"}
	on(impersonated, "org:reports:export").allow
	on(impersonated, "tasks:create").allow
}

test_forbidden_actions if {
	impersonation_guard.forbidden("org:sys_memberships:manage")
	impersonation_guard.forbidden("org:sys_reports:delete")
	impersonation_guard.forbidden("organization:delete")
	impersonation_guard.forbidden("billing:manage")
	not impersonation_guard.forbidden("org:sys_memberships:read")
	not impersonation_guard.forbidden("org:reports:delete")
	not impersonation_guard.forbidden("admin:access")
	not impersonation_guard.forbidden("rockets:launch")
}

test_a_team_can_mark_its_own_entry_destructive if {
	actions := {
		"posts:purge": {"destructive": true, "requires": [{"any_of": [{"role": "org:admin"}]}]},
		"posts:archive": {"destructive": false, "requires": [{"any_of": [{"role": "org:admin"}]}]},
	}
	on(impersonated, "posts:purge").reason == "impersonation_denied" with data.verdict.actions as actions
	on(impersonated, "posts:archive").allow with data.verdict.actions as actions
	decide(impersonated, "posts:purge").allow with data.verdict.actions as actions
}

# ---------------------------------------------------------------------------
# authz applies it last, and only to what would otherwise be allowed.

test_the_guard_turns_an_allow_into_impersonation_denied if {
	d := on(impersonated, "organization:delete")
	d == denial(impersonated, "organization:delete")
	on(impersonated, "billing:manage").reason == "impersonation_denied"
	on(impersonated, "org:sys_profile:delete").reason == "impersonation_denied"
}

test_the_actions_own_denial_wins_over_the_guard if {
	# The guard's rule holds, but the action's own outcome is a deny.
	denial(impersonated_member, "organization:delete")
	on(impersonated_member, "organization:delete").reason == "missing_role"
	on(impersonated_member, "org:sys_memberships:manage").reason == "missing_role"
	on(object.remove(impersonated, ["factor_verification_age"]), "organization:delete").reason == "reverification_required"
	on(impersonated, "org:sys_reports:manage").reason == "missing_role"
}

test_every_earlier_stage_wins_over_the_guard if {
	on(object.remove(impersonated, ["org_id", "org_role", "org_slug"]), "organization:delete").reason == "no_active_org"
	d := authz.decision with input as {"principal": impersonated, "action": "organization:delete", "resource": {"org_id": "org_B"}, "context": {}}
		with data.verdict.impersonation.deny_destructive as true
	d.reason == "tenant_mismatch"
	missing := authz.decision with input as {"principal": impersonated, "action": "billing:manage", "resource": {}, "context": {}}
		with data.verdict.impersonation.deny_destructive as true
	missing.reason == "tenant_missing"
	on(impersonated, "rockets:launch").reason == "unknown_action"
}

test_an_empty_actor_is_not_an_impersonation if {
	d := on(object.union(admin, {"actor": {}}), "billing:manage")
	d.allow
	d.reason == "role"
}
