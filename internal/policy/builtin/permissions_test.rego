package verdict.permissions_test

import data.verdict.permissions

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": [], "plans": [], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin"})

# permissions.outcome is a complete rule over input: the action is the key.
outcome(principal, key) := o if {
	o := permissions.outcome with input as {"principal": principal, "action": key, "resource": {"org_id": "org_A"}, "context": {}}
}

# Clerk's nine system permissions, as the shipped data lists them.
nine := {
	"org:sys_profile:manage", "org:sys_profile:delete",
	"org:sys_memberships:read", "org:sys_memberships:manage",
	"org:sys_domains:read", "org:sys_domains:manage",
	"org:sys_billing:read", "org:sys_billing:manage",
	"org:sys_entconns:manage",
}

member_reads := {"org:sys_memberships:read", "org:sys_billing:read"}

# ---------------------------------------------------------------------------
# Key shapes.

test_a_permission_key_is_org_then_two_non_empty_parts if {
	permissions.is_key("org:posts:publish")
	permissions.is_key("org:sys_memberships:manage")
	permissions.is_key("org:reports:export")
}

test_other_shapes_are_not_permission_keys if {
	not permissions.is_key("org:posts")
	not permissions.is_key("org:posts:publish:now")
	not permissions.is_key("org::publish")
	not permissions.is_key("org:posts:")
	not permissions.is_key("org:")
	not permissions.is_key("posts:publish:x")
	not permissions.is_key("ORG:posts:publish")
	not permissions.is_key("Org:posts:publish")
	not permissions.is_key("tasks:read")
	not permissions.is_key(" org:posts:publish")
}

test_system_permission_keys_start_with_org_sys if {
	permissions.is_system("org:sys_billing:read")
	permissions.is_system("org:sys_reports:manage")
	not permissions.is_system("org:reports:export")
	not permissions.is_system("org:sys_billing")
	not permissions.is_system("org:sys_billing:read:x")
	not permissions.is_system("sys_billing:read")
}

# ---------------------------------------------------------------------------
# System permissions: decided by role only.

test_the_shipped_data_lists_the_nine_system_permissions if {
	{key | some key in data.verdict.system_permissions} == nine
	count(data.verdict.system_permissions) == 9
}

test_admin_holds_all_nine_system_permissions if {
	every key in nine {
		outcome(admin, key) == {
			"allow": true, "reason": "role",
			"message": sprintf("role org:admin holds system permission %s", [key]),
		}
	}
}

test_member_holds_only_the_two_read_system_permissions if {
	every key in member_reads {
		outcome(member, key) == {
			"allow": true, "reason": "role",
			"message": sprintf("role org:member holds system permission %s", [key]),
		}
	}
	every key in nine - member_reads {
		outcome(member, key) == {
			"allow": false, "reason": "missing_role",
			"message": sprintf("%s is a system permission and is decided by role; role org:member does not hold it", [key]),
		}
	}
}

test_role_holds_reads_the_roles_data if {
	permissions.role_holds("org:sys_billing:read") with input.principal as member
	not permissions.role_holds("org:sys_billing:manage") with input.principal as member
	permissions.role_holds("org:sys_billing:manage") with input.principal as admin
	not permissions.role_holds("org:sys_billing:read") with input.principal as object.remove(member, ["org_role"])
	not permissions.role_holds("org:sys_billing:read") with input.principal as object.union(member, {"org_role": "org:guest"})
}

test_a_forged_system_permission_in_the_token_is_ignored if {
	forged := object.union(member, {"org_permissions": ["org:sys_memberships:manage", "org:sys_billing:manage"]})
	outcome(forged, "org:sys_memberships:manage") == {
		"allow": false, "reason": "missing_role",
		"message": "org:sys_memberships:manage is a system permission and is decided by role; role org:member does not hold it",
	}
	outcome(forged, "org:sys_billing:manage").reason == "missing_role"
}

test_an_unknown_system_permission_is_missing_role_even_for_admin if {
	outcome(admin, "org:sys_reports:manage") == {
		"allow": false, "reason": "missing_role",
		"message": "org:sys_reports:manage is not a known system permission and no role holds it",
	}
	outcome(member, "org:sys_memberships:delete").message == "org:sys_memberships:delete is not a known system permission and no role holds it"
}

test_an_unknown_system_permission_in_the_token_is_ignored_too if {
	forged := object.union(admin, {"org_permissions": ["org:sys_reports:manage"]})
	outcome(forged, "org:sys_reports:manage").reason == "missing_role"
}

test_a_system_permission_without_a_role_is_missing_role if {
	outcome(object.remove(member, ["org_role"]), "org:sys_billing:read") == {
		"allow": false, "reason": "missing_role",
		"message": "org:sys_billing:read is a system permission and is decided by role; the session has no role in the active organization",
	}
}

test_a_role_that_is_not_in_the_data_holds_nothing if {
	d := outcome(object.union(member, {"org_role": "org:guest"}), "org:sys_memberships:read")
	d.reason == "missing_role"
	d.message == "org:sys_memberships:read is a system permission and is decided by role; role org:guest does not hold it"
}

test_a_custom_role_from_the_data_holds_what_it_lists if {
	roles := object.union(data.verdict.roles, {"org:billing": {"system_permissions": ["org:sys_billing:manage"]}})
	billing := object.union(member, {"org_role": "org:billing"})
	d := outcome(billing, "org:sys_billing:manage") with data.verdict.roles as roles
	d == {"allow": true, "reason": "role", "message": "role org:billing holds system permission org:sys_billing:manage"}
	outcome(billing, "org:sys_billing:read").reason == "missing_role" with data.verdict.roles as roles
}

# ---------------------------------------------------------------------------
# Custom permissions: decided by the token.

test_a_custom_permission_the_token_carries_allows if {
	p := object.union(member, {"org_permissions": ["org:reports:read", "org:reports:export"]})
	outcome(p, "org:reports:export") == {
		"allow": true, "reason": "permission",
		"message": "the session token carries permission org:reports:export",
	}
}

test_a_custom_permission_the_token_lacks_is_missing_permission if {
	p := object.union(member, {"org_permissions": ["org:reports:read"]})
	outcome(p, "org:reports:export") == {
		"allow": false, "reason": "missing_permission",
		"message": "the session token does not carry permission org:reports:export",
	}
	outcome(member, "org:reports:export").reason == "missing_permission"
}

test_custom_permissions_compare_exactly if {
	p := object.union(member, {"org_permissions": ["org:Reports:export", "org:reports:exports"]})
	outcome(p, "org:reports:export").reason == "missing_permission"
}

# Skipped (todo_): a custom key whose feature is named "org" goes through
# Clerk's prefixWithOrg, which collapses the leading "org:org:" into "org:",
# so the token's own org:org:export does not match while a token carrying
# org:export does. The contract says the token must carry the key itself.
# Rename to test_ once fixed.
test_a_custom_permission_key_is_matched_exactly_even_with_a_feature_named_org if {
	outcome(object.union(member, {"org_permissions": ["org:org:export"]}), "org:org:export").allow
	not outcome(object.union(member, {"org_permissions": ["org:export"]}), "org:org:export").allow
}

test_the_admin_role_does_not_imply_custom_permissions if {
	outcome(admin, "org:reports:export") == {
		"allow": false, "reason": "missing_permission",
		"message": "the session token does not carry permission org:reports:export",
	}
}

test_custom_permissions_never_come_from_the_roles_data if {
	roles := object.union(data.verdict.roles, {"org:member": {"system_permissions": ["org:reports:export"]}})
	outcome(member, "org:reports:export").reason == "missing_permission" with data.verdict.roles as roles
}

# ---------------------------------------------------------------------------
# Messages for a denial by role, as requirements.rego reuses them.

test_system_denial_messages if {
	permissions.system_denial("org:sys_x:y") == "org:sys_x:y is not a known system permission and no role holds it"
	msg := permissions.system_denial("org:sys_billing:manage") with input.principal as member
	msg == "org:sys_billing:manage is a system permission and is decided by role; role org:member does not hold it"
	none := permissions.system_denial("org:sys_billing:manage") with input.principal as object.remove(member, ["org_role"])
	none == "org:sys_billing:manage is a system permission and is decided by role; the session has no role in the active organization"
}
