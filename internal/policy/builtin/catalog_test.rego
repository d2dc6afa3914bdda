package verdict.catalog_test

import data.verdict.catalog

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": [], "features": ["o:posts"], "plans": [], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin"})

publisher := object.union(member, {"org_permissions": ["org:posts:publish"]})

# catalog.outcome is a complete rule over input, asked once the tenancy
# checks passed; a test swaps the catalog with `with data.verdict.actions`.
outcome(principal, action) := o if {
	o := catalog.outcome with input as {"principal": principal, "action": action, "resource": {"org_id": "org_A"}, "context": {}}
}

# What the service's loader would say about a catalog.
problems(actions) := p if p := catalog.problems with data.verdict.actions as actions

# One catalog entry a:b with the given requirements.
entry(requires) := {"a:b": {"requires": requires}}

# The problems of a:b with exactly one requirement.
req_problems(req) := problems(entry([req]))

# ---------------------------------------------------------------------------
# Allows.

test_an_entry_without_requirements_allows_any_member if {
	outcome(member, "tasks:read") == {
		"allow": true, "reason": "membership",
		"message": "any member of organization org_A may perform action tasks:read",
	}
	outcome(admin, "tasks:list").reason == "membership"
	outcome(object.remove(member, ["org_role"]), "tasks:create").reason == "membership"
}

test_a_role_term_allows_as_role if {
	outcome(admin, "billing:manage") == {
		"allow": true, "reason": "role",
		"message": "the session has role org:admin, which grants action billing:manage",
	}
}

test_a_custom_permission_term_allows_as_permission if {
	outcome(publisher, "posts:publish") == {
		"allow": true, "reason": "permission",
		"message": "the session token carries permission org:posts:publish, which grants action posts:publish",
	}
}

test_a_system_permission_term_allows_as_role if {
	actions := {"members:read": {"requires": [{"any_of": [{"permission": "org:sys_memberships:read"}]}]}}
	d := outcome(member, "members:read") with data.verdict.actions as actions
	d == {
		"allow": true, "reason": "role",
		"message": "role org:member holds system permission org:sys_memberships:read, which grants action members:read",
	}
}

test_the_allow_names_the_term_that_held if {
	actions := {"posts:publish": {"requires": [{"any_of": [{"permission": "org:posts:publish"}, {"role": "org:admin"}]}]}}
	outcome(publisher, "posts:publish").reason == "permission" with data.verdict.actions as actions
	outcome(admin, "posts:publish").reason == "role" with data.verdict.actions as actions
}

test_a_grant_in_any_requirement_names_the_allow if {
	actions := {"reports:export": {"requires": [
		{"any_of": [{"feature": "o:posts"}]},
		{"any_of": [{"role": "org:admin"}]},
	]}}
	outcome(admin, "reports:export").reason == "role" with data.verdict.actions as actions
}

# The contract: an allow names the first role or permission term that holds.
# An admin who also carries org:posts:publish satisfies both terms of the
# shipped posts:publish entry (two grant terms with different messages
# holding at once must not be an eval_conflict_error, a 500).
test_when_several_grants_hold_the_first_listed_names_the_allow if {
	both := object.union(admin, {"org_permissions": ["org:posts:publish"]})
	outcome(both, "posts:publish").reason == "role"
	actions := {"posts:publish": {"requires": [{"any_of": [{"permission": "org:posts:publish"}, {"role": "org:admin"}]}]}}
	outcome(both, "posts:publish").reason == "permission" with data.verdict.actions as actions

	# Across requirements too: the feature gate, then the permission, then the role.
	holder := object.union(both, {"org_permissions": ["org:reports:export"], "features": ["o:reports"]})
	outcome(holder, "reports:export").reason == "permission" with data.verdict.actions as gated
}

test_gates_alone_allow_as_membership if {
	actions := {
		"posts:read": {"requires": [{"any_of": [{"feature": "o:posts"}]}]},
		"posts:audit": {"requires": [{"any_of": [{"not_impersonated": true}]}]},
		"posts:fresh": {"requires": [{"any_of": [{"reverification": "lax"}]}]},
	}
	outcome(member, "posts:read").reason == "membership" with data.verdict.actions as actions
	outcome(member, "posts:audit").reason == "membership" with data.verdict.actions as actions
	fresh := object.union(member, {"factor_verification_age": [0, 0]})
	d := outcome(fresh, "posts:fresh") with data.verdict.actions as actions
	d == {"allow": true, "reason": "membership", "message": "any member of organization org_A may perform action posts:fresh"}
}

# ---------------------------------------------------------------------------
# Denials.

gated := {"reports:export": {"requires": [
	{"any_of": [{"feature": "o:reports"}]},
	{"any_of": [{"permission": "org:reports:export"}]},
	{"any_of": [{"role": "org:admin"}]},
]}}

test_every_requirement_must_be_met if {
	p := object.union(admin, {"org_permissions": ["org:reports:export"], "features": ["o:reports"]})
	outcome(object.remove(p, ["org_role"]), "reports:export").allow with data.verdict.actions as {"reports:export": {"requires": array.slice(gated["reports:export"].requires, 0, 2)}}
	outcome(object.union(p, {"features": []}), "reports:export").reason == "missing_feature" with data.verdict.actions as gated
	outcome(object.union(p, {"org_permissions": []}), "reports:export").reason == "missing_permission" with data.verdict.actions as gated
	outcome(object.union(p, {"org_role": "org:member"}), "reports:export").reason == "missing_role" with data.verdict.actions as gated
}

test_the_failure_with_the_contracts_first_code_wins_whatever_the_list_order if {
	reversed := {"reports:export": {"requires": array.reverse(gated["reports:export"].requires)}}
	every actions in [gated, reversed] {
		outcome(member, "reports:export").reason == "missing_role" with data.verdict.actions as actions
		d := outcome(admin, "reports:export") with data.verdict.actions as actions
		d == {
			"allow": false, "reason": "missing_permission",
			"message": "action reports:export needs permission org:reports:export; the session token does not carry permission org:reports:export",
		}
	}
}

test_among_failures_with_the_same_code_the_earlier_requirement_explains if {
	actions := {"a:b": {"requires": [
		{"any_of": [{"role": "org:owner"}]},
		{"any_of": [{"role": "org:admin"}]},
	]}}
	d := outcome(member, "a:b") with data.verdict.actions as actions
	d.message == "action a:b needs role org:owner; the session has role org:member"
}

test_an_explicit_deny_code_is_the_one_compared if {
	# The role requirement is named missing_plan, so the derived
	# missing_feature of the other requirement comes first.
	actions := {"a:b": {"requires": [
		{"any_of": [{"role": "org:admin"}], "deny": "missing_plan"},
		{"any_of": [{"feature": "o:reports"}]},
	]}}
	outcome(member, "a:b").reason == "missing_feature" with data.verdict.actions as actions
	outcome(object.union(member, {"features": ["o:reports"]}), "a:b").reason == "missing_plan" with data.verdict.actions as actions
}

test_without_a_deny_code_a_role_or_permission_requirement_is_missing_permission if {
	actions := {"posts:publish": {"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:posts:publish"}]}]}}
	outcome(member, "posts:publish").reason == "missing_permission" with data.verdict.actions as actions
	named := {"posts:publish": {"requires": [{"any_of": [{"role": "org:admin"}, {"permission": "org:posts:publish"}], "deny": "missing_role"}]}}
	outcome(member, "posts:publish").reason == "missing_role" with data.verdict.actions as named
}

test_a_denial_says_what_the_failed_requirement_needs_and_what_the_session_has if {
	outcome(member, "posts:publish") == {
		"allow": false, "reason": "missing_permission",
		"message": concat("", [
			"action posts:publish needs role org:admin or permission org:posts:publish; ",
			"the session has role org:member; the session token does not carry permission org:posts:publish",
		]),
	}
	outcome(member, "billing:manage") == {
		"allow": false, "reason": "missing_role",
		"message": "action billing:manage needs role org:admin; the session has role org:member",
	}
}

test_each_gate_denies_with_its_own_code if {
	actions := {
		"a:feature": {"requires": [{"any_of": [{"feature": "o:reports"}]}]},
		"a:plan": {"requires": [{"any_of": [{"plan": "o:pro"}]}]},
		"a:fresh": {"requires": [{"any_of": [{"reverification": "strict"}]}]},
		"a:direct": {"requires": [{"any_of": [{"not_impersonated": true}]}]},
	}
	impersonated := object.union(member, {"actor": {"sub": "user_support"}})
	outcome(member, "a:feature") == {
		"allow": false, "reason": "missing_feature",
		"message": "action a:feature needs feature o:reports; the session has features o:posts",
	} with data.verdict.actions as actions
	outcome(member, "a:plan") == {
		"allow": false, "reason": "missing_plan",
		"message": "action a:plan needs plan o:pro; the session has no plans",
	} with data.verdict.actions as actions
	outcome(member, "a:fresh") == {
		"allow": false, "reason": "reverification_required",
		"message": "action a:fresh needs reverification strict (a second-factor verification within the last 10 minutes); the session token shows no verification age (fva)",
	} with data.verdict.actions as actions
	outcome(impersonated, "a:direct") == {
		"allow": false, "reason": "impersonation_denied",
		"message": "action a:direct needs a session that is not impersonated; user_support is impersonating the user",
	} with data.verdict.actions as actions
}

# ---------------------------------------------------------------------------
# destructive

test_destructive_is_only_a_literal_true if {
	actions := {
		"a:yes": {"destructive": true, "requires": []},
		"a:no": {"destructive": false, "requires": []},
		"a:unset": {"requires": []},
	}
	catalog.destructive("a:yes") with data.verdict.actions as actions
	not catalog.destructive("a:no") with data.verdict.actions as actions
	not catalog.destructive("a:unset") with data.verdict.actions as actions
	not catalog.destructive("a:absent") with data.verdict.actions as actions
}

# ---------------------------------------------------------------------------
# Load-time problems: the service refuses a revision whose catalog has any.

ok_entries := {
	"a:members": {"requires": []},
	"a:admins": {"description": "d", "destructive": false, "requires": [{"any_of": [{"role": "org:admin"}], "deny": "missing_role"}]},
	"a:fresh": {"destructive": true, "requires": [
		{"any_of": [{"reverification": {"level": "second_factor", "after_minutes": 10}}]},
		{"any_of": [{"reverification": {"level": "second_factor", "afterMinutes": 10}}]},
	]},
}

test_well_formed_entries_have_no_problems if {
	problems(ok_entries) == set()
	problems({}) == set()
}

test_both_spellings_of_a_reverification_window_are_accepted if {
	req_problems({"any_of": [{"reverification": {"level": "second_factor", "after_minutes": 10}}]}) == set()
	req_problems({"any_of": [{"reverification": {"level": "second_factor", "afterMinutes": 10}}]}) == set()
	req_problems({"any_of": [{"reverification": {"level": "first_factor", "after_minutes": 1}}]}) == set()
	req_problems({"any_of": [{"reverification": {"level": "multi_factor", "afterMinutes": 60}}]}) == set()
}

test_the_catalog_must_be_an_object if {
	problems([]) == {"data.verdict.actions must be an object of entries, not array"}
	problems("tasks:read") == {"data.verdict.actions must be an object of entries, not string"}
	problems(null) == {"data.verdict.actions must be an object of entries, not null"}
}

test_a_name_shaped_like_a_permission_key_is_a_problem if {
	problems({"org:reports:export": {"requires": []}}) == {"catalog entry org:reports:export: the name is a permission key (org:<feature>:<permission>), which is reserved for Clerk permissions"}
	count(problems({"org:sys_billing:manage": {"requires": []}})) == 1
	problems({"org:reports": {"requires": []}}) == set()
}

test_requires_must_be_a_list if {
	want := {"catalog entry a:b: must be an object with a \"requires\" list"}
	problems({"a:b": {"requires": {}}}) == want
	problems({"a:b": {"requires": "org:admin"}}) == want
	problems({"a:b": {"requires": null}}) == want
}

# An entry without "requires" (a typo such as "require") and an entry that
# is not an object are problems: the first would otherwise allow every
# member as membership.
test_an_entry_without_requires_or_not_an_object_is_a_problem if {
	want := {"catalog entry a:b: must be an object with a \"requires\" list"}
	problems({"a:b": {"require": []}}) == want
	problems({"a:b": {"description": "no requires"}}) == want
	problems({"a:b": []}) == want
	problems({"a:b": "org:admin"}) == want
}

test_destructive_must_be_true_or_false if {
	want := {"catalog entry a:b: \"destructive\" must be true or false"}
	problems({"a:b": {"destructive": "true", "requires": []}}) == want
	problems({"a:b": {"destructive": 1, "requires": []}}) == want
	problems({"a:b": {"destructive": null, "requires": []}}) == want
	problems({"a:b": {"destructive": true, "requires": []}}) == set()
	problems({"a:b": {"destructive": false, "requires": []}}) == set()
}

test_any_of_must_be_a_non_empty_list if {
	req_problems({"any_of": []}) == {"catalog entry a:b: requirement 0: \"any_of\" must not be empty"}
	req_problems({"any_of": {"role": "org:admin"}}) == {"catalog entry a:b: requirement 0: must be an object with an \"any_of\" list"}
	req_problems({"any_of": "org:admin"}) == {"catalog entry a:b: requirement 0: must be an object with an \"any_of\" list"}
}

# A requirement without "any_of" (a typo such as "anyof") is a problem, as
# is one that is not an object: the first would otherwise never fail, the
# second raise a builtin error instead of a problem.
test_a_requirement_without_any_of_or_not_an_object_is_a_problem if {
	want := {"catalog entry a:b: requirement 0: must be an object with an \"any_of\" list"}
	req_problems({"anyof": [{"role": "org:admin"}]}) == want
	req_problems({"deny": "missing_role"}) == want
	req_problems("org:admin") == want
	req_problems(5) == want
}

test_problems_name_the_requirement_by_its_index if {
	problems(entry([{"any_of": [{"role": "org:admin"}]}, {"any_of": []}])) == {"catalog entry a:b: requirement 1: \"any_of\" must not be empty"}
}

test_a_term_must_have_exactly_one_key if {
	want := {"catalog entry a:b: requirement 0: term 0: must be an object with exactly one key"}
	req_problems({"any_of": [{"role": "org:admin", "permission": "org:posts:publish"}]}) == want
	req_problems({"any_of": [{}]}) == want
	req_problems({"any_of": ["org:admin"]}) == want
	req_problems({"any_of": [["role", "org:admin"]]}) == want
}

test_an_unknown_term_kind_is_a_problem if {
	req_problems({"any_of": [{"rol": "org:admin"}]}) == {"catalog entry a:b: requirement 0: term 0: rol is not a term kind (feature, not_impersonated, permission, plan, reverification, role)"}
	count(req_problems({"any_of": [{"Role": "org:admin"}]})) == 1
	count(req_problems({"any_of": [{"org_role": "org:admin"}]})) == 1
}

test_a_bad_role_is_a_problem if {
	req_problems({"any_of": [{"role": ""}]}) == {"catalog entry a:b: requirement 0: term 0: role  is not usable (a role such as org:admin)"}
	req_problems({"any_of": [{"role": 5}]}) == {"catalog entry a:b: requirement 0: term 0: role 5 is not usable (a role such as org:admin)"}
	req_problems({"any_of": [{"role": "admin"}]}) == set()
}

test_a_bad_permission_is_a_problem if {
	want := {"catalog entry a:b: requirement 0: term 0: permission posts:publish is not usable (a permission key org:<feature>:<permission>)"}
	req_problems({"any_of": [{"permission": "posts:publish"}]}) == want
	count(req_problems({"any_of": [{"permission": "org:posts"}]})) == 1
	count(req_problems({"any_of": [{"permission": "org:posts:publish:now"}]})) == 1
	req_problems({"any_of": [{"permission": "org:sys_billing:read"}]}) == set()
}

test_a_feature_or_plan_with_a_scope_has_does_not_know_is_a_problem if {
	req_problems({"any_of": [{"feature": "lol:x"}]}) == {"catalog entry a:b: requirement 0: term 0: feature lol:x is not usable (a feature as has() takes it: name, o:name or u:name)"}
	req_problems({"any_of": [{"plan": "lol:x"}]}) == {"catalog entry a:b: requirement 0: term 0: plan lol:x is not usable (a plan as has() takes it: name, o:name or u:name)"}
	count(req_problems({"any_of": [{"feature": "ou:x"}]})) == 1
	count(req_problems({"any_of": [{"feature": "o:"}]})) == 1
	count(req_problems({"any_of": [{"feature": ""}]})) == 1
	count(req_problems({"any_of": [{"plan": 3}]})) == 1
	req_problems({"any_of": [{"feature": "organization:x"}, {"plan": "user:x"}, {"plan": "x"}]}) == set()
}

test_an_unknown_reverification_preset_or_level_is_a_problem if {
	req_problems({"any_of": [{"reverification": "sometimes"}]}) == {"catalog entry a:b: requirement 0: term 0: reverification sometimes is not usable (a preset strict_mfa, strict, moderate, lax, or {\"level\": ..., \"afterMinutes\": N})"}
	count(req_problems({"any_of": [{"reverification": "STRICT"}]})) == 1
	count(req_problems({"any_of": [{"reverification": {"level": "third_factor", "after_minutes": 5}}]})) == 1
	count(req_problems({"any_of": [{"reverification": {"level": "first_factor"}}]})) == 1
	count(req_problems({"any_of": [{"reverification": {"level": "first_factor", "after_minutes": 0}}]})) == 1
	count(req_problems({"any_of": [{"reverification": {"level": "first_factor", "afterMinutes": -5}}]})) == 1
	count(req_problems({"any_of": [{"reverification": {"level": "first_factor", "after_minutes": "5"}}]})) == 1
	count(req_problems({"any_of": [{"reverification": 10}]})) == 1
}

test_not_impersonated_must_be_true if {
	req_problems({"any_of": [{"not_impersonated": false}]}) == {"catalog entry a:b: requirement 0: term 0: not_impersonated false is not usable (true)"}
	count(req_problems({"any_of": [{"not_impersonated": "true"}]})) == 1
}

test_an_unknown_deny_code_is_a_problem if {
	req_problems({"any_of": [{"role": "org:admin"}], "deny": "forbidden"}) == {"catalog entry a:b: requirement 0: \"deny\" is forbidden, which is not a requirement code (impersonation_denied, missing_feature, missing_permission, missing_plan, missing_role, reverification_required)"}
	count(req_problems({"any_of": [{"role": "org:admin"}], "deny": "unknown_action"})) == 1
	count(req_problems({"any_of": [{"role": "org:admin"}], "deny": null})) == 1
}

test_every_problem_of_an_entry_is_reported if {
	actions := {
		"org:a:b": {"requires": []},
		"a:b": {"destructive": "yes", "requires": [
			{"any_of": [{"role": "org:admin"}], "deny": "nope"},
			{"any_of": [{"feature": "lol:x"}, {"rol": "x"}]},
		]},
		"a:c": {"requires": [{"any_of": []}]},
	}
	count(problems(actions)) == 6
}

test_actions_lists_the_catalog_and_the_system_permission_keys if {
	"tasks:read" in catalog.actions
	"org:sys_billing:read" in catalog.actions
	count(catalog.actions) == count(data.verdict.actions) + count(data.verdict.system_permissions)
}

test_authentication_must_be_token_or_subject if {
	problems := catalog.problems with data.verdict.actions as {"x:y": {"requires": [], "authentication": "api_key"}}
	some p in problems
	contains(p, "\"authentication\" must be")
}

test_a_subject_entry_must_be_user_scoped if {
	problems := catalog.problems with data.verdict.actions as {"x:y": {"requires": [], "authentication": "subject", "callers": ["a"]}}
	some p in problems
	contains(p, "needs \"scope\": \"user\"")
}

test_a_subject_entry_names_its_callers if {
	every callers in [null, [], [""], [1], "scheduler"] {
		problems := catalog.problems with data.verdict.actions as {"x:y": {"requires": [], "scope": "user", "authentication": "subject", "callers": callers}}
		some p in problems
		contains(p, "needs \"callers\"")
	}
	ok := catalog.problems with data.verdict.actions as {"x:y": {"requires": [], "scope": "user", "authentication": "subject", "callers": ["scheduler"]}}
	count(ok) == 0
}

test_callers_need_subject_authentication if {
	problems := catalog.problems with data.verdict.actions as {"x:y": {"requires": [], "callers": ["a"]}}
	some p in problems
	contains(p, "only with")
}
