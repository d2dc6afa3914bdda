package authn

import (
	"fmt"
	"math"
	"strings"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// claimSet holds the raw JSON of every claim Verdict reads; "" means
// absent (no JSON value is empty). Types vary in the wild, so each claim is
// typed where it is used.
type claimSet struct {
	sub, sid, iss, azp, exp, nbf, iat string
	v, fea, pla, fva, sts, act, o     string
	orgID, orgRole, orgSlug, orgPerms string
}

// parseClaims reads a token payload, which must be a JSON object.
func parseClaims(payload []byte) (claimSet, error) {
	var c claimSet
	err := eachMember(payload, func(key, value string) {
		if dst := c.field(key); dst != nil {
			*dst = value
		}
	})
	return c, err
}

func (c *claimSet) field(key string) *string {
	switch key {
	case "sub":
		return &c.sub
	case "sid":
		return &c.sid
	case "iss":
		return &c.iss
	case "azp":
		return &c.azp
	case "exp":
		return &c.exp
	case "nbf":
		return &c.nbf
	case "iat":
		return &c.iat
	case "v":
		return &c.v
	case "fea":
		return &c.fea
	case "pla":
		return &c.pla
	case "fva":
		return &c.fva
	case "sts":
		return &c.sts
	case "act":
		return &c.act
	case "o":
		return &c.o
	case "org_id":
		return &c.orgID
	case "org_role":
		return &c.orgRole
	case "org_slug":
		return &c.orgSlug
	case "org_permissions":
		return &c.orgPerms
	}
	return nil
}

// checkClaims applies the session-token claim rules after the signature has
// been verified, in Clerk's order (sub, then azp, exp, nbf, iat) with the
// optional iss pin before azp.
func (v *Verifier) checkClaims(c *claimSet) error {
	sub, ok := rawString(c.sub)
	if !ok {
		return authz.InvalidToken("sub claim is missing or not a string", nil)
	}
	if sub == "" {
		// Clerk's verifier lets "" through, but its has() then answers
		// false to everything; a principal without a user is never useful.
		return authz.InvalidToken("sub claim is empty", nil)
	}
	if strings.HasPrefix(sub, "mch_") {
		return authz.InvalidToken("sub is a machine identity (mch_...); only user session tokens are accepted", nil)
	}
	if err := v.checkIssuer(c.iss); err != nil {
		return err
	}
	if err := v.checkAuthorizedParty(c.azp); err != nil {
		return err
	}
	return v.checkTimes(c)
}

func (v *Verifier) checkIssuer(raw string) error {
	if v.issuer == "" {
		return nil
	}
	iss, ok := rawString(raw)
	if !ok {
		return authz.InvalidToken("iss claim is missing or not a string; an issuer is configured", nil)
	}
	if iss != v.issuer {
		return authz.InvalidToken(fmt.Sprintf("iss %s is not the configured issuer", clip(iss)), nil)
	}
	return nil
}

func (v *Verifier) checkAuthorizedParty(raw string) error {
	if len(v.parties) == 0 {
		return nil
	}
	azp, ok := rawString(raw)
	if !ok || azp == "" {
		return authz.InvalidToken("azp claim is missing; authorized parties are configured", nil)
	}
	if _, listed := v.parties[azp]; !listed {
		return authz.InvalidToken(fmt.Sprintf("azp %s is not an authorized party", clip(azp)), nil)
	}
	return nil
}

// checkTimes compares in whole milliseconds, as Clerk does: a timestamp's
// fraction of a second is dropped (JavaScript's Date.setUTCSeconds), and an
// exp exactly at now minus the skew is already expired.
func (v *Verifier) checkTimes(c *claimSet) error {
	now := v.now().UnixMilli()
	skew := v.skew.Milliseconds()
	exp, ok := epochMillis(c.exp)
	if !ok {
		return authz.InvalidToken("exp claim is missing or not a number", nil)
	}
	if exp <= now-skew {
		return errExpired
	}
	if c.nbf != "" {
		nbf, ok := epochMillis(c.nbf)
		if !ok {
			return authz.InvalidToken("nbf claim is not a number", nil)
		}
		if nbf > now+skew {
			return authz.InvalidToken("token is not valid yet (nbf is in the future)", nil)
		}
	}
	if c.iat != "" {
		iat, ok := epochMillis(c.iat)
		if !ok {
			return authz.InvalidToken("iat claim is not a number", nil)
		}
		if iat > now+skew {
			return authz.InvalidToken("token was issued in the future (iat)", nil)
		}
	}
	return nil
}

// errExpired is the rejection of a token past its exp. It holds no detail
// of the token, so one value serves every request.
var errExpired = authz.TokenExpired()

// maxEpochSeconds clamps absurd timestamps (about 3 million years) so that
// converting them to milliseconds cannot overflow.
const maxEpochSeconds = 1e14

// epochMillis reads a NumericDate claim as milliseconds since the epoch.
func epochMillis(raw string) (int64, bool) {
	f, ok := rawNumber(raw)
	if !ok {
		return 0, false
	}
	f = math.Max(-maxEpochSeconds, math.Min(maxEpochSeconds, math.Trunc(f)))
	return int64(f) * 1000, true
}

// maxShown bounds how much of a token-supplied value a message repeats.
const maxShown = 64

// clip makes a token-supplied value safe to repeat in a message: short, and
// quoted when it holds anything but printable non-space characters.
func clip(s string) string {
	if len(s) > maxShown {
		cut := maxShown
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == 0x7f || r > 0x7e {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
