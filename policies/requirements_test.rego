package verdict.requirements_test

import data.verdict.requirements

member := {
	"authenticated": true, "user_id": "user_1", "org_id": "org_A", "org_role": "org:member",
	"org_permissions": ["org:posts:publish"], "features": ["o:posts"], "plans": ["o:free"],
	"factor_verification_age": [30, -1],
}

role_admin := {"role": "org:admin"}

perm_publish := {"permission": "org:posts:publish"}

perm_export := {"permission": "org:reports:export"}

test_shape_accepts_every_kind if {
	requirements.valid({"any_of": [role_admin, perm_publish], "deny": "missing_permission"})
	requirements.valid({"any_of": [{"feature": "o:posts"}]})
	requirements.valid({"any_of": [{"plan": "pro"}]})
	requirements.valid({"any_of": [{"reverification": "strict"}]})
	requirements.valid({"any_of": [{"reverification": {"level": "first_factor", "after_minutes": 5}}]})
	requirements.valid({"any_of": [{"not_impersonated": true}]})
}

test_shape_refuses_malformed_requirements if {
	not requirements.valid({"any_of": []})
	not requirements.valid({"anyof": [role_admin]})
	not requirements.valid({"any_of": [{"rol": "org:admin"}]})
	not requirements.valid({"any_of": [{"role": "org:admin", "permission": "org:posts:publish"}]})
	not requirements.valid({"any_of": [{"role": ""}]})
	not requirements.valid({"any_of": [{"permission": "posts:publish"}]})
	not requirements.valid({"any_of": [{"feature": "x:posts"}]})
	not requirements.valid({"any_of": [{"reverification": "sometimes"}]})
	not requirements.valid({"any_of": [{"not_impersonated": false}]})
	not requirements.valid({"any_of": [role_admin], "deny": "forbidden"})
	not requirements.valid([role_admin])
}

test_terms_against_the_session if {
	requirements.satisfied({"role": "org:member"}) with input.principal as member
	requirements.satisfied({"role": "member"}) with input.principal as member
	not requirements.satisfied(role_admin) with input.principal as member
	requirements.satisfied(perm_publish) with input.principal as member
	not requirements.satisfied(perm_export) with input.principal as member
	requirements.satisfied({"feature": "o:posts"}) with input.principal as member
	not requirements.satisfied({"plan": "o:pro"}) with input.principal as member
	requirements.satisfied({"reverification": "lax"}) with input.principal as member
	not requirements.satisfied({"reverification": "strict"}) with input.principal as member
	requirements.satisfied({"not_impersonated": true}) with input.principal as member
	not requirements.satisfied({"not_impersonated": true}) with input.principal as object.union(member, {"actor": {"sub": "user_x"}})
}

test_system_permission_term_is_decided_by_role if {
	forged := object.union(member, {"org_permissions": ["org:sys_billing:manage"]})
	not requirements.satisfied({"permission": "org:sys_billing:manage"}) with input.principal as forged
	requirements.satisfied({"permission": "org:sys_billing:read"}) with input.principal as member
}

test_deny_code_named_or_derived if {
	requirements.deny_code({"any_of": [perm_export], "deny": "missing_role"}) == "missing_role"
	requirements.deny_code({"any_of": [role_admin]}) == "missing_role"
	requirements.deny_code({"any_of": [role_admin, perm_export]}) == "missing_permission"
	requirements.deny_code({"any_of": [{"permission": "org:sys_billing:manage"}]}) == "missing_role"
	requirements.deny_code({"any_of": [{"feature": "o:posts"}]}) == "missing_feature"
	requirements.deny_code({"any_of": [{"plan": "o:pro"}]}) == "missing_plan"
	requirements.deny_code({"any_of": [{"reverification": "strict"}]}) == "reverification_required"
	requirements.deny_code({"any_of": [{"not_impersonated": true}]}) == "impersonation_denied"
}

test_grant_reasons if {
	requirements.grant_reason(role_admin) == "role"
	requirements.grant_reason({"permission": "org:sys_billing:read"}) == "role"
	requirements.grant_reason(perm_publish) == "permission"
	not requirements.grant_reason({"feature": "o:posts"})
}

test_messages if {
	req := {"any_of": [role_admin, perm_export]}
	requirements.needs(req) == "role org:admin or permission org:reports:export"
	msg := requirements.state(req) with input.principal as member
	msg == "the session has role org:member; the session token does not carry permission org:reports:export"
}

test_messages_say_each_state_once if {
	req := {"any_of": [role_admin, {"role": "org:owner"}, {"feature": "o:a"}, {"feature": "o:b"}]}
	msg := requirements.state(req) with input.principal as member
	msg == "the session has role org:member; the session has features o:posts"
}

test_messages_for_gates if {
	p := object.union(member, {"actor": {"sub": "user_support"}})
	msg := requirements.state({"any_of": [{"not_impersonated": true}, {"plan": "o:pro"}, {"reverification": "strict"}]}) with input.principal as p
	msg == concat("; ", [
		"the session has plans o:free",
		"the session's last first-factor verification was 30 minutes ago and its last second-factor verification was never",
		"user_support is impersonating the user",
	])
}

# ---------------------------------------------------------------------------
# Feature, plan and reverification terms (decided by data.verdict.clerk; the
# library's own tests cover Clerk's rules in depth).

billing := {
	"authenticated": true, "user_id": "user_1", "org_id": "org_A", "org_role": "org:member",
	"features": ["o:posts", "u:dashboard", "ou:support-chat"], "plans": ["o:pro"],
}

feature(query, principal) if requirements.satisfied({"feature": query}) with input.principal as principal

plan(query, principal) if requirements.satisfied({"plan": query}) with input.principal as principal

test_feature_bare_name_matches_any_scope if {
	feature("posts", billing)
	feature("dashboard", billing)
	feature("support-chat", billing)
	not feature("billing", billing)
}

test_feature_org_scope_and_aliases if {
	feature("o:posts", billing)
	feature("org:posts", billing)
	feature("organization:posts", billing)
	feature("o:support-chat", billing)
	not feature("o:dashboard", billing)
}

test_feature_user_scope_and_aliases if {
	feature("u:dashboard", billing)
	feature("user:dashboard", billing)
	feature("u:support-chat", billing)
	not feature("u:posts", billing)
}

test_feature_extra_segments_are_ignored if {
	feature("o:posts:extra", billing)
}

test_feature_unknown_query_scope_is_refused if {
	not feature("x:posts", billing)
	not requirements.valid_term({"feature": "x:posts"})
	not requirements.valid_term({"feature": "o:"})
	not requirements.valid_term({"feature": ""})
	not requirements.valid_term({"feature": 7})
	requirements.valid_term({"feature": "posts"})
	requirements.valid_term({"feature": "o:posts"})
	requirements.valid_term({"plan": "user:free"})
	not requirements.valid_term({"plan": "lol:free"})
}

test_feature_claim_entries_with_unknown_scope_or_none if {
	# x: entries are dropped; an entry without a scope makes Clerk's claim
	# unreadable, so nothing matches.
	not feature("posts", {"authenticated": true, "user_id": "user_1", "features": ["x:posts"]})
	not feature("posts", {"authenticated": true, "user_id": "user_1", "features": ["o:posts", "posts"]})
}

test_plan_terms if {
	plan("o:pro", billing)
	plan("pro", billing)
	not plan("u:pro", billing)
	not plan("o:pro", object.remove(billing, ["plans"]))
}

test_entitlement_state if {
	requirements.state({"any_of": [{"feature": "o:x"}]}) == "the session has features o:posts, ou:support-chat, u:dashboard" with input.principal as billing
	requirements.state({"any_of": [{"plan": "o:x"}]}) == "the session has no plans" with input.principal as object.remove(billing, ["plans"])
}

fresh(spec, fva) if requirements.satisfied({"reverification": spec}) with input.principal as object.union(billing, {"factor_verification_age": fva})

test_reverification_term_shapes if {
	requirements.clerk_reverification("strict") == "strict"
	requirements.clerk_reverification({"level": "first_factor", "after_minutes": 5}) == {"level": "first_factor", "afterMinutes": 5}
	requirements.clerk_reverification({"level": "first_factor", "afterMinutes": 5}) == {"level": "first_factor", "afterMinutes": 5}
	requirements.valid_term({"reverification": {"level": "first_factor", "afterMinutes": 5}})
	not requirements.valid_term({"reverification": "sometimes"})
	not requirements.valid_term({"reverification": {"level": "first_factor", "after_minutes": 0}})
	not requirements.valid_term({"reverification": {"level": "third_factor", "after_minutes": 5}})
	not requirements.valid_term({"reverification": {"level": "first_factor"}})
	not requirements.valid_term({"reverification": {"level": "first_factor", "after_minutes": 5, "extra": 1}})
	not requirements.valid_term({"reverification": 10})
}

test_reverification_strict_needs_a_fresh_second_factor if {
	fresh("strict", [30, 9])
	not fresh("strict", [3, 10]) # the window is strict: age 10 fails 10 minutes
	not fresh("strict", [3, 30])
}

test_reverification_second_factor_falls_back_to_first_when_not_enabled if {
	fresh("strict", [3, -1])
	not fresh("strict", [30, -1])
	fresh("strict", [-1, 3])
	not fresh("strict", [-1, -1])
}

test_reverification_multi_factor if {
	fresh("strict_mfa", [3, 4])
	not fresh("strict_mfa", [30, 4])
	not fresh("strict_mfa", [3, 40])
	fresh("strict_mfa", [3, -1]) # degrades to the first factor
	not fresh("strict_mfa", [-1, 3])
}

test_reverification_first_factor if {
	fresh({"level": "first_factor", "after_minutes": 5}, [4, 100])
	not fresh({"level": "first_factor", "after_minutes": 5}, [-1, 1])
}

test_reverification_presets_lax_and_moderate if {
	fresh("moderate", [0, 59])
	not fresh("moderate", [0, 60])
	fresh("lax", [0, 1439])
}

test_reverification_missing_or_malformed_fva_never_passes if {
	not requirements.satisfied({"reverification": "lax"}) with input.principal as billing
	not fresh("lax", ["0", "0"])
	not fresh("lax", [0])
}

test_reverification_unknown_spec_never_passes if {
	not fresh("sometimes", [0, 0])
}

test_reverification_messages if {
	requirements.describe({"reverification": "strict"}) == "reverification strict (a second-factor verification within the last 10 minutes)"
	requirements.describe({"reverification": {"level": "first_factor", "after_minutes": 5}}) == "a first-factor verification within the last 5 minutes"
	msg := requirements.state({"any_of": [{"reverification": "strict"}]}) with input.principal as object.union(billing, {"factor_verification_age": [30, -1]})
	msg == "the session's last first-factor verification was 30 minutes ago and its last second-factor verification was never"
	requirements.state({"any_of": [{"reverification": "strict"}]}) == "the session token shows no verification age (fva)" with input.principal as billing
}

# Clerk's has() is false without a user id, so the terms it decides fail for
# an authenticated principal that carries none (the service always sends one
# for a signed-in token).
test_clerk_terms_need_a_user_id if {
	no_user := object.remove(billing, ["user_id"])
	not requirements.satisfied({"role": "org:member"}) with input.principal as no_user
	not feature("posts", no_user)
	requirements.satisfied({"role": "org:member"}) with input.principal as billing
}
