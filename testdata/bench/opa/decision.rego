# Verdict's default policies written for a plain OPA server, as an OPA user
# would write them: the service answers POST /v1/data/bench/decision with
# {"input": <the /v1/check body>} and gets {"allow": bool, "reason": code}.
#
# The reason codes and their precedence are the contract's: the token's own
# failures, unauthenticated, unknown_action, no_active_org, tenant_missing,
# tenant_mismatch, then the action's requirements, and last the opt-in
# impersonation rule. Roles, the action catalog and the impersonation
# switch come from the same data.json Verdict loads (data.verdict).
package bench

decision := deny("unauthenticated") if {
	not token
} else := deny(token_failure) if {
	not claims
} else := deny("session_pending") if {
	claims.sts == "pending"
} else := deny("unknown_action") if {
	not known_action
} else := deny("no_active_org") if {
	not org_id
} else := deny("tenant_missing") if {
	not resource_org_id
} else := deny("tenant_mismatch") if {
	resource_org_id != org_id
} else := deny("tenant_mismatch") if {
	resource_org_slug
	not resource_org_slug == org_slug
} else := deny("impersonation_denied") if {
	outcome.allow
	impersonation_forbids(input.action)
} else := outcome

outcome := permission_outcome if is_key(input.action)

else := catalog_outcome

deny(reason) := {"allow": false, "reason": reason}

# The opt-in impersonation rule (data.verdict.impersonation): while an actor
# impersonates the user, managing system permissions and destructive
# catalog actions are denied.
impersonation_forbids(action) if {
	data.verdict.impersonation.deny_destructive == true
	impersonated
	is_system(action)
	not endswith(action, ":read")
}

impersonation_forbids(action) if {
	data.verdict.impersonation.deny_destructive == true
	impersonated
	data.verdict.actions[action].destructive == true
}

known_action if is_key(input.action)

known_action if entry

resource_org_id := input.resource.org_id if nonempty(input.resource.org_id)

resource_org_slug := input.resource.org_slug if nonempty(input.resource.org_slug)

# ---------------------------------------------------------------------------
# Permission keys org:<feature>:<permission>: system ones (org:sys_*) by
# role, custom ones from the token.

is_key(action) if {
	parts := split(action, ":")
	count(parts) == 3
	parts[0] == "org"
	parts[1] != ""
	parts[2] != ""
}

is_system(key) if {
	is_key(key)
	startswith(key, "org:sys_")
}

holds(key) if {
	is_system(key)
	key in data.verdict.roles[org_role].system_permissions
}

holds(key) if {
	is_key(key)
	not is_system(key)
	permissions[key]
}

permission_outcome := {"allow": true, "reason": "role"} if {
	is_system(input.action)
	holds(input.action)
} else := {"allow": true, "reason": "permission"} if {
	holds(input.action)
} else := deny("missing_role") if {
	is_system(input.action)
} else := deny("missing_permission")
