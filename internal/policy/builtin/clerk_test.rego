package verdict.clerk_test

import data.verdict.clerk

# The worked example of clerk-tokens.md §4 (fea o:dashboard,o:teams, per
# manage,read, fpm 3,2), normalized, plus billing and fva.
admin := {
	"authenticated": true, "user_id": "user_1", "session_id": "sess_1",
	"org_id": "org_1", "org_role": "org:admin", "org_slug": "acme",
	"org_permissions": ["org:dashboard:manage", "org:dashboard:read", "org:teams:read"],
	"features": ["o:dashboard", "o:teams", "u:beta", "ou:support-chat", "x:ignored"],
	"plans": ["o:pro"],
	"factor_verification_age": [3, 5],
	"token_version": 2,
}

no_org := object.remove(admin, ["org_id", "org_role", "org_slug", "org_permissions"])

anonymous := {"authenticated": false}

ok(principal, check) if clerk.has(principal, check)

reason(principal, check) := clerk.answer(principal, check).reason

# answer() and has() agree on every check below.
agreement_checks := [
	{}, {"role": "admin"}, {"role": "member"}, {"role": 1}, {"permission": "org:teams:read"},
	{"permission": "org:sys_memberships:read"}, {"feature": "dashboard"}, {"feature": "lol:x"},
	{"plan": "pro"}, {"plan": "u:pro"}, {"reverification": "strict"}, {"reverification": "nope"},
	{"role": "admin", "feature": "teams", "plan": "o:pro", "reverification": "lax"}, {"unknown": 1},
	"admin", null, [], 7,
]

test_answer_agrees_with_has if {
	every principal in [admin, no_org, anonymous, {"authenticated": true}] {
		every check in agreement_checks {
			clerk.answer(principal, check).result == clerk.has(principal, check)
		}
	}
}

test_answer_always_has_three_fields if {
	every check in agreement_checks {
		a := clerk.answer(admin, check)
		object.keys(a) == {"result", "reason", "message"}
		is_boolean(a.result)
		a.message != ""
	}
}

# ---------------------------------------------------------------------------
# Signed out.

test_unauthenticated if {
	not ok(anonymous, {"role": "admin"})
	reason(anonymous, {"role": "admin"}) == "unauthenticated"
	reason(anonymous, {}) == "unauthenticated"
	reason(null, {"role": "admin"}) == "unauthenticated"
	reason({"authenticated": "true", "user_id": "user_1"}, {"feature": "beta"}) == "unauthenticated"
}

test_no_user_id_is_unauthenticated if {
	p := object.remove(admin, ["user_id"])
	not ok(p, {"role": "admin"})
	a := clerk.answer(p, {"role": "admin"})
	a.reason == "unauthenticated"
	a.message == "the session has no user id (sub), and has() is false without one"
	reason(object.union(admin, {"user_id": ""}), {"role": "admin"}) == "unauthenticated"
}

# ---------------------------------------------------------------------------
# The check itself.

test_empty_check if {
	not ok(admin, {})
	reason(admin, {}) == "empty_check"
}

test_non_object_check_is_false if {
	every check in ["admin", null, [], ["role"], 7, true] {
		not ok(admin, check)
		reason(admin, check) == "empty_check"
	}
}

test_unknown_fields_are_ignored if {
	not ok(admin, {"rol": "admin", "perm": "x"})
	a := clerk.answer(admin, {"rol": "admin", "perm": "x"})
	a.reason == "empty_check"
	contains(a.message, "perm, rol")
	ok(admin, {"role": "admin", "rol": "member", "extra": {"a": 1}})
}

test_wrong_types_fail_never_error if {
	every field in ["role", "permission", "feature", "plan"] {
		every value in [123, null, true, [], {}, ["org:admin"]] {
			not ok(admin, {field: value})
			reason(admin, {field: value}) == "invalid_check"
		}
	}
	every value in [123, null, true, [], {}, "", "STRICT", {"level": "second_factor"}] {
		not ok(admin, {"reverification": value})
		reason(admin, {"reverification": value}) == "invalid_check"
	}
}

test_invalid_check_comes_before_no_active_org if {
	reason(no_org, {"role": "admin", "plan": 5}) == "invalid_check"
	reason(no_org, {"role": 5}) == "invalid_check"
}

test_invalid_check_messages if {
	clerk.answer(admin, {"role": 123}).message == `role must be a string such as "org:admin", not a number (123)`
	clerk.answer(admin, {"feature": "lol:x"}).message == "feature lol:x has scope lol, which Clerk does not know: use o, org or organization for the organization, u or user for the user, or a bare name for either"
	clerk.answer(admin, {"reverification": "sometimes"}).message == "reverification sometimes is not a Clerk preset (strict_mfa, strict, moderate, lax)"
	clerk.answer(admin, {"reverification": {"level": "third_factor", "afterMinutes": 5}}).message == `reverification level "third_factor" is not first_factor, second_factor or multi_factor`
	clerk.answer(admin, {"reverification": {"level": "first_factor", "after_minutes": 5}}).message == "reverification afterMinutes must be a number greater than 0, not null (Clerk spells it afterMinutes, not after_minutes)"
}

# ---------------------------------------------------------------------------
# Roles: prefixWithOrg on both sides, case-sensitive, active org needed.

test_role_prefixes_on_both_sides if {
	every query in ["admin", "org:admin", "org:org:admin"] {
		ok(admin, {"role": query})
		ok(object.union(admin, {"org_role": "admin"}), {"role": query})
		ok(object.union(admin, {"org_role": "org:org:admin"}), {"role": query})
	}
}

test_role_is_case_sensitive if {
	every query in ["ADMIN", "Org:admin", "org:Admin", "member", ""] {
		not ok(admin, {"role": query})
		reason(admin, {"role": query}) == "missing_role"
	}
	contains(clerk.answer(admin, {"role": "ADMIN"}).message, "roles compare case-sensitively")
}

test_role_message if {
	clerk.answer(admin, {"role": "member"}).message == "the session's role in organization org_1 is org:admin, not org:member (asked as member)"
	clerk.answer(object.remove(admin, ["org_role"]), {"role": "admin"}).message == "the session has no role in organization org_1, so role admin does not match"
}

test_role_needs_a_role_string if {
	reason(object.remove(admin, ["org_role"]), {"role": "admin"}) == "missing_role"
	reason(object.union(admin, {"org_role": ""}), {"role": "org:"}) == "missing_role"
	reason(object.union(admin, {"org_role": 7}), {"role": "admin"}) == "missing_role"
}

test_no_active_org if {
	not ok(no_org, {"role": "admin"})
	reason(no_org, {"role": "admin"}) == "no_active_org"
	reason(no_org, {"permission": "org:teams:read"}) == "no_active_org"
	reason(no_org, {"permission": "org:sys_memberships:read"}) == "no_active_org"
	reason(object.union(admin, {"org_id": ""}), {"role": "admin"}) == "no_active_org"
	clerk.answer(no_org, {"role": "admin"}).message == "role admin is checked in the active organization, and the session has no active organization (features and plans do not need one)"
}

test_features_and_plans_need_no_org if {
	ok(no_org, {"feature": "u:beta"})
	ok(no_org, {"plan": "pro"})
	not ok(no_org, {"feature": "u:beta", "role": "admin"})
}

# ---------------------------------------------------------------------------
# Permissions: the query is prefixed, the token's entries are verbatim.

test_permission_query_prefix if {
	ok(admin, {"permission": "org:teams:read"})
	ok(admin, {"permission": "teams:read"})
	ok(admin, {"permission": "org:org:teams:read"})
	not ok(admin, {"permission": "org:teams:manage"})
	reason(admin, {"permission": "org:teams:manage"}) == "missing_permission"
}

test_token_entries_are_compared_verbatim if {
	p := object.union(admin, {"org_permissions": ["teams:read", "org:teams"]})
	not ok(p, {"permission": "teams:read"}) # the query becomes org:teams:read
	ok(p, {"permission": "org:teams"}) # Clerk matches the literal entry
}

test_two_segment_permission_never_matches_three if {
	not ok(admin, {"permission": "org:teams"})
	contains(clerk.answer(admin, {"permission": "org:teams"}).message, "is not a permission key")
}

test_permission_needs_an_array if {
	reason(object.remove(admin, ["org_permissions"]), {"permission": "org:teams:read"}) == "missing_permission"
	reason(object.union(admin, {"org_permissions": "org:teams:read"}), {"permission": "org:teams:read"}) == "missing_permission"
}

test_system_permissions_are_never_granted if {
	forged := object.union(admin, {"org_permissions": ["org:sys_memberships:manage", "org:sys_billing:read"]})
	every query in ["org:sys_memberships:manage", "sys_memberships:manage", "org:org:sys_billing:read"] {
		not ok(forged, {"permission": query})
		reason(forged, {"permission": query}) == "missing_permission"
	}
	clerk.answer(forged, {"permission": "sys_billing:read"}).message == concat("", [
		"org:sys_billing:read is a system permission, and system permissions are never in a session token, ",
		"so has() is false for it: check the role with has({role}) or use /v1/check, which decides system permissions by role",
	])
}

test_permission_message if {
	clerk.answer(admin, {"permission": "org:teams:manage"}).message == "the session token does not carry permission org:teams:manage; its permissions in organization org_1 are org:dashboard:manage, org:dashboard:read, org:teams:read"
	m := clerk.answer(object.union(admin, {"org_permissions": []}), {"permission": "org:teams:manage"}).message
	m == "the session token does not carry permission org:teams:manage; it carries no permissions in organization org_1"
}

# ---------------------------------------------------------------------------
# Features and plans.

test_bare_name_matches_org_or_user_entries if {
	ok(admin, {"feature": "dashboard"})
	ok(admin, {"feature": "beta"})
	ok(admin, {"feature": "support-chat"})
	not ok(admin, {"feature": "ignored"}) # x: entries are dropped
	reason(admin, {"feature": "reports"}) == "missing_feature"
}

test_org_scope_aliases if {
	every scope in ["o", "org", "organization"] {
		ok(admin, {"feature": concat(":", [scope, "teams"])})
		ok(admin, {"feature": concat(":", [scope, "support-chat"])})
		not ok(admin, {"feature": concat(":", [scope, "beta"])})
	}
}

test_user_scope_aliases if {
	every scope in ["u", "user"] {
		ok(admin, {"feature": concat(":", [scope, "beta"])})
		ok(admin, {"feature": concat(":", [scope, "support-chat"])})
		not ok(admin, {"feature": concat(":", [scope, "teams"])})
	}
}

test_ou_and_uo_entries_count_for_both if {
	p := object.union(admin, {"features": ["uo:chat"]})
	ok(p, {"feature": "o:chat"})
	ok(p, {"feature": "u:chat"})
	ok(p, {"feature": "chat"})
}

test_extra_query_segments_are_ignored if {
	ok(admin, {"feature": "o:teams:extra"})
	ok(admin, {"feature": "o:teams:extra:more"})
	not ok(admin, {"feature": "u:teams:extra"})
}

test_unknown_query_scope_fails if {
	every query in ["lol:teams", "O:teams", "orgs:teams", ":teams", "x:ignored"] {
		not ok(admin, {"feature": query})
		reason(admin, {"feature": query}) == "invalid_check"
	}
}

test_claim_must_have_an_entry if {
	reason(object.remove(admin, ["features"]), {"feature": "teams"}) == "missing_feature"
	reason(object.union(admin, {"features": []}), {"feature": "teams"}) == "missing_feature"
	reason(object.union(admin, {"plans": null}), {"plan": "pro"}) == "missing_plan"
	clerk.answer(object.union(admin, {"features": []}), {"feature": "teams"}).message == "the session token carries no features (fea), so feature teams is missing"
}

test_unscoped_claim_entry_fails_the_whole_dimension if {
	p := object.union(admin, {"plans": ["u:pro", "free_user"]})
	not ok(p, {"plan": "pro"})
	not ok(p, {"plan": "free_user"})
	reason(p, {"plan": "u:pro"}) == "missing_plan"
	ok(p, {"feature": "teams"}) # features are another claim
	clerk.answer(p, {"plan": "pro"}).message == `the session's plans (pla) include "free_user", which has no scope (scope:name); Clerk cannot read such a claim, so every plan check is false`
}

test_several_unscoped_claim_entries_give_one_message if {
	# Each unscoped entry used to make a message of its own: two values for
	# one answer, which OPA refuses (a 500). The first is named, where
	# Clerk's splitByScope stops.
	p := object.union(admin, {
		"features": ["beta", "o:teams", "alpha", "beta"],
		"plans": ["u:pro", "free_user", "trial", "free_user"],
	})
	clerk.answer(p, {"plan": "pro"}) == {
		"result": false, "reason": "missing_plan",
		"message": `the session's plans (pla) include "free_user", which has no scope (scope:name); Clerk cannot read such a claim, so every plan check is false`,
	}
	clerk.answer(p, {"feature": "teams", "plan": "o:pro"}) == {
		"result": false, "reason": "missing_feature",
		"message": `the session's features (fea) include "beta", which has no scope (scope:name); Clerk cannot read such a claim, so every feature check is false`,
	}
}

test_plans if {
	ok(admin, {"plan": "o:pro"})
	ok(admin, {"plan": "organization:pro"})
	ok(admin, {"plan": "pro"})
	not ok(admin, {"plan": "u:pro"})
	reason(admin, {"plan": "free"}) == "missing_plan"
	clerk.answer(admin, {"plan": "free"}).message == "the session does not have plan free; its plans are o:pro"
}

# ---------------------------------------------------------------------------
# Reverification.

fresh(fva, config) if clerk.has(object.union(admin, {"factor_verification_age": fva}), {"reverification": config})

test_presets if {
	fresh([3, 9], "strict")
	not fresh([3, 10], "strict") # age == afterMinutes fails
	fresh([3, 9], "strict_mfa")
	not fresh([10, 9], "strict_mfa")
	fresh([100, 59], "moderate")
	not fresh([0, 60], "moderate")
	fresh([0, 1439], "lax")
	not fresh([0, 1440], "lax")
}

test_first_factor if {
	fresh([4, 100], {"level": "first_factor", "afterMinutes": 5})
	not fresh([5, 0], {"level": "first_factor", "afterMinutes": 5})
	not fresh([-1, 0], {"level": "first_factor", "afterMinutes": 5})
}

test_second_factor_fallbacks if {
	fresh([3, -1], "strict") # no second factor: the first decides
	not fresh([30, -1], "strict")
	fresh([-1, 3], "strict") # no first factor: the second decides
	not fresh([-1, 30], "strict")
	not fresh([3, 30], "strict") # both: the second decides
	fresh([30, 3], "strict")
	not fresh([-1, -1], "strict")
}

test_multi_factor if {
	fresh([3, 4], "strict_mfa")
	not fresh([3, 40], "strict_mfa")
	not fresh([30, 4], "strict_mfa")
	fresh([3, -1], "strict_mfa") # graceful downgrade to the first factor
	not fresh([30, -1], "strict_mfa")
	not fresh([-1, 3], "strict_mfa")
	not fresh([-1, -1], "strict_mfa")
}

test_custom_windows if {
	fresh([0, 0], {"level": "second_factor", "afterMinutes": 0.5})
	fresh([3, 4], {"level": "multi_factor", "afterMinutes": 5, "ignored": true})
	not fresh([0, 0], {"level": "second_factor", "afterMinutes": 0})
	not fresh([0, 0], {"level": "second_factor", "afterMinutes": -5})
	not fresh([0, 0], {"level": "second_factor", "afterMinutes": "10"})
	not fresh([0, 0], {"level": "third_factor", "afterMinutes": 10})
	not fresh([0, 0], {"afterMinutes": 10})
	reason(admin, {"reverification": {"level": "second_factor", "afterMinutes": 0}}) == "invalid_check"
}

test_missing_or_malformed_fva if {
	every p in [
		object.remove(admin, ["factor_verification_age"]),
		object.union(admin, {"factor_verification_age": null}),
		object.union(admin, {"factor_verification_age": [1]}),
		object.union(admin, {"factor_verification_age": [1, 2, 3]}),
		object.union(admin, {"factor_verification_age": ["1", "2"]}),
		object.union(admin, {"factor_verification_age": [-2, 0]}),
	] {
		not ok(p, {"reverification": "lax"})
		reason(p, {"reverification": "lax"}) == "reverification_required"
	}
	clerk.answer(object.remove(admin, ["factor_verification_age"]), {"reverification": "strict"}).message == "reverification strict needs a second-factor verification within the last 10 minutes; the session token shows no verification age (fva)"
}

test_reverification_needs_no_org if {
	ok(no_org, {"reverification": "strict"})
}

test_reverification_message if {
	p := object.union(admin, {"factor_verification_age": [30, -1]})
	clerk.answer(p, {"reverification": "strict"}).message == "reverification strict needs a second-factor verification within the last 10 minutes; the session's last first-factor verification was 30 minutes ago and its last second-factor verification was never"
}

# ---------------------------------------------------------------------------
# AND across and within dimensions, and the precedence of reasons.

test_and_within_the_org_dimension if {
	ok(admin, {"role": "admin", "permission": "org:teams:read"})
	not ok(admin, {"role": "member", "permission": "org:teams:read"})
	not ok(admin, {"role": "admin", "permission": "org:teams:manage"})
}

test_and_within_the_billing_dimension if {
	ok(admin, {"feature": "teams", "plan": "pro"})
	not ok(admin, {"feature": "teams", "plan": "free"})
	not ok(admin, {"feature": "reports", "plan": "pro"})
}

test_and_across_dimensions if {
	not ok(admin, {"permission": "org:teams:manage", "feature": "teams"})
	not ok(admin, {"permission": "org:teams:read", "feature": "reports"})
	not ok(no_org, {"permission": "org:teams:read", "feature": "beta"})
	not ok(object.union(admin, {"factor_verification_age": [30, 30]}), {"permission": "org:teams:read", "reverification": "strict"})
	ok(admin, {"role": "admin", "permission": "org:teams:read", "feature": "o:teams", "plan": "o:pro", "reverification": "strict_mfa"})
}

test_first_failing_reason_wins if {
	stale := object.union(admin, {"factor_verification_age": [30, 30]})
	everything_wrong := {"role": "member", "permission": "org:x:y", "feature": "x", "plan": "x", "reverification": "strict"}
	reason(stale, everything_wrong) == "missing_role"
	reason(stale, object.remove(everything_wrong, ["role"])) == "missing_permission"
	reason(stale, object.remove(everything_wrong, ["role", "permission"])) == "missing_feature"
	reason(stale, object.remove(everything_wrong, ["role", "permission", "feature"])) == "missing_plan"
	reason(stale, {"reverification": "strict"}) == "reverification_required"
	reason(object.remove(stale, ["org_id"]), everything_wrong) == "no_active_org"
	reason(stale, object.union(everything_wrong, {"plan": 1})) == "invalid_check"
	reason(anonymous, object.union(everything_wrong, {"plan": 1})) == "unauthenticated"
}

test_granted if {
	a := clerk.answer(admin, {"permission": "teams:read", "feature": "teams"})
	a == {"result": true, "reason": "granted", "message": "the session token carries permission org:teams:read; the session has feature teams"}
}

# ---------------------------------------------------------------------------
# The /v1/has entry point.

test_response if {
	clerk.response == clerk.answer(admin, {"role": "admin"}) with input as {"principal": admin, "check": {"role": "admin"}}
	clerk.response.result with input as {"principal": admin, "check": {"role": "admin"}}
	clerk.response.reason == "empty_check" with input as {"principal": admin}
	clerk.response.reason == "unauthenticated" with input as {"check": {"role": "admin"}}
	clerk.response.reason == "unauthenticated" with input as []
}
