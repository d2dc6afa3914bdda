package verdict.rules.tasks_test

import data.verdict.authz

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_acme", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": [], "plans": [], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin", "user_id": "user_admin"})

task := {"type": "task", "id": "t1", "org_id": "org_acme", "owner_id": "user_2"}

decide(principal, action, res) := d if {
	d := authz.decision with input as {"principal": principal, "action": action, "resource": res, "context": {}}
}

test_admins_delete_tasks if {
	decide(admin, "tasks:delete", task).reason == "role"
}

test_a_locked_task_is_never_deleted if {
	locked := object.union(task, {"attributes": {"locked": true}})
	d := decide(admin, "tasks:delete", locked)
	d == {"allow": false, "reason": "task_locked", "message": "the task is locked and cannot be deleted"}
}

test_an_unlocked_task_is_deleted if {
	decide(admin, "tasks:delete", object.union(task, {"attributes": {"locked": false}})).allow
}

test_the_owner_deletes_their_own_task if {
	d := decide(member, "tasks:delete", object.union(task, {"owner_id": "user_1"}))
	d.allow
	d.reason == "owner"
}

test_others_do_not if {
	decide(member, "tasks:delete", task).reason == "missing_permission"
}

test_the_owner_grant_never_crosses_organizations if {
	theirs := {"type": "task", "id": "t9", "org_id": "org_evil", "owner_id": "user_1"}
	decide(member, "tasks:delete", theirs).reason == "tenant_mismatch"
}

test_the_rules_leave_other_actions_alone if {
	decide(member, "tasks:read", object.union(task, {"attributes": {"locked": true}})).reason == "membership"
	decide(member, "org:sys_memberships:manage", object.union(task, {"owner_id": "user_1"})).reason == "missing_role"
}
