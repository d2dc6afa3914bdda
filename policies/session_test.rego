package verdict.session_test

import data.verdict.session

test_authenticated_needs_literal_true if {
	session.authenticated with input as {"principal": {"authenticated": true}}
	not session.authenticated with input as {"principal": {"authenticated": false}}
	not session.authenticated with input as {"principal": {"authenticated": "true"}}
	not session.authenticated with input as {"principal": {}}
	not session.authenticated with input as {}
}

test_empty_and_malformed_strings_are_absent if {
	p := {"authenticated": true, "org_id": "", "org_role": "", "org_slug": 7, "user_id": null}
	not session.org_id with input as {"principal": p}
	not session.org_role with input as {"principal": p}
	not session.org_slug with input as {"principal": p}
	not session.user_id with input as {"principal": p}
}

test_role_is_prefixed_exactly_once if {
	session.org_role == "org:admin" with input as {"principal": {"org_role": "admin"}}
	session.org_role == "org:admin" with input as {"principal": {"org_role": "org:admin"}}
	session.org_role == "org:admin" with input as {"principal": {"org_role": "org:org:admin"}}
}

test_permissions_is_a_set_of_strings if {
	session.permissions == {"org:posts:publish"} with input as {"principal": {"org_permissions": ["org:posts:publish", "", 3, null]}}
	session.permissions == set() with input as {"principal": {"org_permissions": null}}
	session.permissions == set() with input as {"principal": {}}
}

test_features_and_plans if {
	p := {"features": ["o:posts", ""], "plans": ["o:pro"]}
	session.features == {"o:posts"} with input as {"principal": p}
	session.plans == {"o:pro"} with input as {"principal": p}
}

test_verification_age_needs_two_ages if {
	session.verification_age == [3, -1] with input as {"principal": {"factor_verification_age": [3, -1]}}
	not session.verification_age with input as {"principal": {"factor_verification_age": ["0", "0"]}}
	not session.verification_age with input as {"principal": {"factor_verification_age": [1]}}
	not session.verification_age with input as {"principal": {"factor_verification_age": [-2, 0]}}
	not session.verification_age with input as {"principal": {"factor_verification_age": [1.5, 0]}}
	not session.verification_age with input as {"principal": {}}
}

test_impersonation if {
	session.impersonated with input as {"principal": {"actor": {"sub": "user_admin"}}}
	session.impersonator == "user_admin" with input as {"principal": {"actor": {"sub": "user_admin"}}}
	not session.impersonated with input as {"principal": {"actor": {}}}
	not session.impersonated with input as {"principal": {}}
}
