# The decision the service asks for: data.verdict.authz.decision.
#
# This is Verdict's protected layer: it is compiled into every policy set
# from the binary, and no policy file may declare a package under verdict.
# other than verdict.rules.<name>, so the invariants below hold whatever a
# team adds to, removes from or half-writes in its policy directory:
#
#   - a signed-in user is needed (token failures never reach the policies);
#   - an organization-scoped action needs the active organization and a
#     resource that belongs to it (tenancy.rego);
#   - a system permission (org:sys_*) follows the role only (permissions.rego).
#
# The decision is composed as stages in the contract's precedence order:
# authentication, a known action, tenancy, the teams' deny rules, the
# action's own requirements (where a team grant may stand in for a missing
# role or permission), and last the opt-in impersonation guard. A stage
# that does not pass denies with its own reason. An allow is not what is
# left over: the last branch allows only when every stage is defined and
# passes, so a gap anywhere (an undefined stage, a half-written data file)
# leaves the decision undefined, which the service answers with a 500,
# never an allow. There is deliberately no default.
#
# Written for speed: each stage is a lookup or a comparison on input and
# data, complete rules (evaluated at most once per decision) carry what
# several stages need, and messages are built only on the path that
# returns them.
package verdict.authz

import data.verdict.catalog
import data.verdict.impersonation_guard
import data.verdict.permissions
import data.verdict.team
import data.verdict.tenancy

decision := _deny("unauthenticated", msg) if {
	not authenticated
	msg := sprintf("action %s needs a signed-in user; no session token was presented", [input.action])
} else := _deny("unknown_action", msg) if {
	not known
	msg := sprintf("action %s is neither a permission key (org:<feature>:<permission>) nor in the action catalog", [input.action])
} else := tenancy.denial if {
	not tenancy.passes
} else := team.denial if {
	not team.passes
} else := outcome if {
	not outcome.allow
} else := impersonation_guard.denial if {
	not impersonation_guard.passes
} else := outcome if {
	# The only allow: every stage defined and passing.
	authenticated
	known
	tenancy.passes
	team.passes
	outcome.allow == true
	impersonation_guard.passes
}

# The caller is a signed-in user. (Every action needs one today; a later
# kind of caller, a service vouching for its subject, will be a choice a
# catalog entry declares, decided here and nowhere else.)
authenticated if input.principal.authenticated == true

# The action is one Verdict knows: a permission key, or a catalog entry
# (shipped or a team's). The catalog refuses names shaped like permission
# keys, so the two never overlap.
known if permission_key

known if catalog.entry

# The action is a permission key (org:<feature>:<permission>).
permission_key if permissions.is_key(input.action)

# What the action's own requirements decide.
outcome := permissions.outcome if permission_key

else := catalog.outcome

_deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}
