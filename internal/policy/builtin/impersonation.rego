# Impersonation guard (opt-in): while an actor (act) impersonates the user,
# deny managing system permissions and catalog actions marked destructive,
# with impersonation_denied. Off unless data.verdict.impersonation
# .deny_destructive is true. authz.rego applies it only to what would
# otherwise be allowed, so every other code comes first, as the contract's
# order wants.
package verdict.impersonation_guard

import data.verdict.catalog
import data.verdict.permissions
import data.verdict.requirements

# The denial, when the guard is on, someone impersonates the user and the
# action is forbidden during impersonation; the stage passes when it is
# undefined. Only a literal true turns the guard on. The session's actor
# is read first: OPA's rule index reads it as "the token has an actor",
# so that without one (nearly every request) the rule is not even entered
# and the data is not read.
denial := {"allow": false, "reason": "impersonation_denied", "message": msg} if {
	input.principal.actor
	data.verdict.impersonation.deny_destructive == true
	requirements.impersonated
	forbidden(input.action)
	msg := _message(input.action)
}

# Managing system permissions: any org:sys_* key but the :read ones.
forbidden(action) if {
	permissions.is_system(action)
	not endswith(action, ":read")
}

forbidden(action) if catalog.destructive(action)

_message(action) := sprintf("%s manages a system permission, which is not allowed while %s is impersonating the user", [action, _impersonator]) if {
	startswith(action, "org:sys_")
} else := sprintf("action %s is destructive, which is not allowed while %s is impersonating the user", [action, _impersonator])

_impersonator := object.get(input.principal.actor, "sub", "another user")
