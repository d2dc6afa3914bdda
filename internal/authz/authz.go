// Package authz holds Verdict's domain: who is asking (Principal), what they
// ask for (Check), the answer (Decision) with its stable reason codes, and the
// Decider that turns a session token and a check into a decision.
//
// It depends on nothing but the standard library. Token verification and
// policy evaluation are reached through the small interfaces declared here
// (Authenticator, Evaluator), so the package never sees HTTP, JWTs or Rego.
package authz

import (
	"time"
)

// Principal is the normalized view of a verified Clerk session token, the
// same for both token formats. The zero value is the anonymous principal.
type Principal struct {
	// Authenticated is false for the anonymous principal (no token).
	Authenticated bool `json:"-"`

	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	OrgID     string `json:"org_id,omitempty"`
	// OrgRole always carries exactly one "org:" prefix ("org:admin").
	OrgRole string `json:"org_role,omitempty"`
	OrgSlug string `json:"org_slug,omitempty"`
	// OrgPermissions are the custom permissions the token carries for the
	// active organization. System permissions (org:sys_*) are never here in a
	// real session token; policies decide those by role.
	OrgPermissions []string `json:"org_permissions"`
	// Features and Plans are the fea/pla entries in token order ("o:dashboard").
	Features []string `json:"features,omitempty"`
	Plans    []string `json:"plans,omitempty"`
	// FactorVerificationAge is fva: minutes since the first- and second-factor
	// verification, -1 for never. Nil when the token does not carry it.
	FactorVerificationAge *[2]int `json:"factor_verification_age,omitempty"`
	// SessionStatus is sts ("active", "pending"), empty when absent.
	SessionStatus string `json:"session_status,omitempty"`
	// Actor is act, present while someone impersonates the user.
	Actor map[string]any `json:"actor,omitempty"`
	// TokenVersion is 2 for Clerk's v2 session token format, else 1.
	TokenVersion int       `json:"token_version"`
	ExpiresAt    time.Time `json:"expires_at"`
	// IssuedAt is iat, zero when the token does not carry it: a removed
	// member's tokens issued before the removal are revoked.
	IssuedAt time.Time `json:"-"`
}

// Resource is the object a check is about. OrgID names the tenant that owns it.
type Resource struct {
	Type       string         `json:"type,omitempty"`
	ID         string         `json:"id,omitempty"`
	OrgID      string         `json:"org_id,omitempty"`
	OrgSlug    string         `json:"org_slug,omitempty"`
	OwnerID    string         `json:"owner_id,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// RequestSubject is the subject an AuthZEN request names, as the caller
// sent it, without its session token: the policies see it as
// input.subject. A token-less request may be decided from it alone when
// the action's catalog entry accepts the subject the calling service
// vouches for.
type RequestSubject struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Check is one question: may the principal perform Action on Resource?
type Check struct {
	Action   string         `json:"action"`
	Resource *Resource      `json:"resource,omitempty"`
	Context  map[string]any `json:"context,omitempty"`
	// Subject is the AuthZEN subject, nil on Verdict's own routes.
	Subject *RequestSubject `json:"subject,omitempty"`
	// Caller names the service that asked: its API key's name, when the
	// service requires keys (empty otherwise). The policies see it as
	// input.caller; a subject is vouched for only by a caller an action's
	// catalog entry trusts.
	Caller string `json:"caller,omitempty"`
	// Explain asks for the rules and expressions that decided, with the
	// decision. It is not part of the question: the answer is the same.
	Explain bool `json:"-"`
}

// Decision is the answer to a Check, in the wire shape of the contract.
type Decision struct {
	DecisionID     string `json:"decision_id"`
	Allow          bool   `json:"allow"`
	Reason         Reason `json:"reason"`
	Message        string `json:"message"`
	PolicyRevision string `json:"policy_revision"`
	// Explanation, when the check asked for one: what decided, one
	// "file:line: expression" per step, in evaluation order.
	Explanation []string `json:"explanation,omitempty"`
}

// Input is what the policies are evaluated against: the principal, as the
// Evaluator prepared it, and one check.
type Input struct {
	Subject Subject
	Check   Check
}

// Outcome is what the policies answered for one Input.
type Outcome struct {
	Allow   bool
	Reason  Reason
	Message string
	// Deterministic reports that the policies that answered read nothing
	// but their input and data (no clock, randomness or network), so the
	// same input under the same revision always gets this outcome.
	Deterministic bool
}

// HasAnswer is Clerk's has() answered for a session: Result is what Clerk's
// SDK returns; Reason and Message say why.
type HasAnswer struct {
	Result  bool   `json:"result"`
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}
