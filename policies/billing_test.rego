package verdict.billing_test

import data.verdict.billing

p := {"features": ["o:posts", "u:dashboard", "ou:support-chat"], "plans": ["o:pro"]}

test_bare_name_matches_any_scope if {
	billing.has_feature("posts") with input.principal as p
	billing.has_feature("dashboard") with input.principal as p
	billing.has_feature("support-chat") with input.principal as p
	not billing.has_feature("billing") with input.principal as p
}

test_org_scope_and_aliases if {
	billing.has_feature("o:posts") with input.principal as p
	billing.has_feature("org:posts") with input.principal as p
	billing.has_feature("organization:posts") with input.principal as p
	billing.has_feature("o:support-chat") with input.principal as p
	not billing.has_feature("o:dashboard") with input.principal as p
}

test_user_scope_and_aliases if {
	billing.has_feature("u:dashboard") with input.principal as p
	billing.has_feature("user:dashboard") with input.principal as p
	billing.has_feature("u:support-chat") with input.principal as p
	not billing.has_feature("u:posts") with input.principal as p
}

test_extra_segments_are_ignored if {
	billing.has_feature("o:posts:extra") with input.principal as p
}

test_unknown_query_scope_never_matches if {
	not billing.has_feature("x:posts") with input.principal as p
	not billing.valid_query("x:posts")
	not billing.valid_query("o:")
	not billing.valid_query("")
	billing.valid_query("posts")
	billing.valid_query("o:posts")
}

test_unknown_entry_scope_is_dropped if {
	not billing.has_feature("posts") with input.principal as {"features": ["x:posts", "posts"]}
}

test_plans if {
	billing.has_plan("o:pro") with input.principal as p
	billing.has_plan("pro") with input.principal as p
	not billing.has_plan("u:pro") with input.principal as p
	not billing.has_plan("o:pro") with input.principal as {}
}

test_state if {
	billing.state("features", {"o:b", "o:a"}) == "the session has features o:a, o:b"
	billing.state("plans", set()) == "the session has no plans"
}
