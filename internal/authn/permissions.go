package authn

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
)

// errNoScope is Clerk's splitByScope failure: a fea element without ':'.
var errNoScope = errors.New("entry without scope")

// orgFeatures returns the organization-scoped feature names of a fea claim
// (scopes o, ou, uo), in claim order, as Clerk's splitByScope does: elements
// are trimmed, the name is everything after the first ':', other scopes are
// skipped, and an element without ':' (even an empty one) is an error.
func orgFeatures(fea string) ([]string, error) {
	if fea == "" {
		return nil, nil
	}
	var org []string
	for part := range strings.SplitSeq(fea, ",") {
		scope, name, ok := strings.Cut(jsTrim(part), ":")
		if !ok {
			return nil, errNoScope
		}
		if scope == "o" || scope == "ou" || scope == "uo" {
			org = append(org, name)
		}
	}
	return org, nil
}

// orgPermissions decodes v2 permissions: the i-th org feature is granted
// permission j of per when bit j of the i-th fpm mask is set. Features
// without a mask, malformed masks and bits past the permission list grant
// nothing. Names are used as Clerk uses them, so a feature "a:b" yields
// "org:a:b:<p>", exactly what Clerk's has() would look up.
func orgPermissions(features []string, per, fpm string) []string {
	out := []string{}
	if per == "" || fpm == "" {
		return out
	}
	perms := strings.Split(per, ",")
	for i, p := range perms {
		perms[i] = jsTrim(p)
	}
	i := 0
	var stack [2]uint64
	for mask := range strings.SplitSeq(fpm, ",") {
		if i >= len(features) {
			break
		}
		feature := features[i]
		i++
		words, ok := parseMask(jsTrim(mask), stack[:0])
		if !ok {
			continue
		}
		for j := range min(len(perms), 64*len(words)) {
			if words[j/64]>>(j%64)&1 == 1 {
				out = append(out, "org:"+feature+":"+perms[j])
			}
		}
	}
	return out
}

// maxMaskDigits is how many decimal digits fit one uint64 step of parseMask.
const maxMaskDigits = 19

// parseMask converts a decimal mask to little-endian 64-bit words, exactly
// at any size (Clerk's masks may exceed 2^53), appending them to buf. Only
// ^\d+$ is a mask: a sign, a fraction, trailing junk or an empty string is
// not.
func parseMask(s string, buf []uint64) ([]uint64, bool) {
	if s == "" {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, false
		}
	}
	words := append(buf[:0], 0)
	for len(s) > 0 {
		n := min(len(s), maxMaskDigits)
		chunk, _ := strconv.ParseUint(s[:n], 10, 64) // at most 19 digits: fits
		words = mulAdd(words, pow10(n), chunk)
		s = s[n:]
	}
	return words, true
}

// mulAdd returns words*m + a.
func mulAdd(words []uint64, m, a uint64) []uint64 {
	carry := a
	for i, w := range words {
		hi, lo := bits.Mul64(w, m)
		lo, c := bits.Add64(lo, carry, 0)
		words[i], carry = lo, hi+c
	}
	if carry != 0 {
		words = append(words, carry)
	}
	return words
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// splitList splits a fea or pla claim into its trimmed, non-empty entries.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = jsTrim(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// prefixRole gives a role exactly one "org:" prefix, as Clerk's has() does
// when comparing roles ("admin", "org:admin", "org:org:admin" all become
// "org:admin"). An empty role stays empty.
func prefixRole(role string) string {
	for strings.HasPrefix(role, "org:") {
		role = role[len("org:"):]
	}
	if role == "" {
		return ""
	}
	return "org:" + role
}
