package authn_test

import (
	"context"
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

// FuzzVerify feeds arbitrary strings to a verifier whose key never signed
// any of them: it must never panic and never authenticate, and every
// rejection must be a TokenError that does not repeat the token.
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
	pem, err := authn.ParsePEM(fx.iss.PublicKeyPEM())
	if err != nil {
		f.Fatal(err)
	}
	verifiers := []*authn.Verifier{verifier(fx.jwks, nil), verifier(pem, nil)}
	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range verifiers {
			p, err := v.Authenticate(context.Background(), token)
			if err == nil || p.Authenticated {
				t.Fatalf("Authenticate(%q) = %+v, %v; want a rejection", token, p, err)
			}
			te, ok := authz.AsTokenError(err)
			if !ok || te.Message == "" {
				t.Fatalf("Authenticate(%q) error = %v, want a TokenError with a message", token, err)
			}
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatalf("Authenticate(%q) error %q repeats the token", token, err)
			}
		}
	})
}
