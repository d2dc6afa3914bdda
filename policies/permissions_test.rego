package verdict.permissions_test

import data.verdict.permissions

member := {"authenticated": true, "org_id": "org_A", "org_role": "org:member", "org_permissions": []}

admin := object.union(member, {"org_role": "org:admin"})

outcome(principal, key) := d if {
	d := permissions.outcome(key) with input as {"principal": principal}
}

test_permission_key_shape if {
	permissions.is_key("org:posts:publish")
	permissions.is_key("org:sys_memberships:manage")
	not permissions.is_key("org:posts")
	not permissions.is_key("org:posts:publish:now")
	not permissions.is_key("org::publish")
	not permissions.is_key("org:posts:")
	not permissions.is_key("posts:publish:x")
	not permissions.is_key("ORG:posts:publish")
	not permissions.is_key("tasks:read")
	not permissions.is_key(42)
}

test_system_versus_custom if {
	permissions.is_system("org:sys_billing:read")
	not permissions.is_custom("org:sys_billing:read")
	permissions.is_custom("org:reports:export")
	not permissions.is_system("org:reports:export")
	not permissions.is_system("org:sys_billing")
}

test_admin_holds_every_known_system_permission if {
	every key in data.verdict.system_permissions {
		d := outcome(admin, key)
		d.allow
		d.reason == "role"
	}
}

# What org:member gets for each system permission.
member_expects := {key: _member_expect(key) | some key in data.verdict.system_permissions}

_member_expect(key) := {"allow": true, "reason": "role"} if key in {"org:sys_memberships:read", "org:sys_billing:read"}

else := {"allow": false, "reason": "missing_role"}

test_member_holds_only_the_read_system_permissions if {
	every key, want in member_expects {
		d := outcome(member, key)
		d.allow == want.allow
		d.reason == want.reason
	}
}

test_forged_system_permission_in_token_is_ignored if {
	forged := object.union(member, {"org_permissions": ["org:sys_memberships:manage", "org:sys_billing:manage"]})
	d := outcome(forged, "org:sys_memberships:manage")
	not d.allow
	d.reason == "missing_role"
	d.message == "org:sys_memberships:manage is a system permission and is decided by role; role org:member does not hold it"
}

test_unknown_system_permission_is_missing_role_even_for_admin if {
	d := outcome(admin, "org:sys_reports:manage")
	not d.allow
	d.reason == "missing_role"
	d.message == "org:sys_reports:manage is not a known system permission and no role holds it"
}

test_system_permission_without_role if {
	d := outcome(object.remove(member, ["org_role"]), "org:sys_billing:read")
	d.reason == "missing_role"
	d.message == "org:sys_billing:read is a system permission and is decided by role; the session has no role in the active organization"
}

test_custom_role_from_data if {
	roles := object.union(data.verdict.roles, {"org:billing": {"system_permissions": ["org:sys_billing:manage"]}})
	d := outcome(object.union(member, {"org_role": "org:billing"}), "org:sys_billing:manage") with data.verdict.roles as roles
	d.allow
	d.reason == "role"
}

test_custom_permission_from_token if {
	d := outcome(object.union(member, {"org_permissions": ["org:reports:export"]}), "org:reports:export")
	d == {"allow": true, "reason": "permission", "message": "the session token carries permission org:reports:export"}
}

test_custom_permission_missing if {
	d := outcome(object.union(member, {"org_permissions": ["org:reports:read"]}), "org:reports:export")
	d == {"allow": false, "reason": "missing_permission", "message": "the session token does not carry permission org:reports:export"}
}

test_admin_role_does_not_imply_custom_permissions if {
	d := outcome(admin, "org:reports:export")
	not d.allow
	d.reason == "missing_permission"
}
