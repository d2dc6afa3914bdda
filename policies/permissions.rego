# Clerk permission keys: org:<feature>:<permission>.
#
# Two kinds, decided differently:
#   - system permissions (org:sys_*) belong to roles (data.verdict.roles).
#     Clerk never puts them in a session token, so a token that lists one is
#     forged or legacy and is ignored: only the role decides, and a deny is
#     always missing_role.
#   - custom permissions (anything else) ride in the token; the token decides
#     and a deny is missing_permission.
# No role grants a custom permission here: Clerk has already resolved the
# role's custom permissions into the token, and granting them again from data
# would let the two drift apart.
package verdict.permissions

import data.verdict.session

# Exactly three non-empty colon-separated parts, the first "org". Anything
# else ("org:posts", "posts:publish") is not a permission key and must be
# found in the catalog instead.
is_key(action) if {
	is_string(action)
	parts := split(action, ":")
	count(parts) == 3
	parts[0] == "org"
	parts[1] != ""
	parts[2] != ""
}

is_system(key) if {
	is_key(key)
	startswith(key, "org:sys_")
}

is_custom(key) if {
	is_key(key)
	not startswith(key, "org:sys_")
}

# The single place that answers "does the session hold this permission?".
# The catalog asks it too, so a catalog term naming a system permission is
# still decided by role and never by the token.
held(key) if {
	is_system(key)
	key in data.verdict.roles[session.org_role].system_permissions
}

held(key) if {
	is_custom(key)
	session.permissions[key]
}

# The decision for a permission-key action once the tenancy checks passed.
outcome(key) := {"allow": true, "reason": "role", "message": grant(key)} if {
	is_system(key)
	held(key)
} else := {"allow": true, "reason": "permission", "message": grant(key)} if {
	held(key)
} else := {"allow": false, "reason": "missing_role", "message": denial(key)} if {
	is_system(key)
} else := {"allow": false, "reason": "missing_permission", "message": denial(key)}

# Messages.
grant(key) := sprintf("role %s holds system permission %s", [session.org_role, key]) if is_system(key)

grant(key) := sprintf("the session token carries permission %s", [key]) if is_custom(key)

denial(key) := sprintf("the session token does not carry permission %s", [key]) if is_custom(key)

denial(key) := msg if {
	is_system(key)
	not key in data.verdict.system_permissions
	msg := sprintf("%s is not a known system permission and no role holds it", [key])
} else := msg if {
	is_system(key)
	msg := sprintf("%s is a system permission and is decided by role; role %s does not hold it", [key, session.org_role])
} else := sprintf("%s is a system permission and is decided by role; the session has no role in the active organization", [key]) if {
	is_system(key)
}
