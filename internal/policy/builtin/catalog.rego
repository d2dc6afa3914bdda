# The action catalog (data.verdict.actions): application actions and what
# each requires. README.md documents the schema for people editing it.
#
# The catalog is checked once per policy revision, not per request: the
# service evaluates `problems` when it loads the policies and refuses a
# revision whose catalog has any, the way it refuses Rego that does not
# compile. Decisions can then take every entry at its word.
package verdict.catalog

import data.verdict.permissions
import data.verdict.requirements

# The outcome of the catalog action input.action, once its tenancy checks
# passed: an allow for an entry without requirements (the common case, kept
# to one lookup), else the failed requirement whose code comes first in the
# contract's order, else an allow with the term that granted it.
outcome := {"allow": true, "reason": "membership", "message": msg} if {
	count(_entry.requires) == 0
	msg := _membership_message
} else := {"allow": false, "reason": code, "message": msg} if {
	count(_failed) > 0
	[_, _, code, req] := min([[requirements.rank[c], i, c, r] | some i, r in _failed; c := requirements.deny_code(r)])
	msg := sprintf("action %s needs %s; %s", [input.action, requirements.needs(req), requirements.state(req)])
} else := {"allow": true, "reason": reason, "message": msg} if {
	# Allows require that nothing failed: should a failed requirement ever
	# have no deny code, the outcome is undefined (a 500), never an allow.
	count(_failed) == 0
	[reason, term] := _grants[0]
	msg := sprintf("%s, which grants action %s", [requirements.grant_state(term), input.action])
} else := {"allow": true, "reason": "membership", "message": _membership_message} if {
	count(_failed) == 0
}

_failed := [req | some req in _entry.requires; not requirements.met(req)]

# The role and permission terms that hold, in catalog order: the first one
# names the allow.
_grants := [[reason, term] |
	some req in _entry.requires
	some term in req.any_of
	reason := requirements.grant_reason(term)
	requirements.satisfied(term)
]

_entry := data.verdict.actions[input.action]

_membership_message := sprintf("any member of organization %s may perform action %s", [input.principal.org_id, input.action])

destructive(action) if data.verdict.actions[action].destructive == true

# ---------------------------------------------------------------------------
# Load-time checks. Each problem names the entry and what is wrong with it.

problems contains sprintf("data.verdict.actions must be an object of entries, not %s", [type_name(data.verdict.actions)]) if {
	not is_object(data.verdict.actions)
}

problems contains sprintf("catalog entry %s: the name is a permission key (org:<feature>:<permission>), which is reserved for Clerk permissions", [name]) if {
	some name, _ in data.verdict.actions
	permissions.is_key(name)
}

problems contains sprintf("catalog entry %s: must be an object with a \"requires\" list", [name]) if {
	some name, entry in data.verdict.actions
	not _has_list(entry, "requires")
}

problems contains sprintf("catalog entry %s: \"destructive\" must be true or false", [name]) if {
	some name, entry in data.verdict.actions
	is_object(entry)
	"destructive" in object.keys(entry)
	not is_boolean(entry.destructive)
}

problems contains sprintf("catalog entry %s: requirement %d: %s", [name, i, problem]) if {
	some name, entry in data.verdict.actions
	_has_list(entry, "requires")
	some i, req in entry.requires
	some problem in requirements.problems(req)
}

# obj is an object whose key holds a list. (A plain `not is_array(obj.key)`
# would pass over an absent key: negating an undefined reference fails.)
_has_list(obj, key) if {
	is_object(obj)
	is_array(object.get(obj, key, null))
}
