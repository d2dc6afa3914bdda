# Tenant scoping: an organization-scoped action needs an active organization
# in the session and a resource that belongs to it. The session's
# organization is the source of truth; a slug in the resource, when given,
# must match the session's too (a URL slug alone never decides).
#
# Every permission key is organization-scoped (Clerk's definition), and so is
# every catalog entry unless it says "scope": "user". A user-scoped action
# needs no active organization and no resource organization, but a resource
# that names an organization must still name the active one.
#
# The service leaves absent and empty strings out of the input, so presence
# is a plain reference.
package verdict.tenancy

import data.verdict.catalog

# The stage passes: the resource is the session's organization's (whatever
# the action's scope: the common case), or the action is user-scoped and
# the resource names no organization.
passes if in_active_org

passes if {
	not input.resource.org_id
	not input.resource.org_slug
	catalog.user_scoped
}

# The resource is the session's organization's, by id, and by slug too
# when the resource gives one: two comparisons. This part of the stage
# does not depend on the action, and is a rule of its own so that the
# allowed actions of one resource compute it once for all of them
# (reuse.go); authz.rego's common path asks it directly. The first
# definition binds the resource's slug before comparing it, which OPA's
# rule index reads as "the resource has a slug": without one, the
# definition is not even entered.
in_active_org if {
	slug := input.resource.org_slug
	input.resource.org_id == input.principal.org_id
	slug == input.principal.org_slug
}

in_active_org if {
	input.resource.org_id == input.principal.org_id
	not input.resource.org_slug
}

# Why the stage does not pass: the first of no_active_org, tenant_missing,
# tenant_mismatch. Read only when passes is undefined (authz.rego): the
# last branch names no detail but makes the denial total, so whenever the
# stage does not pass, it denies. The common denials, a resource of
# another organization or of another slug, are asked first: each needs
# both organizations, and every branch they skip needs one of them
# absent, so the answers are the same as in the contract's order.
denial := {"allow": false, "reason": "tenant_mismatch", "message": msg} if {
	input.resource.org_id != input.principal.org_id
	msg := sprintf("resource belongs to %s but the active organization is %s", [input.resource.org_id, input.principal.org_id])
} else := {"allow": false, "reason": "tenant_mismatch", "message": msg} if {
	input.resource.org_id == input.principal.org_id
	input.resource.org_slug != input.principal.org_slug
	msg := sprintf("resource belongs to organization slug %s but the active organization's slug is %s", [input.resource.org_slug, input.principal.org_slug])
} else := {"allow": false, "reason": "no_active_org", "message": msg} if {
	not input.principal.org_id
	not catalog.user_scoped
	msg := sprintf("action %s is organization-scoped but the session has no active organization", [input.action])
} else := {"allow": false, "reason": "tenant_missing", "message": msg} if {
	not input.resource.org_id
	not catalog.user_scoped
	msg := sprintf("action %s is organization-scoped but the resource does not name its organization (resource.org_id)", [input.action])
} else := {"allow": false, "reason": "tenant_mismatch", "message": msg} if {
	not input.principal.org_id
	msg := sprintf("the resource names an organization but the session has no active organization, so action %s may not act on it", [input.action])
} else := {"allow": false, "reason": "tenant_mismatch", "message": msg} if {
	not input.resource.org_id
	msg := sprintf("the resource names organization slug %s but not its organization (resource.org_id)", [input.resource.org_slug])
} else := {"allow": false, "reason": "tenant_mismatch", "message": msg} if {
	input.resource.org_slug
	not input.principal.org_slug
	msg := sprintf("resource names organization slug %s but the session carries no organization slug to compare it with", [input.resource.org_slug])
} else := {"allow": false, "reason": "tenant_mismatch", "message": msg} if {
	msg := sprintf("the resource is not in the active organization, so action %s may not act on it", [input.action])
}
