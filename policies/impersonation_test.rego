package verdict.impersonation_guard_test

import data.verdict.authz
import data.verdict.impersonation_guard

admin := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:admin", "org_slug": "acme",
	"org_permissions": ["org:reports:export"], "features": ["o:reports"],
	"factor_verification_age": [1, 1], "token_version": 2,
}

impersonated := object.union(admin, {"actor": {"sub": "user_support", "iss": "https://clerk.example.com", "sid": "sess_support"}})

member := object.union(impersonated, {"org_role": "org:member"})

resource := {"type": "organization", "org_id": "org_A", "org_slug": "acme"}

decide(principal, action) := d if {
	d := authz.decision with input as {"principal": principal, "action": action, "resource": resource, "context": {}}
}

# The same decision with the rule switched on.
on(principal, action) := d if {
	d := decide(principal, action) with data.verdict.impersonation.deny_destructive as true
}

test_off_by_default if {
	data.verdict.impersonation.deny_destructive == false
	not impersonation_guard.enabled
	decide(impersonated, "organization:delete").allow
	decide(impersonated, "billing:manage").allow
	decide(impersonated, "org:sys_memberships:manage").allow
}

test_only_a_literal_true_turns_it_on if {
	not impersonation_guard.enabled with data.verdict.impersonation.deny_destructive as "true"
	not impersonation_guard.enabled with data.verdict.impersonation as {}
	impersonation_guard.enabled with data.verdict.impersonation.deny_destructive as true
}

test_destructive_catalog_actions_are_denied if {
	d := on(impersonated, "organization:delete")
	d == {
		"allow": false, "reason": "impersonation_denied",
		"message": "action organization:delete is destructive, which is not allowed while user_support is impersonating the user",
	}
	on(impersonated, "billing:manage").reason == "impersonation_denied"
}

test_managing_system_permissions_is_denied if {
	every key in ["org:sys_memberships:manage", "org:sys_profile:delete", "org:sys_domains:manage", "org:sys_billing:manage"] {
		on(impersonated, key).reason == "impersonation_denied"
	}
	on(impersonated, "org:sys_memberships:manage").message == "org:sys_memberships:manage manages a system permission, which is not allowed while user_support is impersonating the user"
}

test_reading_and_other_actions_stay_allowed if {
	on(impersonated, "org:sys_memberships:read") == {"allow": true, "reason": "role", "message": "role org:admin holds system permission org:sys_memberships:read"}
	on(impersonated, "org:sys_billing:read").allow
	on(impersonated, "org:reports:export").allow
	on(impersonated, "reports:export").allow
	on(impersonated, "tasks:create").allow
	on(impersonated, "admin:access").allow
}

test_no_actor_no_rule if {
	on(admin, "organization:delete").allow
	on(admin, "org:sys_memberships:manage").allow
	on(object.union(admin, {"actor": {}}), "organization:delete").allow
}

test_it_comes_last if {
	# Every other code wins over it.
	on(member, "organization:delete").reason == "missing_role"
	on(member, "org:sys_memberships:manage").reason == "missing_role"
	on(object.remove(impersonated, ["factor_verification_age"]), "organization:delete").reason == "reverification_required"
	on(object.remove(impersonated, ["org_id"]), "organization:delete").reason == "no_active_org"
	d := authz.decision with input as {"principal": impersonated, "action": "organization:delete", "resource": {"org_id": "org_B"}}
		with data.verdict.impersonation.deny_destructive as true
	d.reason == "tenant_mismatch"
	on(impersonated, "rockets:launch").reason == "unknown_action"
}

test_outcome_keeps_denials if {
	denied := {"allow": false, "reason": "missing_role", "message": "m"}
	impersonation_guard.outcome("organization:delete", denied) == denied with input.principal as impersonated
		with data.verdict.impersonation.deny_destructive as true
}

test_custom_destructive_entry if {
	actions := {"posts:purge": {"destructive": true, "requires": [{"any_of": [{"role": "org:admin"}]}]}}
	d := on(impersonated, "posts:purge") with data.verdict.actions as actions
	d.reason == "impersonation_denied"
	decide(impersonated, "posts:purge").allow with data.verdict.actions as actions
}
