# Verifying a Clerk session token and reading its claims, for a plain OPA
# server: the part Verdict does in Go before its policies run.
#
# The server is given the verification keys as data.jwks_json_string (the
# JWKS document as a string, which is what io.jwt.decode_verify takes).
package bench

# The token, when the caller sent one.
token := input.token if {
	is_string(input.token)
	input.token != ""
}

# [header, payload] of a token whose signature, exp and nbf check out.
verified := [header, payload] if {
	[valid, header, payload] := io.jwt.decode_verify(token, {"cert": data.jwks_json_string})
	valid
}

# The claims of a usable session token: RS256 only, typ JWT when present,
# and a user.
claims := payload if {
	[header, payload] := verified
	header.alg == "RS256"
	typ_ok(header)
	is_string(payload.sub)
	payload.sub != ""
}

typ_ok(header) if not "typ" in object.keys(header)

typ_ok(header) if header.typ == "JWT"

# Why a presented token is unusable. decode_verify answers false for an
# expired token and a forged one alike, so an expired token is told apart
# by checking its signature alone and then its exp.
token_failure := "token_expired" if {
	not claims
	io.jwt.verify_rs256(token, data.jwks_json_string)
	[header, payload, _] := io.jwt.decode(token)
	header.alg == "RS256"
	is_number(payload.exp)
	payload.exp * 1000000000 <= time.now_ns()
} else := "token_invalid" if {
	not claims
}

# ---------------------------------------------------------------------------
# Clerk's claims, both token formats: v2 (v == 2) keeps the organization in
# o {id, slg, rol, per, fpm} and its permissions as bit masks over o.per,
# one mask per organization-scoped fea entry; v1 has org_* claims.

v2 if claims.v == 2

org_id := claims.o.id if {
	v2
	nonempty(claims.o.id)
}

org_id := claims.org_id if {
	not v2
	nonempty(claims.org_id)
}

org_slug := claims.o.slg if {
	v2
	nonempty(claims.o.slg)
}

org_slug := claims.org_slug if {
	not v2
	nonempty(claims.org_slug)
}

org_role := with_org_prefix(claims.o.rol) if {
	v2
	nonempty(claims.o.rol)
}

org_role := with_org_prefix(claims.org_role) if {
	not v2
	nonempty(claims.org_role)
}

# Custom permissions the token carries (system ones are decided by role, so
# a v1 token that lists one changes nothing).
permissions contains p if {
	not v2
	some p in claims.org_permissions
	is_string(p)
}

permissions contains concat(":", ["org", feature, trim_space(per[j])]) if {
	v2
	per := split(claims.o.per, ",")
	fpm := split(claims.o.fpm, ",")
	some i, feature in org_features
	mask := to_number(trim_space(fpm[i]))
	some j in numbers.range(0, count(per) - 1)
	bits.and(mask, bits.lsh(1, j)) != 0
}

# fea and pla entries ("o:reports", "u:beta").
features := [trim_space(e) | some e in split(claims.fea, ",")]

plans := [trim_space(e) | some e in split(claims.pla, ",")]

# The names of the organization-scoped features, in token order: the v2
# permission masks line up with them.
org_features := [parts[1] |
	some e in features
	parts := split(e, ":")
	contains(parts[0], "o")
]

# fva: [first-factor age, second-factor age] in minutes, -1 for never.
fva := [first, second] if {
	[first, second] := claims.fva
	is_number(first)
	is_number(second)
}

impersonated if count(claims.act) > 0

nonempty(s) if {
	is_string(s)
	s != ""
}

with_org_prefix(role) := role if startswith(role, "org:")

else := concat("", ["org:", role])
