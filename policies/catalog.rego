# The application action catalog (data.verdict.actions): actions such as
# tasks:read that are not Clerk permission keys. Teams change what an action
# needs by editing data.json; this file only interprets entries.
#
# An entry is {"description": "...", "destructive": bool, "requires":
# [requirement, ...]} (see requirements.rego and README.md). Every entry is organization-scoped, so the
# tenancy checks run before its requirements. "requires": [] means any member
# of the active organization.
package verdict.catalog

import data.verdict.permissions
import data.verdict.requirements
import data.verdict.session

# The action has a usable catalog entry. A malformed entry is treated as
# absent (unknown_action) rather than as an entry without requirements, so a
# typo in data can never open an action to every member. Names shaped like
# permission keys are reserved for Clerk's permissions and never looked up
# here.
known(action) if {
	not permissions.is_key(action)
	valid_entry(data.verdict.actions[action])
}

valid_entry(entry) if {
	is_object(entry)
	is_array(entry.requires)
	_valid_destructive(entry)
	every req in entry.requires {
		requirements.valid(req)
	}
}

# "destructive": true marks an action the impersonation rule may forbid
# (impersonation.rego); anything but a boolean is a typo, not "false".
_valid_destructive(entry) if not "destructive" in object.keys(entry)

_valid_destructive(entry) if is_boolean(entry.destructive)

# The entry says the action is destructive.
destructive(action) if data.verdict.actions[action].destructive == true

# Entry names that will never be used, for the data lint test and for
# operators reading `opa eval data.verdict.catalog.unusable`.
unusable contains name if {
	some name, entry in data.verdict.actions
	not valid_entry(entry)
}

unusable contains name if {
	some name, _ in data.verdict.actions
	permissions.is_key(name)
}

# The decision for a known catalog action once the tenancy checks passed.
outcome(action) := {"allow": false, "reason": code, "message": msg} if {
	req := _winning_failure(data.verdict.actions[action])
	code := requirements.deny_code(req)
	msg := sprintf("action %s needs %s; %s", [action, requirements.needs(req), requirements.state(req)])
} else := {"allow": true, "reason": reason, "message": msg} if {
	[reason, msg] := _allow(action, data.verdict.actions[action])
}

# Of the unmet requirements, the one whose deny code comes first in the
# contract's order; among equal codes, the first listed. Undefined when every
# requirement is met.
_winning_failure(entry) := ranked[0] if {
	failed := [req | some req in entry.requires; not requirements.met(req)]
	ranked := [req |
		some code in requirements.codes
		some req in failed
		requirements.deny_code(req) == code
	]
	count(ranked) > 0
}

# An allow names the first grant that let it through (role or permission);
# an entry that only needs membership, or only gates on features, plans,
# reverification or impersonation, allows as membership.
_allow(action, entry) := [reason, msg] if {
	grants := [term |
		some req in entry.requires
		some term in req.any_of
		requirements.grant_reason(term)
		requirements.satisfied(term)
	]
	count(grants) > 0
	term := grants[0]
	reason := requirements.grant_reason(term)
	msg := sprintf("%s, which grants action %s", [requirements.grant_state(term), action])
} else := ["membership", sprintf("any member of organization %s may perform action %s", [session.org_id, action])]
