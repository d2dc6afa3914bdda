package verdict.rules.invoices_test

import data.verdict.authz

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_acme", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": [], "plans": [], "token_version": 2,
}

invoice := {"type": "invoice", "id": "inv_1", "org_id": "org_acme"}

decide(principal, res) := d if {
	d := authz.decision with input as {"principal": principal, "action": "invoices:approve", "resource": res, "context": {}}
}

test_admins_approve if {
	d := decide(object.union(member, {"org_role": "org:admin"}), invoice)
	d.allow
	d.reason == "role"
}

test_the_permission_approves if {
	d := decide(object.union(member, {"org_permissions": ["org:invoices:approve"]}), invoice)
	d.allow
	d.reason == "permission"
}

test_members_without_it_do_not if {
	decide(member, invoice).reason == "missing_permission"
}

test_never_another_organizations_invoice if {
	admin := object.union(member, {"org_role": "org:admin"})
	decide(admin, object.union(invoice, {"org_id": "org_evil"})).reason == "tenant_mismatch"
}
