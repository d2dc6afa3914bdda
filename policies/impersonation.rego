# What an impersonating actor may not do (opt-in).
#
# During impersonation (Clerk's act claim: someone, usually support staff,
# is signed in as the user) an operator may forbid the actions that cannot
# be undone. Off by default; switched on in data:
#
#   "impersonation": {"deny_destructive": true}
#
# When it is on and input.principal.actor is present, an action that would
# otherwise be allowed is denied with impersonation_denied when it
#   - manages system permissions: an org:sys_* permission key that is not a
#     :read one (org:sys_memberships:manage, org:sys_profile:delete), or
#   - is a catalog action marked "destructive": true.
# It runs last, after tenancy and every other requirement code, as the
# contract orders impersonation_denied.
#
# The package is not named "impersonation": data.verdict.impersonation is the
# switch, and a package must never share a path with data.
package verdict.impersonation_guard

import data.verdict.catalog
import data.verdict.permissions
import data.verdict.session

# The decision for action once its own rules decided it (decided).
outcome(action, decided) := {"allow": false, "reason": "impersonation_denied", "message": msg} if {
	decided.allow == true
	enabled
	session.impersonated
	forbidden(action)
	msg := _message(action)
} else := decided

# The switch: only a literal true turns the rule on.
enabled if data.verdict.impersonation.deny_destructive == true

# The actions the rule forbids during impersonation.
forbidden(action) if {
	permissions.is_system(action)
	not endswith(action, ":read")
}

forbidden(action) if {
	not permissions.is_key(action)
	catalog.destructive(action)
}

_message(action) := sprintf("%s manages a system permission, which is not allowed while %s is impersonating the user", [action, session.impersonator]) if {
	permissions.is_system(action)
} else := sprintf("action %s is destructive, which is not allowed while %s is impersonating the user", [action, session.impersonator])
