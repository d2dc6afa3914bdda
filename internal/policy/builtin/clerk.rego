# Clerk's has(), answered exactly as Clerk's JavaScript SDK answers it
# (@clerk/shared createCheckAuthorization, fail-closed; the specification is
# /work/shared/docs/clerk-tokens.md §5), over Verdict's normalized principal:
# the same object the decision policies see as input.principal.
#
# Verdict builds this module into the binary and compiles it into every policy
# set, so team policies can `import data.verdict.clerk` and call
#
#   clerk.has(input.principal, {"feature": "o:reports"})
#
# and POST /v1/has evaluates data.verdict.clerk.response. It is not
# team-editable.
#
# API:
#   has(principal, check)            true or false, Clerk's answer
#   answer(principal, check)         {"result", "reason", "message"}
#   response                         answer(input.principal, input.check)
#   passes(field, value, principal)  one field of a check, as has() decides
#                                    it for a signed-in principal (the
#                                    catalog's terms call it directly)
#
# `check` may be any JSON value. A field of the wrong type fails its
# dimension (Clerk fails closed) and never raises an error; fields Clerk does
# not know are ignored; a check that names no known field is false. Every
# field given must pass (AND within and across dimensions).
#
# One deliberate difference from Clerk: a system permission (org:sys_*) is
# never granted here, even when a v1 token lists one. Clerk never puts system
# permissions in session tokens; /v1/check decides them by role.
#
# Performance: this runs on every /v1/has and inside catalog decisions.
#   - has() looks only at the check's known fields, each dispatched on its
#     name: every definition of passes (and of the other functions that
#     take a field or a kind) starts with `field == "<name>"`, which OPA's
#     rule index uses to pick the definitions that apply. (A constant in
#     the head, passes("role", ...), is not indexed: every definition would
#     be entered and fail on its head.)
#   - The common case comes first and costs one comparison: a role equal
#     to the session's as written passes before any normalizing.
#   - Nothing iterates over data that does not depend on the check: a feature
#     query builds the few claim entries that would match and looks them up.
#   - answer() asks has() first; reasons (_reason) are worked out only when
#     it is false, and each message only on the path that returns it.
package verdict.clerk

# ---------------------------------------------------------------------------
# API

# Clerk's answer: signed in, at least one known field asked, and every
# known field passes.
default has(_, _) := false

has(principal, check) if {
	_signed_in(principal)
	asked := _asked(check)
	count(asked) > 0
	every field, value in asked {
		passes(field, value, principal)
	}
}

# Clerk's answer with a reason: granted, or the first that applies of
# unauthenticated, empty_check, invalid_check, no_active_org, missing_role,
# missing_permission, missing_feature, missing_plan, reverification_required.
answer(principal, check) := {"result": true, "reason": "granted", "message": msg} if {
	has(principal, check)
	msg := _granted_message(principal, check)
} else := {"result": false, "reason": "unauthenticated", "message": msg} if {
	not _signed_in(principal)
	msg := _unauthenticated_message(principal)
} else := {"result": false, "reason": "empty_check", "message": msg} if {
	not _asks_something(check)
	msg := _empty_check_message(check)
} else := {"result": false, "reason": reason, "message": msg} if {
	[_, _, field, reason] := min(_failures(principal, check))
	msg := _explanation(reason, field, check[field], principal)
} else := {"result": false, "reason": "invalid_check", "message": "the check could not be evaluated"}

# What POST /v1/has evaluates, with input {"principal": {...}, "check": <any>}.
# An absent principal or check is null: unauthenticated, or an empty check.
# The service always sends both, so the first definition is the one that
# answers it.
response := answer(principal, check) if {
	principal := input.principal
	check := input.check
} else := answer(_input("principal"), _input("check"))

_input(key) := value if {
	value := input[key]
} else := null

# ---------------------------------------------------------------------------
# The check.

# The fields Clerk's has() reads, in the order messages mention them. Other
# fields are ignored, as Clerk ignores them.
_field_order := {"role": 0, "permission": 1, "feature": 2, "plan": 3, "reverification": 4}

# The known fields of the check (an object of at most five entries): the
# keys of _field_order.
_asked(check) := object.filter(check, {"role", "permission", "feature", "plan", "reverification"}) if is_object(check)

_asks_something(check) if count(_asked(check)) > 0

# Whether one asked field passes, for a signed-in principal (has() checks
# that first). Each definition is selected by the field name through OPA's
# rule index, and is a positive test: it fails for a value of the wrong
# type too, without ever raising an error.

# Role: an active organization and a role that equals the query once both
# have exactly one leading "org:" (admin == org:admin == org:org:admin);
# case-sensitive. The session's role as the query writes it is the common
# case, decided by one comparison; any other is normalized. (The tests of
# _active_org and _nonempty are written out: a call costs more than they.)
passes(field, role, principal) if {
	field == "role"
	principal.org_role == role
	is_string(role)
	role != ""
	is_string(principal.org_id)
	principal.org_id != ""
}

passes(field, role, principal) if {
	field == "role"
	is_string(role)
	is_string(principal.org_id)
	principal.org_id != ""
	is_string(principal.org_role)
	principal.org_role != ""
	_prefix_with_org(principal.org_role) == _prefix_with_org(role)
}

# Permission: an active organization and the query, prefixed, listed in the
# token's permissions, compared verbatim. A system permission never passes.
passes(field, permission, principal) if {
	field == "permission"
	is_string(permission)
	is_string(principal.org_id)
	principal.org_id != ""
	key := _prefix_with_org(permission)
	not startswith(key, "org:sys_")
	is_array(principal.org_permissions)
	key in principal.org_permissions
}

# Features and plans need no organization.
passes(field, feature, principal) if {
	field == "feature"
	_entitled(principal.features, feature)
}

passes(field, plan, principal) if {
	field == "plan"
	_entitled(principal.plans, plan)
}

passes(field, config, principal) if {
	field == "reverification"
	window := _window(config)
	_fresh_enough(window, principal.factor_verification_age)
}

# Why an asked field that does not pass fails (only computed for answer()'s
# message): [reason rank, field rank, field, reason], and min picks the
# reason to report.
_failures(principal, check) := {[_reason_rank[reason], _field_order[field], field, reason] |
	some field, value in _asked(check)
	not passes(field, value, principal)
	reason := _reason(field, value, principal)
}

_reason_rank := {
	"invalid_check": 0,
	"no_active_org": 1,
	"missing_role": 2,
	"missing_permission": 3,
	"missing_feature": 4,
	"missing_plan": 5,
	"reverification_required": 6,
}

_reason(field, role, principal) := "invalid_check" if {
	field == "role"
	not is_string(role)
} else := "no_active_org" if {
	field == "role"
	not _active_org(principal)
} else := "missing_role" if {
	field == "role"
}

_reason(field, permission, principal) := "invalid_check" if {
	field == "permission"
	not is_string(permission)
} else := "no_active_org" if {
	field == "permission"
	not _active_org(principal)
} else := "missing_permission" if {
	field == "permission"
}

_reason(field, feature, _) := "invalid_check" if {
	field == "feature"
	not _entitlement_query(feature)
} else := "missing_feature" if {
	field == "feature"
}

_reason(field, plan, _) := "invalid_check" if {
	field == "plan"
	not _entitlement_query(plan)
} else := "missing_plan" if {
	field == "plan"
}

_reason(field, config, _) := "invalid_check" if {
	field == "reverification"
	not _window(config)
} else := "reverification_required" if {
	field == "reverification"
}

# ---------------------------------------------------------------------------
# The session.
#
# Helpers that a `not` applies to take the whole principal, never one of its
# fields: in OPA, `not f(principal.x)` is false (not true) when principal.x
# is undefined.

_signed_in(principal) if {
	principal.authenticated == true
	is_string(principal.user_id)
	principal.user_id != ""
}

_authenticated(principal) if principal.authenticated == true

_active_org(principal) if {
	is_string(principal.org_id)
	principal.org_id != ""
}

_has_role(principal) if _nonempty(principal.org_role)

_nonempty(s) if {
	is_string(s)
	s != ""
}

# Clerk's prefixWithOrg: any leading run of "org:" becomes exactly one.
_prefix_with_org(s) := s if {
	startswith(s, "org:")
	not startswith(s, "org:org:")
} else := concat("", ["org:", s]) if {
	not startswith(s, "org:")
} else := regex.replace(s, `^(org:)+`, "org:")

# ---------------------------------------------------------------------------
# Features (fea) and plans (pla).
#
# The principal carries the claim's entries ("o:reports", "u:free"). A query
# is a bare name (any scope) or scope:name[:ignored...]; the query scopes are
# o/org/organization and u/user. An entry's scope is what comes before its
# first colon: o, u, or ou/uo (both); other scopes are dropped. The claim
# must have at least one entry, and one entry without a colon makes the whole
# claim unreadable (Clerk's splitByScope throws, which has() reads as false).

_query_scopes := {"o": "org", "org": "org", "organization": "org", "u": "user", "user": "user"}

_entitlement_query(query) if {
	is_string(query)
	not contains(query, ":")
}

_entitlement_query(query) if {
	is_string(query)
	_query_scopes[split(query, ":")[0]]
}

# The common query is written as the claim writes an entry (o:reports,
# u:beta), and is then one of the entries that would match it: one lookup.
_entitled(entries, query) if {
	is_string(query)
	query in entries
	[scope, _] := split(query, ":")
	scope in {"o", "u"}
	_readable(entries)
}

# Any other query: instead of splitting every entry, build the few entries
# that would match and look for them.
_entitled(entries, query) if {
	is_string(query)
	_readable(entries)
	some entry in _matching_entries(query)
	entry in entries
}

_readable(entries) if {
	is_array(entries)
	count(entries) > 0
	every entry in entries {
		is_string(entry)
		contains(entry, ":")
	}
}

_matching_entries(query) := [
	concat("", ["o:", query]),
	concat("", ["u:", query]),
	concat("", ["ou:", query]),
	concat("", ["uo:", query]),
] if {
	not contains(query, ":")
} else := _scoped_entries(_query_scopes[parts[0]], parts[1]) if {
	parts := split(query, ":")
}

_scoped_entries(scope, name) := [concat("", ["o:", name]), concat("", ["ou:", name]), concat("", ["uo:", name])] if scope == "org"

_scoped_entries(scope, name) := [concat("", ["u:", name]), concat("", ["ou:", name]), concat("", ["uo:", name])] if scope == "user"

# ---------------------------------------------------------------------------
# Reverification (fva = [first-factor age, second-factor age] in minutes,
# -1 for a factor group that is not enabled or never verified).

_presets := {
	"strict_mfa": {"level": "multi_factor", "after_minutes": 10},
	"strict": {"level": "second_factor", "after_minutes": 10},
	"moderate": {"level": "second_factor", "after_minutes": 60},
	"lax": {"level": "second_factor", "after_minutes": 1440},
}

_levels := {
	"first_factor": "a first-factor verification",
	"second_factor": "a second-factor verification",
	"multi_factor": "a multi-factor verification",
}

# A preset, or {"level": ..., "afterMinutes": N > 0} (other keys ignored, as
# Clerk ignores them).
_window(config) := _presets[config]

_window(config) := {"level": config.level, "after_minutes": config.afterMinutes} if {
	is_object(config)
	_levels[config.level]
	is_number(config.afterMinutes)
	config.afterMinutes > 0
}

_fresh_enough(window, fva) if {
	_valid_fva(fva)
	_fresh_for(window.level, window.after_minutes, fva[0], fva[1])
}

_valid_fva(fva) if {
	is_array(fva)
	count(fva) == 2
	_valid_age(fva[0])
	_valid_age(fva[1])
}

_valid_age(age) if {
	is_number(age)
	age == -1
}

_valid_age(age) if {
	is_number(age)
	age >= 0
}

# Fresh: verified (not -1) and strictly within the window (age 10 fails a
# 10-minute window).
_fresh(age, minutes) if {
	age != -1
	minutes > age
}

_fresh_for(level, minutes, first, _) if {
	level == "first_factor"
	_fresh(first, minutes)
}

# second_factor falls back to the first factor when the second is not
# enabled (if both are -1 nothing is fresh).
_fresh_for(level, minutes, first, second) if {
	level == "second_factor"
	second == -1
	_fresh(first, minutes)
}

_fresh_for(level, minutes, _, second) if {
	level == "second_factor"
	second != -1
	_fresh(second, minutes)
}

# multi_factor degrades to the first factor when the second is not enabled,
# and otherwise needs both fresh (so a first factor of -1 fails).
_fresh_for(level, minutes, first, second) if {
	level == "multi_factor"
	second == -1
	_fresh(first, minutes)
}

_fresh_for(level, minutes, first, second) if {
	level == "multi_factor"
	second != -1
	_fresh(first, minutes)
	_fresh(second, minutes)
}

# ---------------------------------------------------------------------------
# Messages. Each is built only when its answer is returned.

_unauthenticated_message(principal) := "the session is signed out (no valid session token), and has() is false for a signed-out session" if {
	not _authenticated(principal)
} else := "the session has no user id (sub), and has() is false without one"

_empty_check_message(check) := msg if {
	not is_object(check)
	msg := sprintf("the check must be an object such as {\"role\": \"org:admin\"}, not %s", [_a(check)])
} else := msg if {
	count(check) == 0
	msg := "the check asks for nothing, and has({}) is false: name at least one of role, permission, feature, plan, reverification"
} else := msg if {
	ignored := concat(", ", sort([k | some k, _ in check; is_string(k)]))
	msg := sprintf("the check names none of role, permission, feature, plan, reverification (Clerk ignores the other fields: %s), and has() with nothing to check is false", [ignored])
}

# The message for a failing field; a generic one should a specific message
# ever be undefined, so that a denial can never lose its message.
_explanation(reason, field, value, principal) := msg if {
	msg := _explain(reason, field, value, principal)
} else := sprintf("%s: the check's %s does not pass", [reason, field])

_explain(reason, field, value, _) := _invalid_message(field, value) if reason == "invalid_check"

_explain(reason, field, value, _) := sprintf("%s %s is checked in the active organization, and the session has no active organization (features and plans do not need one)", [field, value]) if reason == "no_active_org"

_explain(reason, _, role, principal) := msg if {
	reason == "missing_role"
	not _has_role(principal)
	msg := sprintf("the session has no role in organization %s, so role %s does not match", [principal.org_id, role])
} else := msg if {
	reason == "missing_role"
	want := _prefix_with_org(role)
	msg := sprintf("the session's role in organization %s is %s, not %s%s%s", [
		principal.org_id, principal.org_role, want,
		_as_written(role, want), _case_hint(principal.org_role, role),
	])
}

_explain(reason, _, permission, principal) := msg if {
	reason == "missing_permission"
	key := _prefix_with_org(permission)
	startswith(key, "org:sys_")
	msg := sprintf("%s is a system permission, and system permissions are never in a session token, so has() is false for it: check the role with has({role}) or use /v1/check, which decides system permissions by role", [key])
} else := msg if {
	reason == "missing_permission"
	key := _prefix_with_org(permission)
	count(split(key, ":")) != 3
	msg := sprintf("%s is not a permission key (org:<feature>:<permission>), so no token permission can match it; %s", [key, _permissions_state(principal)])
} else := sprintf("the session token does not carry permission %s; %s", [_prefix_with_org(permission), _permissions_state(principal)]) if {
	reason == "missing_permission"
}

_explain(reason, _, feature, principal) := _entitlement_message("feature", "features", "fea", feature, _entries(principal, "features")) if {
	reason == "missing_feature"
}

_explain(reason, _, plan, principal) := _entitlement_message("plan", "plans", "pla", plan, _entries(principal, "plans")) if {
	reason == "missing_plan"
}

_explain(reason, _, config, principal) := sprintf("%s needs %s; %s", [_config_name(config), _window_text(_window(config)), _verification_state(principal)]) if {
	reason == "reverification_required"
}

_invalid_message("reverification", config) := msg if {
	is_string(config)
	msg := sprintf("reverification %s is not a Clerk preset (strict_mfa, strict, moderate, lax)", [config])
} else := msg if {
	is_object(config)
	not _known_level(config)
	msg := sprintf("reverification level %s is not first_factor, second_factor or multi_factor", [_json(object.get(config, "level", null))])
} else := msg if {
	is_object(config)
	msg := sprintf("reverification afterMinutes must be a number greater than 0, not %s%s", [_json(object.get(config, "afterMinutes", null)), _spelling_hint(config)])
} else := sprintf("reverification must be a preset (strict_mfa, strict, moderate, lax) or {\"level\": \"first_factor\"|\"second_factor\"|\"multi_factor\", \"afterMinutes\": N}, not %s", [_a(config)])

_invalid_message(field, query) := msg if {
	field in {"feature", "plan"}
	is_string(query)
	msg := sprintf("%s %s has scope %s, which Clerk does not know: use o, org or organization for the organization, u or user for the user, or a bare name for either", [field, query, split(query, ":")[0]])
}

_invalid_message(field, value) := msg if {
	not field == "reverification"
	not is_string(value)
	msg := sprintf("%s must be a string such as %s, not %s", [field, _example[field], _a(value)])
}

_known_level(config) if _levels[config.level]

_example := {"role": `"org:admin"`, "permission": `"org:reports:export"`, "feature": `"o:reports"`, "plan": `"o:pro"`}

_as_written(query, normalized) := sprintf(" (asked as %s)", [query]) if query != normalized

else := ""

_case_hint(have, query) := "; roles compare case-sensitively" if {
	lower(have) == _prefix_with_org(lower(query))
} else := ""

_spelling_hint(config) := " (Clerk spells it afterMinutes, not after_minutes)" if {
	_ = config.after_minutes
} else := ""

_permissions_state(principal) := msg if {
	perms := _entries(principal, "org_permissions")
	count(perms) > 0
	msg := sprintf("its permissions in organization %s are %s", [principal.org_id, concat(", ", [p | some p in perms; is_string(p)])])
} else := sprintf("it carries no permissions in organization %s", [principal.org_id])

_entitlement_message(what, plural, claim, query, entries) := msg if {
	count(entries) == 0
	msg := sprintf("the session token carries no %s (%s), so %s %s is missing", [plural, claim, what, query])
} else := msg if {
	# The first entry without a scope, where Clerk's splitByScope stops: a
	# claim with several still has one message.
	unscoped := [entry | some entry in entries; not _scoped_entry(entry)]
	count(unscoped) > 0
	msg := sprintf("the session's %s (%s) include %s, which has no scope (scope:name); Clerk cannot read such a claim, so every %s check is false", [plural, claim, _json(unscoped[0]), what])
} else := sprintf("the session does not have %s %s; its %s are %s", [what, query, plural, concat(", ", entries)])

_scoped_entry(entry) if {
	is_string(entry)
	contains(entry, ":")
}

_entries(principal, key) := principal[key] if is_array(principal[key])

else := []

_config_name(config) := sprintf("reverification %s", [config]) if is_string(config)

else := "reverification"

_window_text(window) := sprintf("%s within the last %v minutes", [_levels[window.level], window.after_minutes])

_verification_state(principal) := msg if {
	fva := principal.factor_verification_age
	_valid_fva(fva)
	msg := sprintf("the session's last first-factor verification was %s and its last second-factor verification was %s", [_ago(fva[0]), _ago(fva[1])])
} else := "the session's verification age (fva) is malformed" if {
	_ = principal.factor_verification_age
} else := "the session token shows no verification age (fva)"

_ago(age) := "never" if age == -1

_ago(age) := sprintf("%v minutes ago", [age]) if age != -1

# One sentence per asked field, in the order of _field_order (five
# lookups are cheaper than sorting the asked fields).
_granted_message(principal, check) := concat("; ", parts) if {
	parts := [_granted(field, value, principal) |
		some field in ["role", "permission", "feature", "plan", "reverification"]
		value := check[field]
	]
	count(parts) > 0
} else := "every field of the check passes"

_granted(field, role, principal) := sprintf("the session has role %s (asked: %s)", [principal.org_role, role]) if field == "role"

_granted(field, permission, _) := sprintf("the session token carries permission %s", [_prefix_with_org(permission)]) if field == "permission"

_granted(field, feature, _) := sprintf("the session has feature %s", [feature]) if field == "feature"

_granted(field, plan, _) := sprintf("the session has plan %s", [plan]) if field == "plan"

_granted(field, config, principal) := sprintf("the session has %s (%s), as %s needs", [
	_window_text(_window(config)),
	_verification_state(principal),
	_config_name(config),
]) if field == "reverification"

_a(null) := "null"

_a(value) := sprintf("%s (%s)", [_kinds[type_name(value)], _json(value)]) if value != null

_kinds := {"boolean": "a boolean", "number": "a number", "string": "a string", "array": "an array", "object": "an object", "set": "a set"}

_json(value) := json.marshal(value)
