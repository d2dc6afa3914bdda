# Permission keys (org:<feature>:<permission>) as actions.
#
# System permissions (org:sys_*) are decided by the session's role only,
# from data.verdict.roles: Clerk never puts them in a session token, so one
# listed in a (forged or legacy) token is ignored. Custom permissions come
# from the token: the token must carry exactly the key.
package verdict.permissions

# A permission key: "org:" then two non-empty parts without colons. The
# prefix test first keeps catalog names away from the regular expression.
is_key(action) if {
	startswith(action, "org:")
	regex.match(`^org:[^:]+:[^:]+$`, action)
}

is_system(key) if {
	startswith(key, "org:sys_")
	is_key(key)
}

# The role holds a system permission.
role_holds(key) if key in data.verdict.roles[input.principal.org_role].system_permissions

# The outcome of the permission key input.action, once its tenancy checks
# passed.
outcome := {"allow": true, "reason": "role", "message": msg} if {
	startswith(input.action, "org:sys_")
	role_holds(input.action)
	msg := sprintf("role %s holds system permission %s", [input.principal.org_role, input.action])
} else := {"allow": false, "reason": "missing_role", "message": system_denial(input.action)} if {
	startswith(input.action, "org:sys_")
} else := {"allow": true, "reason": "permission", "message": msg} if {
	# Exactly the key, as the token carries it.
	input.action in input.principal.org_permissions
	msg := sprintf("the session token carries permission %s", [input.action])
} else := {"allow": false, "reason": "missing_permission", "message": msg} if {
	msg := sprintf("the session token does not carry permission %s", [input.action])
}

system_denial(key) := msg if {
	not key in data.verdict.system_permissions
	msg := sprintf("%s is not a known system permission and no role holds it", [key])
} else := msg if {
	msg := sprintf("%s is a system permission and is decided by role; role %s does not hold it", [key, input.principal.org_role])
} else := sprintf("%s is a system permission and is decided by role; the session has no role in the active organization", [key])
