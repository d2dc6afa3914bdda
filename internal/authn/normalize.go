package authn

import (
	"encoding/json"
	"math"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// Normalize turns a raw JSON claims payload into a principal without any
// verification (the Verifier calls it after verifying; `verdict check
// --claims` calls it directly). Claims of the wrong type are treated as
// absent, as Clerk does. It fails with an *authz.TokenError (token_invalid)
// when the payload is not a JSON object or, in a v2 token with an active
// organization, fea holds an entry without a scope, which Clerk cannot decode
// either.
func Normalize(claims []byte) (authz.Principal, error) {
	c, err := parseClaims(claims)
	if err != nil {
		return authz.Principal{}, authz.InvalidToken("claims are not a JSON object", err)
	}
	return normalize(&c)
}

func normalize(c *claimSet) (authz.Principal, error) {
	p := authz.Principal{Authenticated: true, TokenVersion: 1, OrgPermissions: []string{}}
	p.UserID, _ = rawString(c.sub)
	p.SessionID, _ = rawString(c.sid)
	if exp, ok := epochMillis(c.exp); ok {
		p.ExpiresAt = time.UnixMilli(exp).UTC()
	}
	if iat, ok := epochMillis(c.iat); ok {
		p.IssuedAt = time.UnixMilli(iat).UTC()
	}
	fea, _ := rawString(c.fea)
	pla, _ := rawString(c.pla)
	p.Features = splitList(fea)
	p.Plans = splitList(pla)
	p.FactorVerificationAge = factorAge(c.fva)
	p.SessionStatus, _ = rawString(c.sts)
	p.Actor = actor(c.act)
	if !isV2(c.v) {
		normalizeV1(c, &p)
		return p, nil
	}
	p.TokenVersion = 2
	if err := normalizeV2(c.o, fea, &p); err != nil {
		return authz.Principal{}, err
	}
	return p, nil
}

// isV2 mirrors Clerk's switch (claims.v): only the number 2 selects v2.
func isV2(raw string) bool {
	v, ok := rawNumber(raw)
	return ok && v == 2
}

func normalizeV1(c *claimSet, p *authz.Principal) {
	p.OrgID, _ = rawString(c.orgID)
	p.OrgSlug, _ = rawString(c.orgSlug)
	if role, ok := rawString(c.orgRole); ok {
		p.OrgRole = prefixRole(role)
	}
	p.OrgPermissions = v1Permissions(c.orgPerms)
}

// v1Permissions reads org_permissions: an array of strings, else absent.
// Entries are kept verbatim, as Clerk keeps them: has() compares them as
// written, and /v1/check only ever asks for well-formed keys.
func v1Permissions(raw string) []string {
	out := []string{}
	if len(raw) == 0 || raw[0] != '[' {
		return out
	}
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return out
	}
	for _, e := range entries {
		s, ok := rawString(string(e))
		if !ok {
			return []string{} // one non-string makes the whole claim unusable
		}
		out = append(out, s)
	}
	return out
}

// orgClaim is the v2 "o" claim.
type orgClaim struct{ id, slg, rol, per, fpm string }

func normalizeV2(raw, fea string, p *authz.Principal) error {
	if !isObject(raw) {
		return nil // no active organization; legacy org_* claims are ignored
	}
	var o orgClaim
	scanMembers(raw, func(key, value string) {
		switch key {
		case "id":
			o.id = value
		case "slg":
			o.slg = value
		case "rol":
			o.rol = value
		case "per":
			o.per = value
		case "fpm":
			o.fpm = value
		}
	})
	features, err := orgFeatures(fea)
	if err != nil {
		return authz.InvalidToken("cannot decode fea: "+err.Error(), nil)
	}
	p.OrgID, _ = rawString(o.id)
	p.OrgSlug, _ = rawString(o.slg)
	if rol, _ := rawString(o.rol); rol != "" {
		p.OrgRole = prefixRole(rol)
	}
	per, _ := rawString(o.per)
	fpm, _ := rawString(o.fpm)
	p.OrgPermissions = orgPermissions(features, per, fpm)
	return nil
}

// maxExactInt is the largest integer a JavaScript number holds exactly.
const maxExactInt = 1 << 53

// factorAge reads fva: an array of exactly two integers, else absent.
func factorAge(raw string) *[2]int {
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var nums []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &nums); err != nil || len(nums) != 2 {
		return nil
	}
	var out [2]int
	for i, n := range nums {
		f, ok := rawNumber(string(n))
		if !ok || f != math.Trunc(f) || math.Abs(f) > maxExactInt {
			return nil
		}
		out[i] = int(f)
	}
	return &out
}

// actor reads act: an object, else absent.
func actor(raw string) map[string]any {
	if !isObject(raw) {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil
	}
	return m
}
