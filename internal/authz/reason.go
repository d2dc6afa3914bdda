package authz

// Reason is a stable, machine-readable code explaining a decision. Callers
// branch on it; the accompanying message is for people.
type Reason string

// Deny reasons pinned by the contract, in the order in which they win when
// several apply.
const (
	ReasonTokenExpired           Reason = "token_expired"
	ReasonTokenInvalid           Reason = "token_invalid"
	ReasonSessionPending         Reason = "session_pending"
	ReasonUnauthenticated        Reason = "unauthenticated"
	ReasonUnknownAction          Reason = "unknown_action"
	ReasonNoActiveOrg            Reason = "no_active_org"
	ReasonTenantMissing          Reason = "tenant_missing"
	ReasonTenantMismatch         Reason = "tenant_mismatch"
	ReasonMissingRole            Reason = "missing_role"
	ReasonMissingPermission      Reason = "missing_permission"
	ReasonMissingFeature         Reason = "missing_feature"
	ReasonMissingPlan            Reason = "missing_plan"
	ReasonReverificationRequired Reason = "reverification_required"
	ReasonImpersonationDenied    Reason = "impersonation_denied"
)

// Allow reasons produced by the default policies. Policies may add their own:
// any non-empty code is accepted on an allow.
const (
	ReasonRole       Reason = "role"
	ReasonPermission Reason = "permission"
	ReasonMembership Reason = "membership"
)
