package verdict.tenancy_test

import data.verdict.tenancy

# Inputs are built the way the service builds them: absent strings are left
# out (never ""), and the resource is always an object.
member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": [], "plans": [], "token_version": 2,
}

no_org := object.remove(member, ["org_id", "org_role", "org_slug"])

no_slug := object.remove(member, ["org_slug"])

# The stage's denial, when it does not pass (authz.rego reads it only then).
violation(principal, resource) := v if {
	i := {"principal": principal, "action": "tasks:read", "resource": resource, "context": {}}
	not tenancy.passes with input as i
	v := tenancy.denial with input as i
}

deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}

# ---------------------------------------------------------------------------
# Passing: the resource belongs to the active organization.

test_a_resource_of_the_active_organization_passes if {
	not violation(member, {"org_id": "org_A"})
	not violation(member, {"type": "post", "id": "p1", "org_id": "org_A", "owner_id": "user_2", "attributes": {}})
}

test_a_resource_slug_equal_to_the_sessions_passes if {
	not violation(member, {"org_id": "org_A", "org_slug": "acme"})
}

test_a_session_slug_alone_does_not_need_a_resource_slug if {
	not violation(member, {"org_id": "org_A"})
}

test_no_slug_on_either_side_passes if {
	not violation(no_slug, {"org_id": "org_A"})
}

# ---------------------------------------------------------------------------
# Each code, with its message.

test_a_session_without_an_active_organization_is_no_active_org if {
	violation(no_org, {"org_id": "org_A"}) == deny(
		"no_active_org",
		"action tasks:read is organization-scoped but the session has no active organization",
	)
}

test_a_resource_without_org_id_is_tenant_missing if {
	violation(member, {}) == deny(
		"tenant_missing",
		"action tasks:read is organization-scoped but the resource does not name its organization (resource.org_id)",
	)
	violation(member, {"type": "post", "id": "p1"}).reason == "tenant_missing"
}

test_a_resource_slug_without_org_id_is_still_tenant_missing if {
	violation(member, {"org_slug": "acme"}).reason == "tenant_missing"
	violation(member, {"org_slug": "evil-corp"}).reason == "tenant_missing"
}

test_a_resource_of_another_organization_is_tenant_mismatch if {
	violation(member, {"org_id": "org_B"}) == deny(
		"tenant_mismatch",
		"resource belongs to org_B but the active organization is org_A",
	)
}

test_a_matching_slug_does_not_excuse_another_org_id if {
	v := violation(member, {"org_id": "org_B", "org_slug": "acme"})
	v.reason == "tenant_mismatch"
	v.message == "resource belongs to org_B but the active organization is org_A"
}

test_the_org_id_mismatch_is_reported_before_a_slug_mismatch if {
	v := violation(member, {"org_id": "org_B", "org_slug": "evil-corp"})
	v.message == "resource belongs to org_B but the active organization is org_A"
}

test_a_resource_slug_that_differs_from_the_sessions_is_tenant_mismatch if {
	violation(member, {"org_id": "org_A", "org_slug": "evil-corp"}) == deny(
		"tenant_mismatch",
		"resource belongs to organization slug evil-corp but the active organization's slug is acme",
	)
}

test_slugs_compare_exactly if {
	violation(member, {"org_id": "org_A", "org_slug": "ACME"}).reason == "tenant_mismatch"
	violation(member, {"org_id": "org_A", "org_slug": "acme "}).reason == "tenant_mismatch"
}

test_a_resource_slug_without_a_session_slug_fails_closed if {
	violation(no_slug, {"org_id": "org_A", "org_slug": "acme"}) == deny(
		"tenant_mismatch",
		"resource names organization slug acme but the session carries no organization slug to compare it with",
	)
}

# ---------------------------------------------------------------------------
# Order between the codes.

test_no_active_org_comes_before_tenant_missing if {
	violation(no_org, {}).reason == "no_active_org"
}

test_no_active_org_comes_before_tenant_mismatch if {
	violation(no_org, {"org_id": "org_B", "org_slug": "evil-corp"}).reason == "no_active_org"
}

test_tenant_missing_comes_before_a_slug_mismatch if {
	violation(no_slug, {"org_slug": "acme"}).reason == "tenant_missing"
}

# ---------------------------------------------------------------------------
# Shape.

test_the_message_names_the_action if {
	v := tenancy.denial with input as {"principal": no_org, "action": "org:sys_billing:read", "resource": {}, "context": {}}
	v.message == "action org:sys_billing:read is organization-scoped but the session has no active organization"
}

test_every_violation_is_a_deny_with_a_reason_and_a_message if {
	cases := [
		[no_org, {}],
		[member, {}],
		[member, {"org_id": "org_B"}],
		[member, {"org_id": "org_A", "org_slug": "evil-corp"}],
		[no_slug, {"org_id": "org_A", "org_slug": "acme"}],
	]
	every c in cases {
		v := violation(c[0], c[1])
		object.keys(v) == {"allow", "reason", "message"}
		v.allow == false
		v.message != ""
	}
}
