package main

import (
	"slices"
	"strings"
)

// This file is the harness's own reading of the contract: given what the
// corpus generator put in a token (a principal), an action and a resource,
// it says which decision a correct PDP returns. It never asks a server.

// decision is the part of a /v1/check answer the harness compares.
type decision struct {
	Allow  bool   `json:"allow"`
	Reason string `json:"reason"`
}

func (d decision) String() string {
	if d.Allow {
		return "allow/" + d.Reason
	}
	return "deny/" + d.Reason
}

func allow(reason string) decision { return decision{Allow: true, Reason: reason} }
func deny(reason string) decision  { return decision{Reason: reason} }

// principal is what a corpus token carries, as the generator built it.
type principal struct {
	// failure is the token's own deny code (token_invalid, token_expired),
	// empty for a good token.
	failure string
	// anonymous means no token at all.
	anonymous bool
	orgID     string
	orgSlug   string
	// role carries exactly one "org:" prefix.
	role string
	// perms are the permission keys the token lists, system ones included
	// when a v1 token forges them (the rules ignore those).
	perms    map[string]bool
	features []string // fea entries ("o:reports", "u:beta")
	plans    []string // pla entries
	fva      []int    // [first, second] factor ages in minutes; nil when absent
}

// resource is the resource object of a check.
type resource struct {
	Type    string `json:"type,omitempty"`
	ID      string `json:"id,omitempty"`
	OrgID   string `json:"org_id,omitempty"`
	OrgSlug string `json:"org_slug,omitempty"`
}

// requirementCodes are the requirement deny codes in the contract's
// precedence order.
var requirementCodes = []string{
	"missing_role", "missing_permission", "missing_feature",
	"missing_plan", "reverification_required", "impersonation_denied",
}

// impliedOrder is the order in which a requirement without an explicit deny
// code picks one from its terms (policies/README.md).
var impliedOrder = []string{
	"missing_permission", "missing_role", "missing_feature",
	"missing_plan", "reverification_required", "impersonation_denied",
}

// isPermissionKey reports whether action is shaped org:<feature>:<perm>.
func isPermissionKey(action string) bool {
	parts := strings.Split(action, ":")
	return len(parts) == 3 && parts[0] == "org" && parts[1] != "" && parts[2] != ""
}

func isSystemPermission(key string) bool {
	return isPermissionKey(key) && strings.HasPrefix(key, "org:sys_")
}

// expect is the decision a correct PDP returns for p doing action on res,
// in the contract's precedence order.
func (r *rules) expect(p principal, action string, res resource) decision {
	switch {
	case p.anonymous:
		return deny("unauthenticated")
	case p.failure != "":
		return deny(p.failure)
	}
	entry, inCatalog := r.actions[action]
	key := isPermissionKey(action)
	switch {
	case !key && !inCatalog:
		return deny("unknown_action")
	case p.orgID == "":
		return deny("no_active_org")
	case res.OrgID == "":
		return deny("tenant_missing")
	case res.OrgID != p.orgID:
		return deny("tenant_mismatch")
	case res.OrgSlug != "" && res.OrgSlug != p.orgSlug:
		return deny("tenant_mismatch")
	case key:
		return r.permissionOutcome(p, action)
	}
	return r.catalogOutcome(p, entry)
}

// holds reports whether p holds permission key: system permissions by role
// only, custom ones from the token.
func (r *rules) holds(p principal, key string) bool {
	if isSystemPermission(key) {
		return slices.Contains(r.roles[p.role], key)
	}
	return isPermissionKey(key) && p.perms[key]
}

func (r *rules) permissionOutcome(p principal, key string) decision {
	switch {
	case r.holds(p, key) && isSystemPermission(key):
		return allow("role")
	case r.holds(p, key):
		return allow("permission")
	case isSystemPermission(key):
		return deny("missing_role")
	}
	return deny("missing_permission")
}

func (r *rules) catalogOutcome(p principal, e catalogEntry) decision {
	best, failed := len(requirementCodes), false
	for _, req := range e.requires {
		if r.met(p, req) {
			continue
		}
		failed = true
		best = min(best, slices.Index(requirementCodes, denyCode(req)))
	}
	if failed {
		return deny(requirementCodes[best])
	}
	for _, req := range e.requires {
		for _, t := range req.anyOf {
			if reason := grantReason(t); reason != "" && r.satisfied(p, t) {
				return allow(reason)
			}
		}
	}
	return allow("membership")
}

func (r *rules) met(p principal, req requirement) bool {
	return slices.ContainsFunc(req.anyOf, func(t term) bool { return r.satisfied(p, t) })
}

func (r *rules) satisfied(p principal, t term) bool {
	switch t.kind {
	case "role":
		return p.orgID != "" && p.role != "" && withOrgPrefix(t.value.(string)) == p.role
	case "permission":
		return r.holds(p, t.value.(string))
	case "feature":
		return entitled(p.features, t.value.(string))
	case "plan":
		return entitled(p.plans, t.value.(string))
	case "reverification":
		w, _ := reverificationWindow(t.value)
		return w.fresh(p.fva)
	case "not_impersonated":
		return true // corpus tokens never carry an actor
	}
	return false
}

// denyCode is the code a failed requirement denies with.
func denyCode(req requirement) string {
	if req.deny != "" {
		return req.deny
	}
	for _, code := range impliedOrder {
		for _, t := range req.anyOf {
			if impliedCode(t) == code {
				return code
			}
		}
	}
	return "missing_role" // unreachable for a parsed entry
}

func impliedCode(t term) string {
	switch t.kind {
	case "role":
		return "missing_role"
	case "permission":
		if isSystemPermission(t.value.(string)) {
			return "missing_role"
		}
		return "missing_permission"
	case "feature":
		return "missing_feature"
	case "plan":
		return "missing_plan"
	case "reverification":
		return "reverification_required"
	}
	return "impersonation_denied"
}

// grantReason is the allow reason a role or permission term gives; gates
// (features, plans, reverification, impersonation) give none.
func grantReason(t term) string {
	switch {
	case t.kind == "role":
		return "role"
	case t.kind == "permission" && isSystemPermission(t.value.(string)):
		return "role"
	case t.kind == "permission":
		return "permission"
	}
	return ""
}

func withOrgPrefix(role string) string {
	for strings.HasPrefix(role, "org:") {
		role = role[len("org:"):]
	}
	return "org:" + role
}

// validEntitlementQuery accepts a bare name or o/org/organization/u/user
// followed by a name, as Clerk's has() does.
func validEntitlementQuery(q string) bool {
	scope, name, scoped := strings.Cut(q, ":")
	if !scoped {
		return q != ""
	}
	_, ok := queryScopes[scope]
	return ok && name != ""
}

var queryScopes = map[string]string{"o": "o", "org": "o", "organization": "o", "u": "u", "user": "u"}

// entitled is Clerk's feature/plan match: a bare query matches an entry of
// either scope, a scoped one only entries of its scope ("ou"/"uo" are both).
func entitled(entries []string, q string) bool {
	want := "ou"
	name := q
	if scope, n, ok := strings.Cut(q, ":"); ok {
		want, name = queryScopes[scope], strings.Split(n, ":")[0]
	}
	for _, e := range entries {
		scope, n, ok := strings.Cut(e, ":")
		if ok && n == name && strings.ContainsAny(scope, want) {
			return true
		}
	}
	return false
}

// window is a reverification requirement: a factor level and a freshness
// bound in minutes.
type window struct {
	level   string
	minutes float64
}

var presets = map[string]window{
	"strict_mfa": {"multi_factor", 10},
	"strict":     {"second_factor", 10},
	"moderate":   {"second_factor", 60},
	"lax":        {"second_factor", 1440},
}

func reverificationWindow(v any) (window, bool) {
	switch v := v.(type) {
	case string:
		w, ok := presets[v]
		return w, ok
	case map[string]any:
		level, _ := v["level"].(string)
		minutes, ok := v["afterMinutes"].(float64)
		if !ok {
			minutes, ok = v["after_minutes"].(float64)
		}
		switch level {
		case "first_factor", "second_factor", "multi_factor":
			return window{level, minutes}, ok && minutes > 0
		}
	}
	return window{}, false
}

// fresh applies Clerk's rule: a factor is fresh when it was verified (not
// -1) strictly less than minutes ago; second_factor falls back to the first
// factor when the second is not enabled, multi_factor needs both unless the
// second is not enabled.
func (w window) fresh(fva []int) bool {
	if len(fva) != 2 {
		return false
	}
	first, second := fva[0], fva[1]
	ok := func(age int) bool { return age != -1 && w.minutes > float64(age) }
	switch w.level {
	case "first_factor":
		return ok(first)
	case "second_factor":
		if second == -1 {
			return ok(first)
		}
		return ok(second)
	case "multi_factor":
		if second == -1 {
			return ok(first)
		}
		return ok(first) && ok(second)
	}
	return false
}
