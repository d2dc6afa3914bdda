package verdict.requirements_test

import data.verdict.requirements

member := {
	"authenticated": true, "org_id": "org_A", "org_role": "org:member",
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
