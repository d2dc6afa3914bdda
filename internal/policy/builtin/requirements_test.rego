package verdict.requirements_test

import data.verdict.requirements

member := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
	"org_permissions": ["org:posts:publish"], "features": ["o:posts"], "plans": ["o:free"],
	"factor_verification_age": [30, -1], "token_version": 2,
}

admin := object.union(member, {"org_role": "org:admin"})

impersonated := object.union(member, {"actor": {"sub": "user_support"}})

role_admin := {"role": "org:admin"}

perm_publish := {"permission": "org:posts:publish"}

perm_export := {"permission": "org:reports:export"}

# A term, or a requirement, against a session.
holds(term, principal) if requirements.satisfied(term) with input.principal as principal

met(req, principal) if requirements.met(req) with input.principal as principal

state(req, principal) := s if s := requirements.state(req) with input.principal as principal

# ---------------------------------------------------------------------------
# Terms against the session.

test_a_role_term_holds_for_that_role_with_or_without_the_org_prefix if {
	holds({"role": "org:member"}, member)
	holds({"role": "member"}, member)
	holds(role_admin, admin)
	not holds(role_admin, member)
	not holds({"role": "org:Member"}, member)
	not holds({"role": "org:member"}, object.remove(member, ["org_role"]))
}

test_a_custom_permission_term_holds_when_the_token_carries_it if {
	holds(perm_publish, member)
	not holds(perm_export, member)
	not holds(perm_publish, object.union(member, {"org_permissions": []}))
}

test_a_system_permission_term_is_decided_by_role if {
	holds({"permission": "org:sys_billing:read"}, member)
	not holds({"permission": "org:sys_billing:manage"}, member)
	holds({"permission": "org:sys_billing:manage"}, admin)
}

test_a_system_permission_term_ignores_a_forged_token_permission if {
	forged := object.union(member, {"org_permissions": ["org:sys_billing:manage"]})
	not holds({"permission": "org:sys_billing:manage"}, forged)
}

test_a_not_impersonated_term_holds_only_without_an_actor if {
	holds({"not_impersonated": true}, member)
	not holds({"not_impersonated": true}, impersonated)
	not holds({"not_impersonated": true}, object.union(member, {"actor": {"sub": "user_x", "sid": "sess_x"}}))
}

test_a_requirement_is_met_when_any_of_its_terms_holds if {
	met({"any_of": [role_admin, perm_publish]}, member)
	met({"any_of": [perm_export, {"feature": "o:posts"}]}, member)
	not met({"any_of": [role_admin, perm_export]}, member)
	met({"any_of": [role_admin, perm_export]}, admin)
}

# ---------------------------------------------------------------------------
# Feature, plan and reverification terms are decided by data.verdict.clerk
# (the library's own tests cover Clerk's rules in depth); these pin that the
# catalog's terms mean what has() means.

billing := object.union(member, {
	"features": ["o:posts", "u:dashboard", "ou:support-chat"],
	"plans": ["o:pro"],
})

feature(query) if holds({"feature": query}, billing)

plan(query) if holds({"plan": query}, billing)

test_a_bare_feature_name_matches_any_scope if {
	feature("posts")
	feature("dashboard")
	feature("support-chat")
	not feature("billing")
}

test_organization_feature_scopes_and_their_aliases if {
	feature("o:posts")
	feature("org:posts")
	feature("organization:posts")
	feature("o:support-chat")
	not feature("o:dashboard")
}

test_user_feature_scopes_and_their_aliases if {
	feature("u:dashboard")
	feature("user:dashboard")
	feature("u:support-chat")
	not feature("u:posts")
}

test_feature_segments_after_the_name_are_ignored if {
	feature("o:posts:extra")
}

test_a_feature_claim_entry_without_a_scope_makes_the_claim_unreadable if {
	not holds({"feature": "posts"}, object.union(member, {"features": ["o:posts", "posts"]}))
	not holds({"feature": "posts"}, object.union(member, {"features": ["x:posts"]}))
	not holds({"feature": "posts"}, object.union(member, {"features": []}))
}

test_plan_terms_match_like_features if {
	plan("o:pro")
	plan("org:pro")
	plan("pro")
	not plan("u:pro")
	not plan("o:free")
	not holds({"plan": "o:pro"}, object.union(billing, {"plans": []}))
}

fresh(window, fva) if holds({"reverification": window}, object.union(member, {"factor_verification_age": fva}))

test_strict_needs_a_second_factor_within_ten_minutes if {
	fresh("strict", [30, 9])
	not fresh("strict", [3, 10]) # strictly within: an age of 10 fails 10 minutes
	not fresh("strict", [3, 30])
}

test_second_factor_falls_back_to_the_first_when_it_is_not_enabled if {
	fresh("strict", [3, -1])
	not fresh("strict", [30, -1])
	fresh("strict", [-1, 3])
	not fresh("strict", [-1, -1])
}

test_strict_mfa_needs_both_factors_fresh if {
	fresh("strict_mfa", [3, 4])
	not fresh("strict_mfa", [30, 4])
	not fresh("strict_mfa", [3, 40])
	fresh("strict_mfa", [3, -1]) # degrades to the first factor
	not fresh("strict_mfa", [-1, 3])
}

test_moderate_and_lax_presets if {
	fresh("moderate", [0, 59])
	not fresh("moderate", [0, 60])
	fresh("lax", [0, 1439])
	not fresh("lax", [0, 1440])
}

test_custom_windows_in_either_spelling if {
	fresh({"level": "first_factor", "after_minutes": 5}, [4, 100])
	not fresh({"level": "first_factor", "after_minutes": 5}, [5, 0])
	fresh({"level": "first_factor", "afterMinutes": 5}, [4, 100])
	fresh({"level": "second_factor", "after_minutes": 10}, [30, 9])
	not fresh({"level": "second_factor", "afterMinutes": 10}, [3, 10])
	fresh({"level": "multi_factor", "after_minutes": 10}, [3, 4])
}

test_reverification_fails_without_a_verification_age if {
	not holds({"reverification": "lax"}, object.remove(member, ["factor_verification_age"]))
}

test_clerk_window_translates_the_catalog_spelling if {
	requirements.clerk_window("strict") == "strict"
	requirements.clerk_window({"level": "first_factor", "after_minutes": 5}) == {"level": "first_factor", "afterMinutes": 5}
	requirements.clerk_window({"level": "first_factor", "afterMinutes": 5}) == {"level": "first_factor", "afterMinutes": 5}

	# Clerk's spelling wins when both are given.
	both := {"level": "first_factor", "afterMinutes": 5, "after_minutes": 50}
	requirements.clerk_window(both) == both
}

# ---------------------------------------------------------------------------
# Codes.

test_rank_is_the_contracts_order_of_requirement_codes if {
	by_rank := [code |
		some i in numbers.range(0, count(requirements.rank) - 1)
		some code, rank in requirements.rank
		rank == i
	]
	by_rank == [
		"missing_role", "missing_permission", "missing_feature",
		"missing_plan", "reverification_required", "impersonation_denied",
	]
}

test_an_explicit_deny_code_wins_over_the_derived_one if {
	requirements.deny_code({"any_of": [perm_export], "deny": "missing_role"}) == "missing_role"
	requirements.deny_code({"any_of": [role_admin], "deny": "missing_feature"}) == "missing_feature"
}

test_the_derived_code_follows_from_the_terms if {
	requirements.deny_code({"any_of": [role_admin]}) == "missing_role"
	requirements.deny_code({"any_of": [perm_export]}) == "missing_permission"
	requirements.deny_code({"any_of": [{"permission": "org:sys_billing:manage"}]}) == "missing_role"
	requirements.deny_code({"any_of": [{"feature": "o:posts"}]}) == "missing_feature"
	requirements.deny_code({"any_of": [{"plan": "o:pro"}]}) == "missing_plan"
	requirements.deny_code({"any_of": [{"reverification": "strict"}]}) == "reverification_required"
	requirements.deny_code({"any_of": [{"not_impersonated": true}]}) == "impersonation_denied"
}

test_a_custom_permission_anywhere_in_the_requirement_makes_it_missing_permission if {
	requirements.deny_code({"any_of": [role_admin, perm_export]}) == "missing_permission"
	requirements.deny_code({"any_of": [perm_export, role_admin]}) == "missing_permission"
	requirements.deny_code({"any_of": [{"permission": "org:sys_billing:manage"}, perm_export]}) == "missing_permission"
}

test_otherwise_the_derived_code_is_the_first_of_the_terms_codes if {
	requirements.deny_code({"any_of": [{"feature": "o:x"}, role_admin]}) == "missing_role"
	requirements.deny_code({"any_of": [{"reverification": "strict"}, {"plan": "o:pro"}, {"feature": "o:x"}]}) == "missing_feature"
	requirements.deny_code({"any_of": [{"not_impersonated": true}, {"reverification": "strict"}]}) == "reverification_required"
}

test_roles_and_permissions_grant_while_other_terms_only_gate if {
	requirements.grant_reason(role_admin) == "role"
	requirements.grant_reason({"permission": "org:sys_billing:read"}) == "role"
	requirements.grant_reason(perm_publish) == "permission"
	not requirements.grant_reason({"feature": "o:posts"})
	not requirements.grant_reason({"plan": "o:pro"})
	not requirements.grant_reason({"reverification": "strict"})
	not requirements.grant_reason({"not_impersonated": true})
}

# ---------------------------------------------------------------------------
# Messages.

test_needs_names_every_term_of_the_requirement if {
	requirements.needs({"any_of": [role_admin, perm_export]}) == "role org:admin or permission org:reports:export"
	requirements.needs({"any_of": [{"feature": "reports"}]}) == "feature reports"
	requirements.needs({"any_of": [{"plan": "o:pro"}, {"not_impersonated": true}]}) == "plan o:pro or a session that is not impersonated"
}

test_a_term_with_several_keys_has_one_description if {
	# The load-time checks refuse such a term; should one get through, it
	# reads as satisfied does (any of its keys), not as two values.
	requirements.describe({"role": "org:admin", "plan": "o:pro"}) == "plan o:pro or role org:admin"
	requirements.needs({"any_of": [{"role": "org:admin", "feature": "reports"}]}) == "feature reports or role org:admin"
	not requirements.describe({"nope": 1})
}

test_describe_each_reverification_window if {
	requirements.describe({"reverification": "strict_mfa"}) == "reverification strict_mfa (a multi-factor verification within the last 10 minutes)"
	requirements.describe({"reverification": "strict"}) == "reverification strict (a second-factor verification within the last 10 minutes)"
	requirements.describe({"reverification": "moderate"}) == "reverification moderate (a second-factor verification within the last 60 minutes)"
	requirements.describe({"reverification": "lax"}) == "reverification lax (a second-factor verification within the last 1440 minutes)"
	requirements.describe({"reverification": {"level": "first_factor", "after_minutes": 5}}) == "a first-factor verification within the last 5 minutes"
	requirements.describe({"reverification": {"level": "multi_factor", "afterMinutes": 15}}) == "a multi-factor verification within the last 15 minutes"
}

test_state_says_what_the_session_has_for_each_kind_of_term if {
	state({"any_of": [role_admin, perm_export]}, member) == "the session has role org:member; the session token does not carry permission org:reports:export"
	state({"any_of": [role_admin]}, object.remove(member, ["org_role"])) == "the session has no role in the active organization"
	state({"any_of": [{"permission": "org:sys_billing:manage"}]}, member) == "org:sys_billing:manage is a system permission and is decided by role; role org:member does not hold it"
}

test_state_says_each_kind_once if {
	req := {"any_of": [role_admin, {"role": "org:owner"}, {"feature": "o:a"}, {"feature": "o:b"}]}
	state(req, member) == "the session has features o:posts; the session has role org:member"
}

test_state_lists_entitlements_in_token_order if {
	state({"any_of": [{"feature": "o:x"}]}, billing) == "the session has features o:posts, u:dashboard, ou:support-chat"
	state({"any_of": [{"plan": "o:x"}]}, billing) == "the session has plans o:pro"
	state({"any_of": [{"plan": "o:x"}]}, object.union(billing, {"plans": []})) == "the session has no plans"
	state({"any_of": [{"feature": "o:x"}]}, object.union(billing, {"features": []})) == "the session has no features"
}

test_state_for_the_gates if {
	req := {"any_of": [{"not_impersonated": true}, {"plan": "o:pro"}, {"reverification": "strict"}]}
	state(req, impersonated) == concat("; ", [
		"the session has plans o:free",
		"the session's last first-factor verification was 30 minutes ago and its last second-factor verification was never",
		"user_support is impersonating the user",
	])
}

test_state_for_reverification if {
	req := {"any_of": [{"reverification": "strict"}]}
	state(req, object.union(member, {"factor_verification_age": [-1, 45]})) == "the session's last first-factor verification was never and its last second-factor verification was 45 minutes ago"
	state(req, object.remove(member, ["factor_verification_age"])) == "the session token shows no verification age (fva)"
}

test_state_names_an_impersonator_without_a_sub_as_another_user if {
	state({"any_of": [{"not_impersonated": true}]}, object.union(member, {"actor": {"iss": "https://clerk.example.com"}})) == "another user is impersonating the user"
}

test_grant_state_says_what_granted_the_action if {
	requirements.grant_state(role_admin) == "the session has role org:admin" with input.principal as admin
	requirements.grant_state({"permission": "org:sys_billing:read"}) == "role org:member holds system permission org:sys_billing:read" with input.principal as member
	requirements.grant_state(perm_publish) == "the session token carries permission org:posts:publish" with input.principal as member
}

# ---------------------------------------------------------------------------
# Load-time checks of one requirement (catalog_test.rego covers how the
# catalog reports them).

test_well_formed_requirements_have_no_problems if {
	every req in [
		{"any_of": [role_admin, perm_publish], "deny": "missing_permission"},
		{"any_of": [{"role": "admin"}]},
		{"any_of": [{"permission": "org:sys_billing:manage"}]},
		{"any_of": [{"feature": "reports"}, {"feature": "o:posts"}, {"feature": "user:dashboard"}, {"feature": "o:posts:extra"}]},
		{"any_of": [{"plan": "pro"}, {"plan": "u:free"}, {"plan": "organization:pro"}]},
		{"any_of": [{"reverification": "strict_mfa"}, {"reverification": "strict"}, {"reverification": "moderate"}, {"reverification": "lax"}]},
		{"any_of": [{"reverification": {"level": "second_factor", "after_minutes": 10}}]},
		{"any_of": [{"reverification": {"level": "second_factor", "afterMinutes": 10}}]},
		{"any_of": [{"not_impersonated": true}], "deny": "impersonation_denied"},
	] {
		requirements.problems(req) == set()
	}
}

test_every_shipped_requirement_is_well_formed if {
	every _, entry in data.verdict.actions {
		every req in entry.requires {
			requirements.problems(req) == set()
		}
	}
}

test_a_requirement_needs_a_non_empty_any_of_list if {
	requirements.problems({"any_of": []}) == {"\"any_of\" must not be empty"}
	requirements.problems({"any_of": {"role": "org:admin"}}) == {"must be an object with an \"any_of\" list"}
	requirements.problems({"any_of": "org:admin"}) == {"must be an object with an \"any_of\" list"}
}

test_a_deny_code_must_be_a_requirement_code if {
	requirements.problems({"any_of": [role_admin], "deny": "forbidden"}) == {"\"deny\" is forbidden, which is not a requirement code (impersonation_denied, missing_feature, missing_permission, missing_plan, missing_role, reverification_required)"}
	count(requirements.problems({"any_of": [role_admin], "deny": "unauthenticated"})) == 1
	count(requirements.problems({"any_of": [role_admin], "deny": "tenant_mismatch"})) == 1
	every code, _ in requirements.rank {
		requirements.problems({"any_of": [role_admin], "deny": code}) == set()
	}
}

test_each_bad_term_is_one_problem_named_by_its_index if {
	requirements.problems({"any_of": [
		role_admin,
		{"role": "org:admin", "permission": "org:posts:publish"},
		{"rol": "org:admin"},
		{"permission": "posts:publish"},
	]}) == {
		"term 1: must be an object with exactly one key",
		"term 2: rol is not a term kind (feature, not_impersonated, permission, plan, reverification, role)",
		"term 3: permission posts:publish is not usable (a permission key org:<feature>:<permission>)",
	}
}

test_term_and_deny_problems_are_reported_together if {
	count(requirements.problems({"any_of": [{"role": 5}, {}], "deny": "nope"})) == 3
}
