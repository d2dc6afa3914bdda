# Tenant isolation for organization-scoped actions.
#
# The session's active organization is the only source of truth for the
# tenant (the URL slug is user input; see the seed article). A resource must
# name the organization that owns it, and that organization must be the
# active one. A resource slug, when given, must match too: it catches callers
# that resolved the tenant from a URL slug that points elsewhere.
package verdict.tenancy

import data.verdict.session

# The first tenancy check that fails, as a deny; undefined when all pass. The
# order is the contract's: no_active_org, tenant_missing, tenant_mismatch.
violation := _deny("no_active_org", msg) if {
	not session.org_id
	msg := sprintf("action %s is organization-scoped but the session has no active organization", [input.action])
} else := _deny("tenant_missing", msg) if {
	not resource_org_id
	msg := sprintf("action %s is organization-scoped but the resource does not name its organization (resource.org_id)", [input.action])
} else := _deny("tenant_mismatch", msg) if {
	resource_org_id != session.org_id
	msg := sprintf("resource belongs to %s but the active organization is %s", [resource_org_id, session.org_id])
} else := _deny("tenant_mismatch", msg) if {
	resource_org_slug
	not session.org_slug
	msg := sprintf("resource names organization slug %s but the session carries no organization slug to compare it with", [resource_org_slug])
} else := _deny("tenant_mismatch", msg) if {
	resource_org_slug != session.org_slug
	msg := sprintf("resource belongs to organization slug %s but the active organization's slug is %s", [resource_org_slug, session.org_slug])
}

# Absent, empty or non-string resource fields count as not given.
resource_org_id := input.resource.org_id if {
	is_string(input.resource.org_id)
	input.resource.org_id != ""
}

resource_org_slug := input.resource.org_slug if {
	is_string(input.resource.org_slug)
	input.resource.org_slug != ""
}

_deny(reason, msg) := {"allow": false, "reason": reason, "message": msg}
