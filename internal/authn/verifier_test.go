package authn_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
)

func TestAuthenticateAttacks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pem, err := authn.ParsePEM(f.iss.PublicKeyPEM())
	if err != nil {
		t.Fatalf("ParsePEM() error = %v", err)
	}
	now := testNow().Unix()
	skew := int64(testSkew / time.Second)
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	withIssuer := func(c *authn.Config) { c.Issuer = testIssuer }
	withParties := func(c *authn.Config) { c.AuthorizedParties = []string{"https://other.test", testAZP} }
	withPEM := func(c *authn.Config) { c.Keys = pem }

	tests := []struct {
		name  string
		token func(t *testing.T) string
		cfg   func(*authn.Config)
		want  authz.Reason // empty: accepted
	}{
		{name: "valid", token: func(t *testing.T) string { return f.sign(t, nil, nil) }},
		{name: "alg none without signature", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			return segment(t, f.header(set("alg", "none"))) + "." + segment(t, claims(nil)) + "."
		}},
		{name: "HS256 keyed with the public key", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			input := segment(t, f.header(set("alg", "HS256"))) + "." + segment(t, claims(nil))
			mac := hmac.New(sha256.New, f.iss.PublicKeyPEM())
			mac.Write([]byte(input))
			return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		}},
		{name: "ES256 header", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("alg", "ES256"), nil) }},
		{name: "PS256 header", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("alg", "PS256"), nil) }},
		{name: "RS512 header over an RS256 signature", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("alg", "RS512"), nil) }},
		{name: "wrong key with the right kid", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			token, err := f.other.SignWithHeader(f.header(nil), claims(nil))
			if err != nil {
				t.Fatal(err)
			}
			return token
		}},
		{name: "unknown kid", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("kid", "ins_unknown"), nil) }},
		{name: "missing kid with a JWKS", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, del("kid"), nil) }},
		{name: "kid not a string", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("kid", 7), nil) }},
		{name: "tampered payload", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			parts := strings.Split(f.sign(t, nil, nil), ".")
			return parts[0] + "." + segment(t, claims(set("sub", "user_admin"))) + "." + parts[2]
		}},
		{name: "stripped signature", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			token := f.sign(t, nil, nil)
			return token[:strings.LastIndexByte(token, '.')+1]
		}},
		{name: "typ at+jwt", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("typ", "at+jwt"), nil) }},
		{name: "typ application/at+jwt", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("typ", "application/at+jwt"), nil) }},
		{name: "typ lower-case jwt", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("typ", "jwt"), nil) }},
		{name: "typ null", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("typ", nil), nil) }},
		{name: "typ absent", token: func(t *testing.T) string { return f.sign(t, del("typ"), nil) }},
		{name: "cat session", token: func(t *testing.T) string { return f.sign(t, set("cat", "cl_B7d4PD111AAA"), nil) }},
		{name: "cat ignore tag", token: func(t *testing.T) string { return f.sign(t, set("cat", "cl_I7d4PD111III"), nil) }},
		{name: "cat JWT template", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("cat", "cl_B7d4PD222AAA"), nil) }},
		{name: "cat M2M", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, set("cat", "cl_B7d4PD333AAA"), nil) }},
		{name: "machine subject", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("sub", "mch_2abc")) }},
		{name: "sub not a string", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("sub", 42)) }},
		{name: "sub empty", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("sub", "")) }},
		{name: "sub missing", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, del("sub")) }},
		{name: "exp missing", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, del("exp")) }},
		{name: "exp a string", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("exp", "2099")) }},
		{name: "expired", want: authz.ReasonTokenExpired, token: func(t *testing.T) string { return f.sign(t, nil, set("exp", now-60)) }},
		{name: "exp exactly at now minus skew", want: authz.ReasonTokenExpired, token: func(t *testing.T) string { return f.sign(t, nil, set("exp", now-skew)) }},
		{name: "exp at now minus skew plus 1s", token: func(t *testing.T) string { return f.sign(t, nil, set("exp", now-skew+1)) }},
		{name: "exp fraction below the boundary", want: authz.ReasonTokenExpired, token: func(t *testing.T) string { return f.sign(t, nil, set("exp", float64(now-skew)+0.9)) }},
		{name: "nbf beyond skew", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("nbf", now+skew+1)) }},
		{name: "nbf within skew", token: func(t *testing.T) string { return f.sign(t, nil, set("nbf", now+skew)) }},
		{name: "nbf not a number", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("nbf", "soon")) }},
		{name: "iat beyond skew", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("iat", now+skew+1)) }},
		{name: "iat within skew", token: func(t *testing.T) string { return f.sign(t, nil, set("iat", now+skew)) }},
		{name: "iat null", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("iat", nil)) }},
		{name: "wrong issuer", cfg: withIssuer, want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("iss", "https://evil.test")) }},
		{name: "missing issuer", cfg: withIssuer, want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, del("iss")) }},
		{name: "right issuer", cfg: withIssuer, token: func(t *testing.T) string { return f.sign(t, nil, nil) }},
		{name: "issuer not checked when unset", token: func(t *testing.T) string { return f.sign(t, nil, set("iss", "https://evil.test")) }},
		{name: "missing azp with parties", cfg: withParties, want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, del("azp")) }},
		{name: "empty azp with parties", cfg: withParties, want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("azp", "")) }},
		{name: "unlisted azp", cfg: withParties, want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, set("azp", "https://evil.example")) }},
		{name: "listed azp", cfg: withParties, token: func(t *testing.T) string { return f.sign(t, nil, nil) }},
		{name: "azp ignored when unset", token: func(t *testing.T) string { return f.sign(t, nil, set("azp", "https://evil.example")) }},
		{name: "200 KB garbage", want: authz.ReasonTokenInvalid, token: func(*testing.T) string { return strings.Repeat("A.", 100_000) }},
		{name: "two parts", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			token := f.sign(t, nil, nil)
			return token[:strings.LastIndexByte(token, '.')]
		}},
		{name: "four parts", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string { return f.sign(t, nil, nil) + ".x" }},
		{name: "empty", want: authz.ReasonTokenInvalid, token: func(*testing.T) string { return "" }},
		{name: "non-JSON header", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			parts := strings.Split(f.sign(t, nil, nil), ".")
			return base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[1] + "." + parts[2]
		}},
		{name: "header is an array", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			parts := strings.Split(f.sign(t, nil, nil), ".")
			return segment(t, []string{"RS256"}) + "." + parts[1] + "." + parts[2]
		}},
		{name: "standard base64 alphabet", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			parts := strings.Split(f.sign(t, nil, nil), ".")
			return parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+/"
		}},
		{name: "line break inside a part", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			token := f.sign(t, nil, nil)
			return token[:20] + "\n" + token[20:]
		}},
		{name: "PEM source ignores the kid", cfg: withPEM, token: func(t *testing.T) string { return f.sign(t, set("kid", "ins_whatever"), nil) }},
		{name: "PEM source without kid", cfg: withPEM, token: func(t *testing.T) string { return f.sign(t, del("kid"), nil) }},
		{name: "PEM source still checks the signature", cfg: withPEM, want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			token, err := f.other.Sign(claims(nil))
			if err != nil {
				t.Fatal(err)
			}
			return token
		}},
		{name: "v2 fea entry without scope", want: authz.ReasonTokenInvalid, token: func(t *testing.T) string {
			return f.sign(t, nil, func(m map[string]any) { m["v"] = 2; m["fea"] = "o:a,beta"; m["o"] = map[string]any{"id": "org_1"} })
		}},
		{name: "pending session is accepted for the decider", token: func(t *testing.T) string { return f.sign(t, nil, set("sts", "pending")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			token := tt.token(t)
			p, err := principalOf(verifier(f.jwks, tt.cfg).Authenticate(context.Background(), token))
			if tt.want == "" {
				if err != nil || !p.Authenticated || p.UserID != "user_1" {
					t.Fatalf("Authenticate() = %+v, %v; want user_1 accepted", p, err)
				}
				return
			}
			checkRejection(t, err, tt.want, token)
			if p.Authenticated {
				t.Errorf("rejected token gave an authenticated principal %+v", p)
			}
		})
	}
}

func TestAuthenticateOtherRSAAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "RS384", "RS512"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			key, keys := newRSAKey(t)
			token := signRS(t, key, alg, map[string]any{"alg": alg, "typ": "JWT"}, claims(nil))
			if _, err := verifier(keys, nil).Authenticate(context.Background(), token); err != nil {
				t.Errorf("Authenticate(%s token) error = %v", alg, err)
			}
		})
	}
}

func TestAuthenticateKeySourceFailureIsInternal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.sign(t, nil, nil)
	for name, keys := range map[string]authn.KeySet{"nil key set": nil, "empty static set": &authn.StaticKeys{}} {
		v := verifier(keys, nil)
		_, err := v.Authenticate(context.Background(), token)
		if _, isToken := authz.AsTokenError(err); isToken || !errors.Is(err, authz.ErrNoKeys) {
			t.Errorf("%s: Authenticate() error = %v, want a plain error wrapping ErrNoKeys", name, err)
		}
		if keys != nil && keys.Ready() {
			t.Errorf("%s: Ready() = true, want false", name)
		}
	}
}

func TestAuthenticateReturnsNormalizedPrincipal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.sign(t, nil, func(m map[string]any) {
		m["v"] = 2
		m["fea"] = "o:dashboard,o:teams"
		m["o"] = map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}
	})
	p, err := principalOf(verifier(f.jwks, nil).Authenticate(context.Background(), token))
	if err != nil {
		t.Fatalf("Authenticate() error = %v", err)
	}
	want := []string{"org:dashboard:manage", "org:dashboard:read", "org:teams:read"}
	if p.OrgRole != "org:admin" || strings.Join(p.OrgPermissions, " ") != strings.Join(want, " ") ||
		!p.ExpiresAt.Equal(testNow().Add(time.Minute)) || p.ExpiresAt.Location() != time.UTC || p.TokenVersion != 2 {
		t.Errorf("Authenticate() = %+v, want org:admin with %v expiring at %v UTC", p, want, testNow().Add(time.Minute))
	}
}

func TestNewVerifierIgnoresEmptyAuthorizedParties(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.sign(t, nil, func(m map[string]any) { delete(m, "azp") })
	v := verifier(f.jwks, func(c *authn.Config) { c.AuthorizedParties = []string{"", " "} })
	if _, err := v.Authenticate(context.Background(), token); err != nil {
		t.Errorf("Authenticate() with only empty parties error = %v, want azp not checked", err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	f := newFixture(b)
	token := f.sign(b, nil, func(m map[string]any) {
		m["v"] = 2
		m["fea"] = "o:dashboard,o:teams"
		m["o"] = map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}
	})
	v := verifier(f.jwks, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateGarbage(b *testing.B) {
	v := verifier(&authn.StaticKeys{}, nil)
	token := strings.Repeat("A.", 100_000)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = v.Authenticate(context.Background(), token)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
