# The action catalog (data.verdict.actions): every entry is a list of
# requirements that must all be met; a requirement is met when any of its
# terms holds. A malformed entry is treated as absent (unknown_action).
package bench

codes := [
	"missing_role",
	"missing_permission",
	"missing_feature",
	"missing_plan",
	"reverification_required",
	"impersonation_denied",
]

entry := e if {
	not is_key(input.action)
	e := data.verdict.actions[input.action]
	valid_entry(e)
}

valid_entry(e) if {
	is_array(e.requires)
	every req in e.requires {
		count(req.any_of) > 0
		every t in req.any_of {
			count(t) == 1
			some kind, value in t
			valid_term(kind, value)
		}
		valid_deny(req)
	}
}

valid_deny(req) if not "deny" in object.keys(req)

valid_deny(req) if req.deny in codes

valid_term("role", v) if nonempty(v)

valid_term("permission", v) if is_key(v)

valid_term("feature", v) if nonempty(v)

valid_term("plan", v) if nonempty(v)

valid_term("reverification", v) if window(v)

valid_term("not_impersonated", true)

# The first failed requirement's code in the contract's order (ties go to
# the earlier requirement); otherwise an allow naming the first role or
# permission that granted it, or membership.
catalog_outcome := deny(ranked[0]) if {
	failed := [req | some req in entry.requires; not met(req)]
	ranked := [code | some code in codes; some req in failed; deny_code(req) == code]
	count(ranked) > 0
} else := {"allow": true, "reason": grants[0]} if {
	grants := [reason |
		some req in entry.requires
		some t in req.any_of
		some kind, value in t
		reason := grant_reason(kind, value)
		term_holds(kind, value)
	]
	count(grants) > 0
} else := {"allow": true, "reason": "membership"}

met(req) if {
	some t in req.any_of
	some kind, value in t
	term_holds(kind, value)
}

term_holds("role", v) if with_org_prefix(v) == org_role

term_holds("permission", v) if holds(v)

term_holds("feature", v) if entitled(features, v)

term_holds("plan", v) if entitled(plans, v)

term_holds("reverification", v) if fresh(window(v), fva)

term_holds("not_impersonated", true) if not impersonated

deny_code(req) := req.deny if "deny" in object.keys(req)

else := [code |
	some code in ["missing_permission", "missing_role", "missing_feature", "missing_plan", "reverification_required", "impersonation_denied"]
	some t in req.any_of
	some kind, value in t
	implied(kind, value) == code
][0]

implied("role", _) := "missing_role"

implied("permission", v) := "missing_role" if is_system(v)

implied("permission", v) := "missing_permission" if not is_system(v)

implied("feature", _) := "missing_feature"

implied("plan", _) := "missing_plan"

implied("reverification", _) := "reverification_required"

implied("not_impersonated", _) := "impersonation_denied"

grant_reason("role", _) := "role"

grant_reason("permission", v) := "role" if is_system(v)

grant_reason("permission", v) := "permission" if not is_system(v)

# ---------------------------------------------------------------------------
# Features and plans with Clerk's scope rules: a bare name matches an entry
# of either scope; o/org/organization and u/user match only their own
# (an "ou"/"uo" entry is both).

query_scopes := {"o": "o", "org": "o", "organization": "o", "u": "u", "user": "u"}

entitled(entries, query) if {
	not contains(query, ":")
	some e in entries
	parts := split(e, ":")
	parts[1] == query
	regex.match(`[ou]`, parts[0])
}

entitled(entries, query) if {
	q := split(query, ":")
	scope := query_scopes[q[0]]
	some e in entries
	parts := split(e, ":")
	parts[1] == q[1]
	contains(parts[0], scope)
}

# ---------------------------------------------------------------------------
# Reverification: a preset or {"level", "afterMinutes"|"after_minutes"},
# checked against fva the way Clerk's has() does.

presets := {
	"strict_mfa": {"level": "multi_factor", "minutes": 10},
	"strict": {"level": "second_factor", "minutes": 10},
	"moderate": {"level": "second_factor", "minutes": 60},
	"lax": {"level": "second_factor", "minutes": 1440},
}

levels := {"first_factor", "second_factor", "multi_factor"}

window(v) := presets[v] if is_string(v)

window(v) := {"level": v.level, "minutes": m} if {
	is_object(v)
	v.level in levels
	m := object.get(v, "afterMinutes", object.get(v, "after_minutes", 0))
	is_number(m)
	m > 0
}

recent(age, minutes) if {
	age != -1
	minutes > age
}

fresh(w, [first, -1]) if {
	w.level in {"second_factor", "multi_factor"}
	recent(first, w.minutes)
}

fresh(w, [first, _]) if {
	w.level == "first_factor"
	recent(first, w.minutes)
}

fresh(w, [_, second]) if {
	w.level == "second_factor"
	recent(second, w.minutes)
}

fresh(w, [first, second]) if {
	w.level == "multi_factor"
	recent(first, w.minutes)
	recent(second, w.minutes)
}
