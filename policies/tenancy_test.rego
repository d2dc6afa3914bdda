package verdict.tenancy_test

import data.verdict.tenancy

principal := {"authenticated": true, "org_id": "org_A", "org_slug": "acme", "org_role": "org:member"}

violation(p, resource) := v if {
	v := tenancy.violation with input as {"principal": p, "action": "tasks:read", "resource": resource}
}

test_matching_resource_passes if {
	not violation(principal, {"org_id": "org_A"})
	not violation(principal, {"org_id": "org_A", "org_slug": "acme"})
	not violation(principal, {"org_id": "org_A", "org_slug": ""})
}

test_no_active_org if {
	v := violation(object.remove(principal, ["org_id"]), {"org_id": "org_A"})
	v.reason == "no_active_org"
	v.message == "action tasks:read is organization-scoped but the session has no active organization"
	violation(object.union(principal, {"org_id": ""}), {"org_id": "org_A"}).reason == "no_active_org"
}

test_no_active_org_comes_before_tenant_missing if {
	violation(object.remove(principal, ["org_id"]), {}).reason == "no_active_org"
}

test_tenant_missing if {
	violation(principal, {}).reason == "tenant_missing"
	violation(principal, {"org_id": ""}).reason == "tenant_missing"
	violation(principal, {"org_id": null}).reason == "tenant_missing"
	violation(principal, {"org_slug": "acme"}).reason == "tenant_missing"
	tenancy.violation.reason == "tenant_missing" with input as {"principal": principal, "action": "tasks:read"}
}

test_tenant_mismatch_on_org_id if {
	v := violation(principal, {"org_id": "org_B", "org_slug": "acme"})
	v.reason == "tenant_mismatch"
	v.message == "resource belongs to org_B but the active organization is org_A"
}

test_tenant_mismatch_on_slug if {
	v := violation(principal, {"org_id": "org_A", "org_slug": "evil-corp"})
	v.reason == "tenant_mismatch"
	v.message == "resource belongs to organization slug evil-corp but the active organization's slug is acme"
}

test_given_slug_without_session_slug_fails_closed if {
	v := violation(object.remove(principal, ["org_slug"]), {"org_id": "org_A", "org_slug": "acme"})
	v.reason == "tenant_mismatch"
	v.message == "resource names organization slug acme but the session carries no organization slug to compare it with"
}

test_no_slug_on_either_side_passes if {
	not violation(object.remove(principal, ["org_slug"]), {"org_id": "org_A"})
}
