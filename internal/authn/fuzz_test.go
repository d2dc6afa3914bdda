package authn_test

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
)

// FuzzNormalize feeds arbitrary claims to Normalize: it must never panic,
// fail only with a token_invalid TokenError, and keep the principal's
// invariants.
func FuzzNormalize(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"user_1","org_id":"org_1","org_role":"admin","org_permissions":["org:a:b","x",1]}`,
		`{"sub":"user_1","v":2,"fea":"o:dashboard,o:teams","o":{"id":"org_1","rol":"org:org:admin","per":"manage,read","fpm":"3,2"}}`,
		`{"sub":"user_1","v":2,"fea":"o:a:b,ou:c,uo:,x:d,u:e","o":{"id":"o","rol":"","per":",manage,,","fpm":"9007199254740993,-1,1.5,7"}}`,
		`{"sub":"user_1","v":2,"fea":"beta","o":{}}`,
		`{"v":"2","fva":[1,2],"act":{"sub":"x"},"sts":"pending","exp":1e308,"pla":" , u:free"}`,
		`{"org_role":"org:","o":[],"v":2.0,"exp":-1e308,"fva":[1e300,-1]}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, claims []byte) {
		p, err := authn.Normalize(claims)
		if err != nil {
			if te, ok := authz.AsTokenError(err); !ok || te.Reason != authz.ReasonTokenInvalid || te.Message == "" {
				t.Fatalf("Normalize(%q) error = %v, want a token_invalid TokenError", claims, err)
			}
			return
		}
		if !p.Authenticated || p.OrgPermissions == nil || (p.TokenVersion != 1 && p.TokenVersion != 2) {
			t.Fatalf("Normalize(%q) = %+v: want authenticated, permissions non-nil, version 1 or 2", claims, p)
		}
		if p.OrgRole != "" && (!strings.HasPrefix(p.OrgRole, "org:") || strings.HasPrefix(p.OrgRole, "org:org:") || p.OrgRole == "org:") {
			t.Fatalf("Normalize(%q) role %q, want empty or exactly one org: prefix", claims, p.OrgRole)
		}
		for _, perm := range p.OrgPermissions {
			if p.TokenVersion == 2 && !strings.HasPrefix(perm, "org:") {
				t.Fatalf("Normalize(%q) decoded permission %q lacks the org: prefix", claims, perm)
			}
		}
		for _, list := range [][]string{p.Features, p.Plans} {
			for _, e := range list {
				if e == "" || strings.Contains(e, ",") {
					t.Fatalf("Normalize(%q) list entry %q is empty or holds a comma", claims, e)
				}
			}
		}
	})
}

// FuzzVerify feeds arbitrary strings to verifiers. Two hold a key that
// never signed any seed: they must never authenticate. The third holds the
// key that signed the seeds, which respell valid tokens (padding, set
// trailing bits, crit headers): it may accept only a token in its one
// canonical spelling without crit. None may panic, and every rejection
// must be a TokenError that does not repeat the token.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	forged, err := fx.other.SignWithHeader(fx.header(nil), claims(nil)) // right kid, wrong key
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(forged, ".")
	for _, seed := range []string{
		forged,
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		segment(f, fx.header(func(h map[string]any) { h["alg"] = "none" })) + "." + parts[1] + ".",
		segment(f, fx.header(func(h map[string]any) { h["alg"] = "HS256" })) + "." + parts[1] + "." + parts[2],
		segment(f, fx.header(func(h map[string]any) { h["typ"] = "at+jwt" })) + "." + parts[1] + "." + parts[2],
		segment(f, map[string]any{"alg": "RS256"}) + "." + parts[1] + "." + parts[2],
		"e30.e30.", "..", ".", "", "a.b.c.d", "eyJ=.eyJ=.AA==", strings.Repeat("A", 17<<10),
	} {
		f.Add(seed)
	}
	key, signerKeys := newRSAKey(f)
	for _, seed := range respelledSeeds(f, key) {
		f.Add(seed)
	}
	pem, err := authn.ParsePEM(fx.iss.PublicKeyPEM())
	if err != nil {
		f.Fatal(err)
	}
	verifiers := []*authn.Verifier{verifier(fx.jwks, nil), verifier(pem, nil)}
	signer := verifier(signerKeys, nil)
	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range verifiers {
			p, err := principalOf(v.Authenticate(context.Background(), token))
			if err == nil || p.Authenticated {
				t.Fatalf("Authenticate(%q) = %+v, %v; want a rejection", token, p, err)
			}
			checkFuzzRejection(t, token, err)
		}
		if _, err := signer.Authenticate(context.Background(), token); err != nil {
			checkFuzzRejection(t, token, err)
		} else if !canonicalWithoutCrit(token) {
			t.Fatalf("Authenticate(%q) accepted a token that is not canonical base64url or has crit", token)
		}
	})
}

// checkFuzzRejection fails unless err is a TokenError with a message that
// does not repeat the token.
func checkFuzzRejection(t *testing.T, token string, err error) {
	t.Helper()
	te, ok := authz.AsTokenError(err)
	if !ok || te.Message == "" {
		t.Fatalf("Authenticate(%q) error = %v, want a TokenError with a message", token, err)
	}
	if len(token) >= 16 && strings.Contains(err.Error(), token) {
		t.Fatalf("Authenticate(%q) error %q repeats the token", token, err)
	}
}

// respelledSeeds are tokens signed by key over exactly what they hold: one
// canonical, the others respelled (respelledTokens) or with crit headers.
// Only the canonical one may verify.
func respelledSeeds(tb testing.TB, key *rsa.PrivateKey) []string {
	tb.Helper()
	canonical, variants := respelledTokens(tb, key)
	seeds := append([]string{canonical}, slices.Sorted(maps.Values(variants))...)
	payload := strings.Split(canonical, ".")[1]
	for _, header := range []map[string]any{
		{"alg": "RS256", "zzz": 1, "crit": []string{"zzz"}},
		{"alg": "RS256", "b64": false, "crit": []string{"b64"}},
		{"alg": "RS256", "crit": []string{}},
		{"alg": "RS256", "crit": nil},
		{"alg": "RS256", "crit": "b64"},
		{"alg": "RS256", "crit": []string{"alg"}},
	} {
		seeds = append(seeds, signInput(tb, key, "RS256", segment(tb, header)+"."+payload))
	}
	return seeds
}

// canonicalWithoutCrit reports whether token has three segments, each
// unpadded base64url that re-encodes to itself, and a header without crit.
func canonicalWithoutCrit(token string) bool {
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return false
	}
	var decoded [3][]byte
	for i, seg := range segs {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
			return false
		}
		decoded[i] = b
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(decoded[0], &header); err != nil {
		return false
	}
	_, crit := header["crit"]
	return !crit
}
