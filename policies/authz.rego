# The decision the Go service asks for: data.verdict.authz.decision.
#
# One complete rule, an else chain in the contract's precedence order, so
# exactly one object comes out for any input and the first failing stage
# wins: unauthenticated, unknown_action, the tenancy codes, then the
# requirement codes of the action, and last the opt-in impersonation rule. Token failures (expired, invalid,
# pending) are decided by the service before the policies run.
package verdict.authz

import data.verdict.catalog
import data.verdict.impersonation_guard
import data.verdict.permissions
import data.verdict.session
import data.verdict.tenancy

# Fail closed. Every input is decided by the chain below; this default only
# guards against a future edit that leaves a gap, and it denies rather than
# letting the query come back undefined.
default decision := {
	"allow": false,
	"reason": "unknown_action",
	"message": "no policy rule could decide this check, so it is denied",
}

decision := _deny("unauthenticated", msg) if {
	not session.authenticated
	msg := sprintf("action %s needs a signed-in user; no session token was presented", [action])
} else := _deny("unknown_action", msg) if {
	not known_action
	msg := _unknown_message
} else := violation if {
	# Every action Verdict knows is organization-scoped: permission keys by
	# Clerk's definition, catalog entries by the contract.
	violation := tenancy.violation
} else := impersonation_guard.outcome(action, permissions.outcome(action)) if {
	permissions.is_key(action)
} else := impersonation_guard.outcome(action, catalog.outcome(action))

# The action as a string; the service always sends one, but a message must
# never become undefined and silently skip a stage of the chain.
action := input.action if is_string(input.action)

else := ""

known_action if permissions.is_key(action)

known_action if catalog.known(action)

# A malformed catalog entry denies like a missing one, but says so: the
# operator has a typo to fix, not an action to add.
_unknown_message := sprintf("action %s has a malformed catalog entry and is denied until the entry is fixed", [action]) if {
	data.verdict.actions[action]
} else := sprintf("action %s is neither a permission key (org:<feature>:<permission>) nor in the action catalog", [action])

_deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}
