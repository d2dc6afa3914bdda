# The action catalog: application actions and what each requires. The
# shipped catalog is data (data.verdict.actions, policies/data.json); a team
# adds its own actions in a package of its own, verdict.rules.<name>, as the
# object `actions`, and a name defined twice is refused at load.
# policies/README.md documents the schema for people editing it.
#
# The catalog is checked once per policy revision, not per request: the
# service evaluates `problems` when it loads the policies and refuses a
# revision whose catalog has any, the way it refuses Rego that does not
# compile. Decisions can then take every entry at its word.
package verdict.catalog

import data.verdict.permissions
import data.verdict.requirements
import data.verdict.team

# The catalog entry of input.action: shipped first, else a team's. Load-time
# checks guarantee at most one definition.
entry := e if {
	e := data.verdict.actions[input.action]
} else := e if {
	some name
	e := data.verdict.rules[name].actions[input.action]
}

# Every action the policies know, for the requests that ask about all of
# them at once (allowed actions, AuthZEN's action search): the catalog's
# entries, shipped and the teams', and the system permission keys.
# Evaluated once per policy revision.
actions contains name if some name, _ in data.verdict.actions

actions contains name if {
	some pkg
	some name, _ in data.verdict.rules[pkg].actions
}

actions contains key if some key in data.verdict.system_permissions

# The action may be decided for a caller without a session token, from
# the AuthZEN subject the calling service vouches for (input.subject):
# its entry says "authentication": "subject" and lists in "callers" the
# services that may vouch, each known by its API key's name
# (input.caller, absent when the service runs without API keys), so that
# no caller can pass for another. Such an entry is user-scoped (a
# load-time check), as a subject has no active organization. A
# permission key never is.
accepts_subject if {
	entry.authentication == "subject"
	input.caller in entry.callers
	not permissions.is_key(input.action)
}

# The action needs no active organization (the entry says "scope": "user").
# A permission key never is, whatever an entry says: Clerk's permissions
# belong to an organization.
user_scoped if {
	entry.scope == "user"
	not permissions.is_key(input.action)
}

# The outcome of the catalog action input.action, once its tenancy checks
# and the teams' deny rules passed: an allow for an entry without
# requirements (the common case, kept to one lookup); else, when every
# failed requirement is one a team grant may stand in for and a grant holds,
# the grant's allow; else the failed requirement whose code comes first in
# the contract's order; else an allow with the term that granted it.
outcome := {"allow": true, "reason": "membership", "message": _membership_message} if {
	entry.requires == []
} else := team.grant if {
	_failed != []
	not data.verdict.actions[input.action] # grants never stand in for a shipped action's requirements
	team.grants # any team grant at all: the cheap test first
	every req in _failed {
		requirements.grantable(req)
	}
	team.grant
} else := {"allow": false, "reason": code, "message": requirements.denial_message(req)} if {
	_failed != []
	[code, req] := _denying
} else := {"allow": true, "reason": reason, "message": msg} if {
	# Allows require that nothing failed: should a failed requirement ever
	# have no deny code, the outcome is undefined (a 500), never an allow.
	_failed == []
	[reason, term] := _grants[0]
	msg := sprintf("%s, which grants action %s", [requirements.grant_state(term), input.action])
} else := {"allow": true, "reason": "membership", "message": _membership_message} if {
	_failed == []
}

# The failed requirements; undefined, like every branch of outcome, when
# input.action has no entry (an empty list would read as nothing failed).
_failed := [req | some req in reqs; not requirements.met(req)] if reqs := entry.requires

# The failed requirement a denial names, with its code: the one whose code
# comes first in the contract's order (the first listed of those). A single
# failed requirement, the common case, is its own answer.
_denying := [requirements.deny_code(req), req] if {
	[req] := _failed
} else := [code, req] if {
	_failed != []
	[_, _, code, req] := min([[requirements.rank[c], i, c, r] | some i, r in _failed; c := requirements.deny_code(r)])
}

# The role and permission terms that hold, in catalog order: the first one
# names the allow.
_grants := [[reason, term] |
	some req in entry.requires
	some term in req.any_of
	reason := requirements.grant_reason(term)
	requirements.satisfied(term)
]

# The membership allow's message. An entry's own scope says which: a
# catalog entry is never named like a permission key (the catalog refuses
# such names at load), so its scope is what user_scoped would say, without
# asking that rule. A caller without a session got here through a subject
# its service vouches for.
_membership_message := sprintf("any member of organization %s may perform action %s", [input.principal.org_id, input.action]) if {
	not entry.scope == "user"
} else := sprintf("any signed-in user may perform action %s", [input.action]) if {
	input.principal.authenticated == true
} else := sprintf("action %s accepts any subject the calling service vouches for", [input.action])

destructive(action) if data.verdict.actions[action].destructive == true

destructive(action) if {
	some name
	data.verdict.rules[name].actions[action].destructive == true
}

# ---------------------------------------------------------------------------
# Load-time checks. Each problem names the entry and what is wrong with it.

# Where each action is defined: the shipped catalog or a team package.
_defined contains ["data.verdict.actions", name, entry] if {
	is_object(data.verdict.actions)
	some name, entry in data.verdict.actions
}

_defined contains [sprintf("package verdict.rules.%s", [pkg]), name, entry] if {
	some pkg
	actions := data.verdict.rules[pkg].actions
	is_object(actions)
	some name, entry in actions
}

problems contains problem if some problem in team.problems

problems contains sprintf("data.verdict.actions must be an object of entries, not %s", [type_name(data.verdict.actions)]) if {
	not is_object(data.verdict.actions)
}

problems contains sprintf("package verdict.rules.%s: actions must be an object of catalog entries, not %s", [pkg, type_name(actions)]) if {
	some pkg
	actions := data.verdict.rules[pkg].actions
	not is_object(actions)
}

problems contains sprintf("catalog entry %s: defined in %s and in %s; an action has one definition", [name, a, b]) if {
	some [a, name, _] in _defined
	some [b, other, _] in _defined
	other == name
	a < b
}

problems contains sprintf("catalog entry %s: the name is a permission key (org:<feature>:<permission>), which is reserved for Clerk permissions", [name]) if {
	some [_, name, _] in _defined
	permissions.is_key(name)
}

problems contains sprintf("catalog entry %s: must be an object with a \"requires\" list", [name]) if {
	some [_, name, entry] in _defined
	not _has_list(entry, "requires")
}

problems contains sprintf("catalog entry %s: \"destructive\" must be true or false", [name]) if {
	some [_, name, entry] in _defined
	is_object(entry)
	"destructive" in object.keys(entry)
	not is_boolean(entry.destructive)
}

problems contains sprintf("catalog entry %s: \"scope\" must be \"organization\" or \"user\", not %v", [name, entry.scope]) if {
	some [_, name, entry] in _defined
	is_object(entry)
	"scope" in object.keys(entry)
	not entry.scope in {"organization", "user"}
}

problems contains sprintf("catalog entry %s: \"authentication\" must be \"token\" or \"subject\", not %v", [name, entry.authentication]) if {
	some [_, name, entry] in _defined
	is_object(entry)
	"authentication" in object.keys(entry)
	not entry.authentication in {"token", "subject"}
}

problems contains sprintf("catalog entry %s: \"authentication\": \"subject\" needs \"callers\", a non-empty list of the API key names of the services that may vouch for a subject", [name]) if {
	some [_, name, entry] in _defined
	is_object(entry)
	entry.authentication == "subject"
	not _names(object.get(entry, "callers", null))
}

problems contains sprintf("catalog entry %s: \"callers\" means something only with \"authentication\": \"subject\"", [name]) if {
	some [_, name, entry] in _defined
	is_object(entry)
	"callers" in object.keys(entry)
	not entry.authentication == "subject"
}

# list is a non-empty list of non-empty strings.
_names(list) if {
	is_array(list)
	count(list) > 0
	every name in list {
		is_string(name)
		name != ""
	}
}

problems contains sprintf("catalog entry %s: \"authentication\": \"subject\" needs \"scope\": \"user\" (a subject vouched for by a service has no active organization)", [name]) if {
	some [_, name, entry] in _defined
	is_object(entry)
	entry.authentication == "subject"
	not entry.scope == "user"
}

problems contains sprintf("catalog entry %s: requirement %d: %s", [name, i, problem]) if {
	some [_, name, entry] in _defined
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
