package verdict.catalog_test

import data.verdict.catalog

member := {
	"authenticated": true, "user_id": "user_1", "org_id": "org_A", "org_role": "org:member",
	"org_permissions": [], "features": ["o:posts"],
}

admin := object.union(member, {"org_role": "org:admin"})

outcome(principal, action, actions) := d if {
	d := catalog.outcome(action) with input.principal as principal with data.verdict.actions as actions
}

test_shipped_catalog_is_fully_usable if {
	count(catalog.unusable) == 0
	every name, _ in data.verdict.actions {
		catalog.known(name)
	}
}

test_shipped_catalog_matches_the_contract if {
	object.keys(data.verdict.actions) == {
		"invitations:create", "posts:publish", "tasks:list", "tasks:read",
		"tasks:create", "billing:manage", "admin:access", "reports:export",
		"organization:delete",
	}
}

test_shipped_destructive_actions if {
	{name | some name, _ in data.verdict.actions; catalog.destructive(name)} == {"organization:delete", "billing:manage"}
}

test_destructive_must_be_a_boolean if {
	actions := {
		"a:yes": {"destructive": true, "requires": []},
		"a:no": {"destructive": false, "requires": []},
		"a:typo": {"destructive": "true", "requires": []},
	}
	catalog.unusable == {"a:typo"} with data.verdict.actions as actions
	catalog.destructive("a:yes") with data.verdict.actions as actions
	not catalog.destructive("a:no") with data.verdict.actions as actions
	not catalog.destructive("a:typo") with data.verdict.actions as actions
}

test_shipped_roles_hold_only_known_system_permissions if {
	every _, role in data.verdict.roles {
		every key in role.system_permissions {
			key in data.verdict.system_permissions
		}
	}
}

test_malformed_entries_are_unknown_not_open if {
	actions := {
		"typo:requires": {"require": []},
		"typo:term": {"requires": [{"any_of": [{"rol": "org:admin"}]}]},
		"typo:deny": {"requires": [{"any_of": [{"role": "org:admin"}], "deny": "nope"}]},
		"not:object": [],
		"ok:members": {"requires": []},
	}
	unusable := catalog.unusable with data.verdict.actions as actions
	unusable == {"typo:requires", "typo:term", "typo:deny", "not:object"}
	not catalog.known("typo:requires") with data.verdict.actions as actions
	not catalog.known("typo:term") with data.verdict.actions as actions
	catalog.known("ok:members") with data.verdict.actions as actions
}

test_entries_cannot_shadow_permission_keys if {
	actions := {"org:reports:export": {"requires": []}}
	not catalog.known("org:reports:export") with data.verdict.actions as actions
	catalog.unusable == {"org:reports:export"} with data.verdict.actions as actions
}

test_unlisted_action_is_unknown if {
	not catalog.known("tasks:delete")
}

test_membership_allow if {
	d := outcome(member, "tasks:read", data.verdict.actions)
	d == {"allow": true, "reason": "membership", "message": "any member of organization org_A may perform action tasks:read"}
}

test_role_allow if {
	d := outcome(admin, "billing:manage", data.verdict.actions)
	d == {"allow": true, "reason": "role", "message": "the session has role org:admin, which grants action billing:manage"}
}

test_first_satisfied_grant_names_the_allow if {
	p := object.union(admin, {"org_permissions": ["org:posts:publish"]})
	outcome(p, "posts:publish", data.verdict.actions).reason == "role"
	actions := {"posts:publish": {"requires": [{"any_of": [{"permission": "org:posts:publish"}, {"role": "org:admin"}]}]}}
	outcome(p, "posts:publish", actions).reason == "permission"
}

test_system_permission_term_allows_as_role if {
	actions := {"members:read": {"requires": [{"any_of": [{"permission": "org:sys_memberships:read"}]}]}}
	d := outcome(member, "members:read", actions)
	d == {"allow": true, "reason": "role", "message": "role org:member holds system permission org:sys_memberships:read, which grants action members:read"}
}

test_gates_alone_allow_as_membership if {
	actions := {"posts:read": {"requires": [{"any_of": [{"feature": "o:posts"}]}]}}
	outcome(member, "posts:read", actions).reason == "membership"
}

# Requirements are AND-ed; the failing one with the earliest contract code
# wins whatever the list order.
gated := {"reports:export": {"requires": [
	{"any_of": [{"feature": "o:reports"}]},
	{"any_of": [{"permission": "org:reports:export"}]},
	{"any_of": [{"role": "org:admin"}]},
]}}

test_requirements_are_anded if {
	p := object.union(admin, {"org_permissions": ["org:reports:export"], "features": ["o:reports"]})
	outcome(p, "reports:export", gated).allow
	outcome(object.union(p, {"features": []}), "reports:export", gated).reason == "missing_feature"
	outcome(object.union(p, {"org_permissions": []}), "reports:export", gated).reason == "missing_permission"
}

test_failures_follow_contract_order_not_list_order if {
	outcome(member, "reports:export", gated).reason == "missing_role"
	d := outcome(admin, "reports:export", gated)
	d.reason == "missing_permission"
	d.message == "action reports:export needs permission org:reports:export; the session token does not carry permission org:reports:export"
}
