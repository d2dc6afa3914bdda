# The decision the service asks for: data.verdict.authz.decision.
#
# One complete rule, an else chain in the contract's precedence order, so
# exactly one object comes out for any input and the first failing stage
# wins: unauthenticated, unknown_action, the tenancy codes, what the action
# requires, and last the impersonation guard. Token failures (expired,
# invalid, pending) are decided by the service before the policies run.
# There is deliberately no default: a gap in the chain leaves the decision
# undefined, which the service answers with a 500, never an allow.
#
# Written for speed: each stage is a lookup or a comparison on input and
# data, complete rules (evaluated at most once per decision) carry what
# several stages need, and messages are built only on the path that returns
# them.
package verdict.authz

import data.verdict.catalog
import data.verdict.impersonation_guard
import data.verdict.permissions
import data.verdict.tenancy

decision := _deny("unauthenticated", msg) if {
	not input.principal.authenticated
	msg := sprintf("action %s needs a signed-in user; no session token was presented", [input.action])
} else := _deny("unknown_action", msg) if {
	not data.verdict.actions[input.action]
	not permission_key
	msg := sprintf("action %s is neither a permission key (org:<feature>:<permission>) nor in the action catalog", [input.action])
} else := tenancy.violation if {
	# Every action Verdict knows is organization-scoped: permission keys by
	# Clerk's definition, catalog entries by the contract.
	not tenancy.scoped
} else := impersonation_guard.denial if {
	# The switch first: with the guard off, one data lookup.
	data.verdict.impersonation.deny_destructive == true
	outcome.allow
	impersonation_guard.denial
} else := outcome

# The action is a permission key (org:<feature>:<permission>) rather than a
# catalog name; the catalog refuses names of that shape.
permission_key if permissions.is_key(input.action)

# What the action's own requirements decide. Catalog names first: they are
# the common case and never permission keys.
outcome := catalog.outcome if data.verdict.actions[input.action]

else := permissions.outcome

_deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}
