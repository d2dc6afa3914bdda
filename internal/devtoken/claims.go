package devtoken

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// IssuerURL is the iss claim of every minted token. It is deliberately not a
// Clerk domain, so a dev token is recognisable at a glance.
const IssuerURL = "https://verdict.dev.local"

// Defaults applied by Claims to an empty TokenRequest field.
const (
	DefaultUserID    = "user_dev"
	DefaultSessionID = "sess_dev"
	DefaultTTL       = time.Hour
)

// nbfLeeway mirrors Clerk, which sets nbf a few seconds before iat so that a
// verifier whose clock lags slightly still accepts a fresh token.
const nbfLeeway = 10

// TokenRequest describes the session token to mint. It is the JSON body of
// POST /dev/tokens; the zero value is a valid request (a v2 token for
// DefaultUserID without an active organization).
type TokenRequest struct {
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	OrgID     string `json:"org_id"`
	// OrgRole may be given with or without the "org:" prefix.
	OrgRole string `json:"org_role"`
	OrgSlug string `json:"org_slug"`
	// Permissions are custom permission keys "org:<feature>:<permission>".
	Permissions []string `json:"permissions"`
	// Features are extra fea entries ("u:beta"), appended after the org
	// features implied by Permissions.
	Features []string `json:"features"`
	// Plans are pla entries ("u:free", "o:pro").
	Plans []string `json:"plans"`
	// Format is "v1" or "v2" (the default).
	Format string `json:"format"`
	// TTLSeconds is the token lifetime; 0 means DefaultTTL.
	TTLSeconds int `json:"ttl_seconds"`
}

// Claims builds the Clerk-shaped payload for req, issued at now. It rejects
// requests that Clerk could never have issued (a malformed permission key, an
// organization field without org_id, an unknown format).
func (i *Issuer) Claims(req TokenRequest, now time.Time) (map[string]any, error) {
	if err := validate(&req); err != nil {
		return nil, fmt.Errorf("invalid token request: %w", err)
	}
	iat := now.Unix()
	claims := map[string]any{
		"sub": req.UserID,
		"sid": req.SessionID,
		"iss": IssuerURL,
		"iat": iat,
		"nbf": iat - nbfLeeway,
		"exp": iat + int64(req.TTLSeconds),
	}
	if req.Format == "v1" {
		addV1(claims, req)
	} else {
		addV2(claims, req)
	}
	return claims, nil
}

// Mint builds the claims for req and signs them with Sign.
func (i *Issuer) Mint(req TokenRequest, now time.Time) (string, error) {
	claims, err := i.Claims(req, now)
	if err != nil {
		return "", err
	}
	return i.Sign(claims)
}

// validate checks req and fills in defaults.
func validate(req *TokenRequest) error {
	switch req.Format {
	case "":
		req.Format = "v2"
	case "v1", "v2":
	default:
		return fmt.Errorf("format %q is not v1 or v2", req.Format)
	}
	switch {
	case req.TTLSeconds < 0:
		return errors.New("ttl_seconds must not be negative")
	case req.TTLSeconds == 0:
		req.TTLSeconds = int(DefaultTTL / time.Second)
	}
	if req.UserID == "" {
		req.UserID = DefaultUserID
	}
	if req.SessionID == "" {
		req.SessionID = DefaultSessionID
	}
	if req.OrgID == "" && (req.OrgRole != "" || req.OrgSlug != "" || len(req.Permissions) > 0) {
		return errors.New("org_role, org_slug and permissions need an active organization (org_id)")
	}
	for _, p := range req.Permissions {
		if _, _, ok := splitPermission(p); !ok {
			return fmt.Errorf("permission %q is not of the form org:<feature>:<permission>", p)
		}
	}
	if err := validateScoped("features", req.Features); err != nil {
		return err
	}
	return validateScoped("plans", req.Plans)
}

// splitPermission splits "org:<feature>:<permission>" into its two names.
func splitPermission(p string) (feature, perm string, ok bool) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 || parts[0] != "org" || !isName(parts[1]) || !isName(parts[2]) {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// validateScoped checks fea/pla entries: "<scope>:<name>" with a scope Clerk
// emits, since an entry without one makes Clerk's decoder throw.
func validateScoped(field string, entries []string) error {
	for _, e := range entries {
		scope, name, ok := strings.Cut(e, ":")
		if !ok || !isName(name) || !isScope(scope) {
			return fmt.Errorf("%s entry %q is not of the form <o|u|ou|uo>:<name>", field, e)
		}
	}
	return nil
}

func isScope(s string) bool { return s == "o" || s == "u" || s == "ou" || s == "uo" }

// isName rejects what would corrupt the comma-separated claims: empty names,
// separators and surrounding whitespace.
func isName(s string) bool {
	return s != "" && strings.TrimSpace(s) == s && !strings.ContainsAny(s, ",:")
}

// bareRole strips every leading "org:" so the role can be re-prefixed once
// (v1) or carried bare as Clerk's v2 o.rol does.
func bareRole(role string) string {
	for strings.HasPrefix(role, "org:") {
		role = role[len("org:"):]
	}
	return role
}

func addV1(claims map[string]any, req TokenRequest) {
	if req.OrgID != "" {
		claims["org_id"] = req.OrgID
		putNonEmpty(claims, "org_slug", req.OrgSlug)
		if role := bareRole(req.OrgRole); role != "" {
			claims["org_role"] = "org:" + role
		}
		claims["org_permissions"] = dedupe(req.Permissions)
	}
	putNonEmpty(claims, "fea", strings.Join(dedupe(req.Features), ","))
	putNonEmpty(claims, "pla", strings.Join(req.Plans, ","))
}

func addV2(claims map[string]any, req TokenRequest) {
	claims["v"] = 2
	enc := encodePermissions(req.Permissions, req.Features)
	putNonEmpty(claims, "fea", strings.Join(enc.fea, ","))
	putNonEmpty(claims, "pla", strings.Join(req.Plans, ","))
	if req.OrgID == "" {
		return
	}
	o := map[string]any{"id": req.OrgID}
	putNonEmpty(o, "slg", req.OrgSlug)
	putNonEmpty(o, "rol", bareRole(req.OrgRole))
	if len(enc.per) > 0 {
		o["per"] = strings.Join(enc.per, ",")
		o["fpm"] = strings.Join(enc.fpm, ",")
	}
	claims["o"] = o
}

func putNonEmpty(m map[string]any, key, value string) {
	if value != "" {
		m[key] = value
	}
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// v2Encoding is the v2 form of a permission list: fea entries, o.per names
// and one o.fpm mask per organization-scoped fea entry.
type v2Encoding struct {
	fea, per, fpm []string
}

// encodePermissions is the inverse of Clerk's v2 decoding: every permission
// "org:F:P" turns into the fea entry "o:F" and bit j of F's mask, where j is
// P's position in per. Extra features follow the permission features; the
// org-scoped ones get a zero mask so masks and org features stay aligned.
func encodePermissions(perms, extra []string) v2Encoding {
	var enc v2Encoding
	permIndex := map[string]int{}
	masks := map[string]*big.Int{}
	for _, p := range perms {
		feature, name, _ := splitPermission(p) // validated by the caller
		j, ok := permIndex[name]
		if !ok {
			j = len(enc.per)
			permIndex[name] = j
			enc.per = append(enc.per, name)
		}
		if masks[feature] == nil {
			masks[feature] = new(big.Int)
			enc.fea = append(enc.fea, "o:"+feature)
		}
		masks[feature].SetBit(masks[feature], j, 1)
	}
	for _, e := range enc.fea {
		enc.fpm = append(enc.fpm, masks[strings.TrimPrefix(e, "o:")].String())
	}
	for _, e := range dedupe(extra) {
		if strings.HasPrefix(e, "o:") && masks[e[len("o:"):]] != nil {
			continue // already listed as a permission feature
		}
		enc.fea = append(enc.fea, e)
		if scope, _, _ := strings.Cut(e, ":"); scope != "u" {
			enc.fpm = append(enc.fpm, "0")
		}
	}
	return enc
}
