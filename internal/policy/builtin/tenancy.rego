# Tenant scoping: an organization-scoped action needs an active organization
# in the session and a resource that belongs to it. The session's
# organization is the source of truth; a slug in the resource, when given,
# must match the session's too (a URL slug alone never decides).
#
# The service leaves absent and empty strings out of the input, so presence
# is a plain reference.
package verdict.tenancy

# The resource belongs to the session's organization: the common case,
# decided without building any denial.
scoped if {
	input.resource.org_id == input.principal.org_id
	not input.resource.org_slug
}

scoped if {
	input.resource.org_id == input.principal.org_id
	input.resource.org_slug == input.principal.org_slug
}

# The first tenancy failure; undefined when the resource is the session's.
violation := _deny("no_active_org", msg) if {
	not input.principal.org_id
	msg := sprintf("action %s is organization-scoped but the session has no active organization", [input.action])
} else := _deny("tenant_missing", msg) if {
	not input.resource.org_id
	msg := sprintf("action %s is organization-scoped but the resource does not name its organization (resource.org_id)", [input.action])
} else := _deny("tenant_mismatch", msg) if {
	input.resource.org_id != input.principal.org_id
	msg := sprintf("resource belongs to %s but the active organization is %s", [input.resource.org_id, input.principal.org_id])
} else := _deny("tenant_mismatch", msg) if {
	input.resource.org_slug != input.principal.org_slug
	msg := sprintf("resource belongs to organization slug %s but the active organization's slug is %s", [input.resource.org_slug, input.principal.org_slug])
} else := _deny("tenant_mismatch", msg) if {
	input.resource.org_slug
	not input.principal.org_slug
	msg := sprintf("resource names organization slug %s but the session carries no organization slug to compare it with", [input.resource.org_slug])
}

_deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}
