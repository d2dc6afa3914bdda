# Acme's tasks: deleting a task is the team's own action; a locked task is
# never deleted, and the task's owner may delete it without the permission.
package verdict.rules.tasks

actions["tasks:delete"] := {
	"description": "Delete a task: admins, or anyone whose role carries org:tasks:delete (owners too, by the grant below).",
	"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:tasks:delete"}], "deny": "missing_permission"}],
}

# A locked task stays: this runs after the token and tenancy checks and
# before the action's own requirements, so not even an admin deletes it.
deny contains {"reason": "task_locked", "message": "the task is locked and cannot be deleted"} if {
	input.action == "tasks:delete"
	input.resource.attributes.locked == true
}

# The owner of a task may delete it. A grant stands in only for a missing
# role or custom permission: it never opens another organization's task and
# never grants a system permission.
grant contains {"reason": "owner", "message": "the owner of a task may delete it"} if {
	input.action == "tasks:delete"
	input.resource.owner_id == input.principal.user_id
}
