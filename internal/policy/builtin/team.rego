# Team rules: the extension points of a policy set. Any package
# verdict.rules.<name> (a file of the team's own; no shipped file is ever
# edited) may define
#
#   deny   a set of {"reason": "<code>", "message": "<text>"}: for an action
#          that passed the token and tenancy checks, any member denies,
#          before the action's own requirements are looked at;
#   grant  a set of the same shape: stands in for the failed requirements
#          of the package's own actions when each of them is only a missing
#          role or custom permission (requirements.grantable); never for a
#          shipped action or another team's, never for a permission key,
#          a system permission term, a feature, plan, reverification or
#          impersonation gate, and never before tenancy or a deny;
#   actions an object of catalog entries, merged with the shipped catalog
#          (catalog.rego; a name defined twice is refused at load).
#
# When several members apply, the choice is deterministic: the least of
# [package name, reason, message]. The loader refuses a deny or grant that
# is not a set rule, so a misshapen rule is a load error, not a rule that
# quietly never fires.
package verdict.team

# Some team rule denies: the stage's test, cheap on the common path (no
# comprehension; it stops at the first member it finds).
denies if {
	some name
	some _ in data.verdict.rules[name].deny
}

# Some team rule grants, before asking which: most decisions have none.
grants if {
	some name
	some _ in data.verdict.rules[name].grant
}

# The first team denial, defined exactly when denies holds.
denial := {"allow": false, "reason": reason, "message": msg} if {
	[_, reason, msg] := min(_denials)
}

# A grant that holds for this input, as an allow.
grant := {"allow": true, "reason": reason, "message": msg} if {
	[_, reason, msg] := min(_grants)
}

_denials contains [name, reason, msg] if {
	some name
	some d in data.verdict.rules[name].deny
	[reason, msg] := _answer(name, "deny", d)
}

# A deny or grant that is not a set or list would be read as empty, and a
# deny that never fires is an allow: the loader refuses a rule written so
# (before compiling) and data shaped so (here).
problems contains sprintf("package verdict.rules.%s: %s must be a set of {\"reason\", \"message\"} objects, not %s", [name, kind, type_name(x)]) if {
	some name, kind
	x := data.verdict.rules[name][kind]
	kind in {"deny", "grant"}
	not is_set(x)
	not is_array(x)
}

# A grant member of the wrong shape grants nothing, and a grant stands in
# only for the requirements of its own package's actions: no team can
# grant around a shipped entry or another team's.
_grants contains [name, reason, msg] if {
	some name
	not data.verdict.actions[input.action]
	data.verdict.rules[name].actions[input.action]
	some g in data.verdict.rules[name].grant
	is_object(g)
	[reason, msg] := _answer(name, "grant", g)
	reason != "invalid_rule"
}

# The reason and message of one member: its own when well formed. A deny
# member without a reason code still denies, as invalid_rule.
_answer(name, kind, m) := [m.reason, m.message] if {
	_code(m.reason)
	is_string(m.message)
} else := [m.reason, sprintf("%s by team rule verdict.rules.%s", [verb, name])] if {
	_code(m.reason)
	verb := {"deny": "denied", "grant": "granted"}[kind]
} else := ["invalid_rule", sprintf("package verdict.rules.%s: a %s member must be {\"reason\": \"<code>\", \"message\": \"<text>\"}", [name, kind])]

_code(reason) if {
	is_string(reason)
	reason != ""
}
