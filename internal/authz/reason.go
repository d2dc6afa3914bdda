package authz

import "slices"

// Reason is a stable, machine-readable code explaining a decision. Callers
// branch on it; the accompanying message is for people.
type Reason string

// Deny reasons pinned by the contract, in the order in which they win when
// several apply.
const (
	ReasonTokenExpired   Reason = "token_expired"
	ReasonTokenInvalid   Reason = "token_invalid"
	ReasonSessionPending Reason = "session_pending"
	ReasonSessionRevoked Reason = "session_revoked"
	// ReasonSubjectMismatch: an AuthZEN request's subject.id is not the
	// token's user (sub).
	ReasonSubjectMismatch        Reason = "subject_mismatch"
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

// ReasonInvalidRule is the code of a team deny member written without a
// reason code: it still denies (Verdict's built-in layer).
const ReasonInvalidRule Reason = "invalid_rule"

// Codes only has() answers with; it also answers with the token's reasons,
// unauthenticated, no_active_org and the requirement codes.
const (
	ReasonGranted      Reason = "granted"
	ReasonEmptyCheck   Reason = "empty_check"
	ReasonInvalidCheck Reason = "invalid_check"
)

// DenyReasons are the contract's deny codes, in the order in which they
// win when several apply. This list, AllowReasons and HasReasons are the
// one place the codes are listed: the metrics' reason label, the built-in
// policies and api/openapi.yaml are tested against them.
func DenyReasons() []Reason {
	return []Reason{
		ReasonTokenExpired, ReasonTokenInvalid, ReasonSessionPending, ReasonSessionRevoked, ReasonSubjectMismatch,
		ReasonUnauthenticated,
		ReasonUnknownAction, ReasonNoActiveOrg, ReasonTenantMissing, ReasonTenantMismatch,
		ReasonMissingRole, ReasonMissingPermission, ReasonMissingFeature, ReasonMissingPlan,
		ReasonReverificationRequired, ReasonImpersonationDenied,
	}
}

// TokenReasons are the deny codes a token earns before the policies run,
// subject_mismatch (a token sent for another subject) among them: the
// service gives them, never the policies.
func TokenReasons() []Reason {
	return []Reason{ReasonTokenExpired, ReasonTokenInvalid, ReasonSessionPending, ReasonSessionRevoked, ReasonSubjectMismatch}
}

// AllowReasons are the default policies' allow codes.
func AllowReasons() []Reason { return []Reason{ReasonRole, ReasonPermission, ReasonMembership} }

// HasReasons are the codes only has() answers with.
func HasReasons() []Reason { return []Reason{ReasonGranted, ReasonEmptyCheck, ReasonInvalidCheck} }

// KnownReasons are every code Verdict itself defines: the deny, allow and
// has() codes, and invalid_rule. Teams' policies may answer with others.
func KnownReasons() []Reason {
	return slices.Concat(DenyReasons(), AllowReasons(), HasReasons(), []Reason{ReasonInvalidRule})
}
