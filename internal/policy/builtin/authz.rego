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
# Every action needs a signed-in user, except one whose catalog entry
# accepts the subject a calling service vouches for ("authentication":
# "subject", AuthZEN's input.subject without a token): that choice is an
# entry's, decided in this file's authentication stage and nowhere else.
# The shipped catalog has no such entry.
#
# The decision is composed as stages in the contract's precedence order:
# authentication, a known action, tenancy, the teams' deny rules, the
# action's own requirements (where a team grant may stand in for a missing
# role or permission), and last the opt-in impersonation guard. A stage
# that does not pass denies with its own reason. An allow is not what is
# left over: each branch that may allow asks every stage to be defined and
# to pass, so a gap anywhere (an undefined stage, a half-written data file)
# leaves the decision undefined, which the service answers with a 500,
# never an allow. There is deliberately no default. The branches that may
# allow come first, and also return the action's own denials (they come
# after every other stage but the guard), so that the common cases ask
# each stage once; any other denial asks again, in order, which stage
# failed (complete rules are evaluated at most once per decision, so
# asking again costs a lookup).
#
# Written for speed: each stage is a lookup or a comparison on input and
# data, complete rules (evaluated at most once per decision) carry what
# several stages need, and messages are built only on the path that
# returns them. The common path asks two rules: stages_pass, which does
# not depend on the action, so that the allowed actions of one resource
# compute it once for all of them, and standing, which reads only the
# principal and the action, so that a session carries it from one
# decision to the next (reuse.go).
package verdict.authz

import data.verdict.catalog
import data.verdict.impersonation_guard
import data.verdict.permissions
import data.verdict.team
import data.verdict.tenancy

decision := standing if {
	# The only allow, and the action's own denials (missing_role,
	# missing_permission, ...), the most common ones: every stage before
	# the action's requirements defined and passing, and the outcome of
	# the requirements standing. Any other input falls to the denials
	# below, in order. A known action is implied: standing is defined only
	# for one. The stages are asked in their common case first
	# (stages_pass); the next branches cover the rest.
	stages_pass
} else := standing if {
	# The same stages when tenancy passes otherwise (a user-scoped action
	# on a resource that names no organization).
	input.principal.authenticated == true
	tenancy.passes
	not team.denies
} else := standing if {
	# The same stages for a subject vouched for instead of a session.
	subject_vouched
	tenancy.passes
	not team.denies
} else := {"allow": false, "reason": "unauthenticated", "message": msg} if {
	not input.principal.authenticated == true
	not subject_vouched
	msg := sprintf("action %s needs a signed-in user; no session token was presented", [input.action])
} else := {"allow": false, "reason": "unknown_action", "message": msg} if {
	not data.verdict.actions[input.action] # the shipped catalog: one lookup settles the common case
	not known
	msg := sprintf("action %s is neither a permission key (org:<feature>:<permission>) nor in the action catalog", [input.action])
} else := tenancy.denial if {
	not tenancy.passes
} else := team.denial if {
	team.denies
} else := impersonation_guard.denial

# The stages before the action's requirements pass, in their common case:
# a signed-in user, a resource of the active organization (tenancy.rego),
# and no team rule denying. Unless a team's deny rule reads the action,
# nothing here does, so that the allowed actions of a resource compute it
# once for all of them (reuse.go). Authentication is written out here
# rather than as a named rule: each named rule costs an evaluation of its
# own on every decision.
stages_pass if {
	input.principal.authenticated == true
	tenancy.in_active_org
	not team.denies
}

# No session, but an AuthZEN subject, and an action whose catalog entry
# accepts the subject the calling service vouches for.
subject_vouched if {
	not input.principal.authenticated == true
	is_string(input.subject.type)
	catalog.accepts_subject
}

# The outcome of the action's own requirements, when it stands: a denial
# always, an allow unless the impersonation guard stops it (the guard
# applies only to what would otherwise be allowed, so every other code
# comes first). It reads the principal and the action only, so that a
# session carries it from one decision to the next (reuse.go): one lookup
# where the outcome and the guard would be two.
standing := outcome if stands(outcome.allow)

stands(allow) if allow == false

stands(allow) if {
	allow == true
	not impersonation_guard.denial
}

# The action is one Verdict knows: a catalog entry (shipped or a team's),
# or a permission key. The catalog refuses names shaped like permission
# keys, so the two never overlap. The first definition is the common case
# in one lookup; the rest cover permission keys and team actions.
known if data.verdict.actions[input.action]

known if permissions.is_key(input.action)

known if catalog.entry

# The action is a permission key (org:<feature>:<permission>). (The rules
# here call permissions.is_key directly: a function's answer is cached as
# a rule's is, and a call costs less than a rule.)
permission_key if permissions.is_key(input.action)

# What the action's own requirements decide: a shipped catalog entry's (the
# common case, one lookup), a permission key's, or a team's entry's. Each
# branch names its kind of action, so an unknown action has no outcome.
outcome := catalog.outcome if {
	data.verdict.actions[input.action]
} else := permissions.outcome if {
	permissions.is_key(input.action)
} else := catalog.outcome if {
	catalog.entry
}
