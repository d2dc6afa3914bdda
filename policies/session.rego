# The caller's session, read from input.principal once so that no other file
# has to care how the Go service encodes absence.
#
# Go omits absent strings, but the policies must not depend on that: an empty
# string, a null or a value of the wrong type is treated exactly like an absent
# one. Every rule here is therefore undefined (or empty) for "absent", and
# callers test presence with the rule itself (`session.org_id`).
package verdict.session

# Only a literal true counts: a missing or malformed flag is anonymous.
authenticated if input.principal.authenticated == true

user_id := _string(input.principal.user_id)

org_id := _string(input.principal.org_id)

org_slug := _string(input.principal.org_slug)

# Go already prefixes the role with exactly one "org:"; normalizing again is
# cheap and keeps role lookups right if a caller ever passes "admin" (Clerk
# compares roles the same way: any run of leading "org:" counts as one).
org_role := normalize_role(_string(input.principal.org_role))

# The custom permissions the token carries for the active organization, as a
# set so that a lookup is a single indexed access.
permissions contains p if {
	some p in input.principal.org_permissions
	_string(p)
}

# fea and pla entries ("o:posts", "u:free"), in no particular order.
features contains f if {
	some f in input.principal.features
	_string(f)
}

plans contains p if {
	some p in input.principal.plans
	_string(p)
}

# fva as [first_factor_age, second_factor_age] in minutes, -1 for "never";
# undefined unless it is exactly two integers, each -1 or more (Clerk treats
# anything else as malformed, which fails every reverification check).
verification_age := [first, second] if {
	fva := input.principal.factor_verification_age
	is_array(fva)
	count(fva) == 2
	first := fva[0]
	second := fva[1]
	_age(first)
	_age(second)
}

# Someone is impersonating the user (Clerk's act claim). An empty object is
# not an actor.
impersonated if {
	is_object(input.principal.actor)
	count(input.principal.actor) > 0
}

# Who is impersonating, for messages only.
impersonator := sub if {
	sub := _string(input.principal.actor.sub)
} else := "another user"

normalize_role(role) := role if {
	startswith(role, "org:")
	not startswith(role, "org:org:")
} else := concat("", ["org:", regex.replace(role, `^(org:)+`, "")])

_string(x) := x if {
	is_string(x)
	x != ""
}

_age(x) if {
	is_number(x)
	x == floor(x)
	x >= -1
}
