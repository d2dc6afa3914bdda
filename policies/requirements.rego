# Requirements: the building blocks of catalog entries (README.md has the
# schema for people editing data.json).
#
# A requirement is {"any_of": [term, ...], "deny": "<code>"}: it is met when
# at least one of its terms holds, and every requirement of an entry must be
# met (AND of ORs). A term is an object with exactly one key, shaped like one
# field of Clerk's has():
#
#   {"role": "org:admin"}                the session's role
#   {"permission": "org:posts:publish"}  a permission key (permissions.rego:
#                                        system ones are decided by role)
#   {"feature": "o:posts"}               a fea entry
#   {"plan": "o:pro"}                    a pla entry
#   {"reverification": "strict"}         a recent verification
#   {"not_impersonated": true}           nobody is impersonating the user
#
# Role, feature, plan and reverification terms are decided by Clerk's own
# has(), the built-in data.verdict.clerk library, so a term means exactly
# what the same field means in Clerk's SDK; this file adds only the catalog
# schema, deny codes and messages.
#
# Every rule below dispatches on the term's kind through a function whose
# first argument is the kind as a constant, so OPA indexes the dispatch. A
# new kind is one more definition of _valid, _holds, _implied, _describe and
# _state; entries and the combination do not change.
package verdict.requirements

import data.verdict.clerk
import data.verdict.permissions
import data.verdict.session

# The requirement deny codes in the contract's precedence order. When several
# requirements of one entry fail, the one whose code comes first here wins
# (ties go to the earlier requirement), so the order of an entry's list never
# changes which code a caller sees.
codes := [
	"missing_role",
	"missing_permission",
	"missing_feature",
	"missing_plan",
	"reverification_required",
	"impersonation_denied",
]

# Term kinds, in the order their session state is reported in messages.
kinds := ["role", "permission", "feature", "plan", "reverification", "not_impersonated"]

# ---------------------------------------------------------------------------
# Shape. A malformed requirement must never be read as "no requirement", so
# the catalog refuses an entry that contains one (see catalog.rego).

valid(req) if {
	is_object(req)
	is_array(req.any_of)
	count(req.any_of) > 0
	every term in req.any_of {
		valid_term(term)
	}
	_valid_deny(req)
}

_valid_deny(req) if not "deny" in object.keys(req)

_valid_deny(req) if req.deny in codes

valid_term(term) if {
	is_object(term)
	count(term) == 1
	some k, v in term
	_valid(k, v)
}

_valid("role", v) if {
	is_string(v)
	v != ""
}

_valid("permission", v) if permissions.is_key(v)

_valid("feature", v) if _valid_entitlement(v)

_valid("plan", v) if _valid_entitlement(v)

# A session verified just now (fva [0, 0]) satisfies every window Clerk can
# read, so has() is false only for an unknown preset or level or a window
# that is not a positive number of minutes.
_valid("reverification", v) if {
	clerk.has({"authenticated": true, "user_id": "catalog", "factor_verification_age": [0, 0]}, {"reverification": clerk_reverification(v)})
}

_valid("not_impersonated", v) if v == true

# A feature or plan term: a non-empty name, bare or behind a scope Clerk
# knows (o:, org:, organization:, u:, user:). Clerk's has() decides: a
# session holding the name in both scopes (ou:) satisfies every readable
# query for it, so has() is false only when Clerk cannot read the query (an
# unknown scope). Plans are queried exactly like features.
_valid_entitlement(v) if {
	is_string(v)
	name := _entitlement_name(v)
	name != ""
	clerk.has({"authenticated": true, "user_id": "catalog", "features": [concat("", ["ou:", name])]}, {"feature": v})
}

# "reports" -> "reports", "o:reports:x" -> "reports" (Clerk ignores the rest)
_entitlement_name(v) := v if not contains(v, ":")

else := split(v, ":")[1]

# A reverification term as Clerk's has() takes it: a preset (strict_mfa,
# strict, moderate, lax) or {"level", "afterMinutes"}; the catalog also
# accepts {"level", "after_minutes"}. Any other key makes the term unusable,
# so a typo never weakens the window.
clerk_reverification(v) := v if is_string(v)

clerk_reverification(v) := {"level": v.level, "afterMinutes": v.after_minutes} if {
	is_object(v)
	object.keys(v) == {"level", "after_minutes"}
}

clerk_reverification(v) := v if {
	is_object(v)
	object.keys(v) == {"level", "afterMinutes"}
}

# The kind of a (valid) term: its only key.
kind(term) := k if some k, _ in term

# ---------------------------------------------------------------------------
# Evaluation.

met(req) if {
	some term in req.any_of
	satisfied(term)
}

satisfied(term) if {
	some k, v in term
	_holds(k, v)
}

# Clerk's has() decides: roles compare with one "org:" prefix on both sides
# ("admin" is "org:admin"), features and plans with Clerk's scope rules,
# reverification with its presets and fva rules.
_holds("role", v) if clerk.has(input.principal, {"role": v})

# System permissions by role (data), custom ones from the token.
_holds("permission", v) if permissions.held(v)

_holds("feature", v) if clerk.has(input.principal, {"feature": v})

_holds("plan", v) if clerk.has(input.principal, {"plan": v})

_holds("reverification", v) if clerk.has(input.principal, {"reverification": clerk_reverification(v)})

_holds("not_impersonated", true) if not session.impersonated

# The code a failed requirement denies with: the one it names, else the one
# its terms imply, taken in _implied_order.
deny_code(req) := req.deny if req.deny in codes

else := derived_deny(req)

derived_deny(req) := [code |
	some code in _implied_order
	some term in req.any_of
	some k, v in term
	_implied(k, v) == code
][0]

# A custom permission anywhere in the requirement makes it missing_permission
# (the contract's posts:publish row: role OR permission denies with it);
# otherwise a role or a system permission makes it missing_role (system
# permissions are decided by role and always deny with it); the gates imply
# their own codes.
_implied_order := [
	"missing_permission",
	"missing_role",
	"missing_feature",
	"missing_plan",
	"reverification_required",
	"impersonation_denied",
]

_implied("role", _) := "missing_role"

_implied("permission", v) := "missing_permission" if permissions.is_custom(v)

_implied("permission", v) := "missing_role" if permissions.is_system(v)

_implied("feature", _) := "missing_feature"

_implied("plan", _) := "missing_plan"

_implied("reverification", _) := "reverification_required"

_implied("not_impersonated", _) := "impersonation_denied"

# Roles and permissions grant an action; the other kinds only gate it. An
# allow names the grant that let it through: a role (system permissions are
# held by roles) or a permission the token carries. Undefined for gates.
grant_reason(term) := _grant_reason(kind(term), term[kind(term)])

_grant_reason("role", _) := "role"

_grant_reason("permission", v) := "role" if permissions.is_system(v)

_grant_reason("permission", v) := "permission" if permissions.is_custom(v)

# ---------------------------------------------------------------------------
# Messages: what a requirement needs, then what the session has.

# "role org:admin or permission org:posts:publish"
needs(req) := concat(" or ", [describe(term) | some term in req.any_of])

describe(term) := _describe(k, v) if some k, v in term

_describe("role", v) := sprintf("role %s", [v])

_describe("permission", v) := sprintf("permission %s", [v])

_describe("feature", v) := sprintf("feature %s", [v])

_describe("plan", v) := sprintf("plan %s", [v])

_describe("reverification", v) := sprintf("reverification %s (%s)", [v, _window_words(v)]) if is_string(v)

_describe("reverification", v) := _window_words(v) if is_object(v)

_describe("not_impersonated", _) := "a session that is not impersonated"

# Wording only (clerk.has decides): what a reverification term asks for.
_window_words(v) := _preset_words[v]

_window_words(v) := sprintf("%s within the last %v minutes", [_level_words[w.level], w.afterMinutes]) if {
	is_object(v)
	w := clerk_reverification(v)
}

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

# "the session has role org:member; the session token does not carry
# permission org:posts:publish": one sentence per term, grouped by kind,
# each said once.
state(req) := concat("; ", _dedup([_state(k, term[k]) |
	some k in kinds
	some term in req.any_of
	kind(term) == k
]))

_dedup(xs) := [x | some i, x in xs; not x in array.slice(xs, 0, i)]

_state("role", _) := sprintf("the session has role %s", [session.org_role]) if session.org_role

else := "the session has no role in the active organization"

_state("permission", v) := permissions.denial(v)

_state("feature", _) := _entitlements("features", session.features)

_state("plan", _) := _entitlements("plans", session.plans)

_state("reverification", _) := msg if {
	[first, second] := session.verification_age
	msg := sprintf("the session's last first-factor verification was %s and its last second-factor verification was %s", [_ago(first), _ago(second)])
} else := "the session token shows no verification age (fva)"

_state("not_impersonated", _) := sprintf("%s is impersonating the user", [session.impersonator])

# "the session has features o:posts, o:tasks"
_entitlements(what, entries) := sprintf("the session has no %s", [what]) if count(entries) == 0

else := sprintf("the session has %s %s", [what, concat(", ", sort(entries))])

_ago(-1) := "never"

_ago(age) := sprintf("%v minutes ago", [age]) if age != -1

# What the session has that satisfied a grant term, for allow messages.
grant_state(term) := _grant_state(kind(term), term[kind(term)])

_grant_state("role", _) := sprintf("the session has role %s", [session.org_role])

_grant_state("permission", v) := permissions.grant(v)
