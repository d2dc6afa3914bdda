# Requirements: the building blocks of catalog entries.
#
# A requirement is {"any_of": [term, ...], "deny": "<code>"}: it is met when
# at least one of its terms holds, and every requirement of an entry must be
# met (an AND of ORs). A term has exactly one key, shaped like one field of
# Clerk's has():
#
#   {"role": "org:admin"}                the session's role
#   {"permission": "org:posts:publish"}  a permission key (system ones are
#                                        decided by role, as in permissions.rego)
#   {"feature": "o:posts"}               an fea entry
#   {"plan": "o:pro"}                    a pla entry
#   {"reverification": "strict"}         a recent enough verification (fva)
#   {"not_impersonated": true}           nobody is impersonating the user
#
# Role, feature, plan, reverification and custom permission terms are decided
# by the built-in Clerk library (data.verdict.clerk.passes), the very rules
# POST /v1/has answers with: one implementation of has(), not two.
package verdict.requirements

import data.verdict.clerk
import data.verdict.permissions

# The requirement deny codes in the contract's precedence order: when several
# requirements of an entry fail, the lowest rank wins.
rank := {
	"missing_role": 0,
	"missing_permission": 1,
	"missing_feature": 2,
	"missing_plan": 3,
	"reverification_required": 4,
	"impersonation_denied": 5,
}

# ---------------------------------------------------------------------------
# Evaluation. Each definition of _holds starts with `kind == "<kind>"`,
# which OPA's rule index uses to pick the definitions that apply (a
# constant in the head, _holds("role", role), is not indexed).

met(req) if {
	some term in req.any_of
	satisfied(term)
}

satisfied(term) if {
	some kind, value in term
	_holds(kind, value)
}

_holds(kind, role) if {
	kind == "role"
	clerk.passes("role", role, input.principal)
}

_holds(kind, key) if {
	kind == "permission"
	startswith(key, "org:sys_")
	permissions.role_holds(key)
}

# A custom permission key holds when the token carries exactly that key
# (/v1/check decides permission keys exactly; has() would also collapse a
# leading "org:org:").
_holds(kind, key) if {
	kind == "permission"
	key in input.principal.org_permissions
	not startswith(key, "org:sys_")
}

_holds(kind, feature) if {
	kind == "feature"
	clerk.passes("feature", feature, input.principal)
}

_holds(kind, plan) if {
	kind == "plan"
	clerk.passes("plan", plan, input.principal)
}

_holds(kind, window) if {
	kind == "reverification"
	clerk.passes("reverification", clerk_window(window), input.principal)
}

_holds(kind, value) if {
	kind == "not_impersonated"
	value == true
	not impersonated
}

# Someone impersonates the user: the token carries a non-empty act claim.
impersonated if count(input.principal.actor) > 0

# A reverification term as Clerk's has() takes it: a preset, or
# {"level", "afterMinutes"}; the catalog may also spell it after_minutes.
clerk_window(window) := {"level": window.level, "afterMinutes": window.after_minutes} if {
	is_object(window)
	not window.afterMinutes
} else := window

# A failed requirement a team grant may stand in for: it denies for a
# missing role or custom permission, and every term is a role or a custom
# permission. A system permission term (only the role decides it) and the
# gates (features, plans, reverification, impersonation) are never granted
# around.
grantable(req) if {
	deny_code(req) in {"missing_role", "missing_permission"}
	every term in req.any_of {
		_grantable_term(term)
	}
}

_grantable_term(term) if {
	count(term) == 1
	is_string(term.role)
}

_grantable_term(term) if {
	count(term) == 1
	is_string(term.permission)
	not startswith(term.permission, "org:sys_")
}

# ---------------------------------------------------------------------------
# Codes and reasons.

# The code a failed requirement denies with: the one it names, else the one
# its terms imply, taken in the order of _implied_order.
deny_code(req) := req.deny if req.deny

else := min({[_implied_order[code], code] |
	some term in req.any_of
	some kind, value in term
	code := _implied(kind, value)
})[1]

_implied_order := {
	"missing_permission": 0,
	"missing_role": 1,
	"missing_feature": 2,
	"missing_plan": 3,
	"reverification_required": 4,
	"impersonation_denied": 5,
}

_implied(kind, _) := "missing_role" if kind == "role"

_implied(kind, key) := "missing_role" if {
	kind == "permission"
	startswith(key, "org:sys_")
} else := "missing_permission" if {
	kind == "permission"
}

_implied(kind, _) := "missing_feature" if kind == "feature"

_implied(kind, _) := "missing_plan" if kind == "plan"

_implied(kind, _) := "reverification_required" if kind == "reverification"

_implied(kind, _) := "impersonation_denied" if kind == "not_impersonated"

# The allow reason a term gives when it holds: roles and system permissions
# grant by role, custom permissions by the token. Other terms only gate.
grant_reason(term) := "role" if term.role

else := "role" if startswith(term.permission, "org:sys_")

else := "permission" if term.permission

# ---------------------------------------------------------------------------
# Messages, built only for the decision that returns them. The functions
# that take a kind of term are dispatched on it as _holds is.

# The message of a denial for the failed requirement req: what it needs
# and what the session has. The common requirement, one term with one key,
# is described without a comprehension.
denial_message(req) := msg if {
	[term] := req.any_of
	count(term) == 1
	some kind, value in term
	msg := sprintf("action %s needs %s; %s", [input.action, _describe(kind, value), _state(kind, value)])
} else := sprintf("action %s needs %s; %s", [input.action, needs(req), state(req)])

# Every term of the requirement, described as describe does.
needs(req) := concat(" or ", [_describe(kind, value) |
	some term in req.any_of
	some kind, value in term
])

# A term has one key (the catalog's load-time checks refuse others); one
# with more is described key by key, as satisfied reads it, so that it
# still has one description.
describe(term) := concat(" or ", parts) if {
	parts := [_describe(kind, value) | some kind, value in term]
	count(parts) > 0
}

_describe(kind, role) := sprintf("role %s", [role]) if kind == "role"

_describe(kind, key) := sprintf("permission %s", [key]) if kind == "permission"

_describe(kind, feature) := sprintf("feature %s", [feature]) if kind == "feature"

_describe(kind, plan) := sprintf("plan %s", [plan]) if kind == "plan"

_describe(kind, window) := sprintf("reverification %s (%s)", [window, _preset_words[window]]) if {
	kind == "reverification"
	is_string(window)
}

_describe(kind, window) := sprintf("%s within the last %v minutes", [_level_words[w.level], w.afterMinutes]) if {
	kind == "reverification"
	is_object(window)
	w := clerk_window(window)
}

_describe(kind, _) := "a session that is not impersonated" if kind == "not_impersonated"

_preset_words := {
	"strict_mfa": "a multi-factor verification within the last 10 minutes",
	"strict": "a second-factor verification within the last 10 minutes",
	"moderate": "a second-factor verification within the last 60 minutes",
	"lax": "a second-factor verification within the last 1440 minutes",
}

_level_words := {
	"first_factor": "a first-factor verification",
	"second_factor": "a second-factor verification",
	"multi_factor": "a multi-factor verification",
}

# What the session has, for each kind of term the requirement names.
state(req) := concat("; ", {_state(kind, value) |
	some term in req.any_of
	some kind, value in term
})

_state(kind, _) := sprintf("the session has role %s", [input.principal.org_role]) if {
	kind == "role"
	input.principal.org_role
} else := "the session has no role in the active organization" if {
	kind == "role"
}

_state(kind, key) := permissions.system_denial(key) if {
	kind == "permission"
	startswith(key, "org:sys_")
} else := sprintf("the session token does not carry permission %s", [key]) if {
	kind == "permission"
}

_state(kind, _) := _entries("features", object.get(input.principal, "features", [])) if kind == "feature"

_state(kind, _) := _entries("plans", object.get(input.principal, "plans", [])) if kind == "plan"

_state(kind, _) := msg if {
	kind == "reverification"
	[first, second] := input.principal.factor_verification_age
	msg := sprintf("the session's last first-factor verification was %s and its last second-factor verification was %s", [_ago(first), _ago(second)])
} else := "the session token shows no verification age (fva)" if {
	kind == "reverification"
}

_state(kind, _) := sprintf("%s is impersonating the user", [object.get(input.principal.actor, "sub", "another user")]) if kind == "not_impersonated"

_entries(what, entries) := sprintf("the session has no %s", [what]) if count(entries) == 0

else := sprintf("the session has %s %s", [what, concat(", ", entries)])

_ago(age) := "never" if age == -1

_ago(age) := sprintf("%v minutes ago", [age]) if age != -1

grant_state(term) := sprintf("the session has role %s", [input.principal.org_role]) if term.role

else := sprintf("role %s holds system permission %s", [input.principal.org_role, term.permission]) if {
	startswith(term.permission, "org:sys_")
} else := sprintf("the session token carries permission %s", [term.permission])

# ---------------------------------------------------------------------------
# Load-time checks of one requirement (catalog.rego reports them).

problems(req) := {"must be an object with an \"any_of\" list"} if not _has_any_of(req)

else := {"\"any_of\" must not be empty"} if count(req.any_of) == 0

else := {problem |
	some problem in _deny_problems(req)
} | {sprintf("term %d: %s", [i, problem]) |
	some i, term in req.any_of
	problem := _term_problem(term)
}

_has_any_of(req) if {
	is_object(req)
	is_array(object.get(req, "any_of", null))
}

_deny_problems(req) := {sprintf("\"deny\" is %v, which is not a requirement code (%s)", [req.deny, concat(", ", object.keys(rank))])} if {
	"deny" in object.keys(req)
	not rank[req.deny]
} else := set()

_term_problem(term) := "must be an object with exactly one key" if {
	not is_object(term)
} else := "must be an object with exactly one key" if {
	count(term) != 1
} else := msg if {
	some kind, _ in term
	not _usage[kind]
	msg := sprintf("%s is not a term kind (%s)", [kind, concat(", ", sort(object.keys(_usage)))])
} else := msg if {
	some kind, value in term
	not _valid(kind, value)
	msg := sprintf("%s %v is not usable (%s)", [kind, value, _usage[kind]])
} else := msg if {
	some "role", role in term
	not _role_defined(role)
	msg := sprintf("role %s is not defined in data.verdict.roles (%s)", [role, concat(", ", sort(_defined_roles))])
}

_defined_roles := object.keys(roles) if {
	roles := data.verdict.roles
	is_object(roles)
} else := set()

_usage := {
	"role": "a role such as org:admin",
	"permission": "a permission key org:<feature>:<permission>",
	"feature": "a feature as has() takes it: name, o:name or u:name",
	"plan": "a plan as has() takes it: name, o:name or u:name",
	"reverification": "a preset strict_mfa, strict, moderate, lax, or {\"level\": ..., \"afterMinutes\": N}",
	"not_impersonated": "true",
}

# A term is usable when its kind is known and has() understands its value:
# checked against a session that holds exactly what the term names.
_valid(kind, value) if {
	kind in {"feature", "plan"}
	is_string(value)
	name := _entitlement_name(value)
	name != ""
	clerk.passes(kind, value, {"features": [concat("", ["ou:", name])], "plans": [concat("", ["ou:", name])]})
}

_valid("role", role) if {
	is_string(role)
	role != ""
}

# A role term names a role data.verdict.roles defines, compared as has()
# compares roles (admin and org:admin are the same), so a misspelled role
# is refused at load rather than quietly never holding.
_role_defined(role) if {
	some defined, _ in data.verdict.roles
	clerk.passes("role", role, {"authenticated": true, "org_id": "org", "org_role": defined})
}

_valid("permission", key) if permissions.is_key(key)

_valid("reverification", window) if clerk.passes("reverification", clerk_window(window), {"factor_verification_age": [0, 0]})

_valid("not_impersonated", true)

_entitlement_name(v) := v if not contains(v, ":")

else := split(v, ":")[1]
