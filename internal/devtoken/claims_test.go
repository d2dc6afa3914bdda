package devtoken_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/devtoken"
)

// testNow is the fixed clock of these tests.
func testNow() time.Time { return time.Unix(1_800_000_000, 0) }

func TestClaims(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	const iat = int64(1_800_000_000)
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{
			"sub": "user_1", "sid": "sess_1", "iss": devtoken.IssuerURL,
			"iat": iat, "nbf": iat - 10, "exp": iat + 3600,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		req  devtoken.TokenRequest
		want map[string]any
	}{
		{
			name: "v2 without organization",
			req:  devtoken.TokenRequest{UserID: "user_1", SessionID: "sess_1", Plans: []string{"u:free"}},
			want: base(map[string]any{"v": 2, "pla": "u:free"}),
		},
		{
			name: "v2 docs example dashboard and teams",
			req: devtoken.TokenRequest{
				UserID: "user_1", SessionID: "sess_1", OrgID: "org_1", OrgSlug: "acme", OrgRole: "org:admin",
				Permissions: []string{"org:dashboard:manage", "org:dashboard:read", "org:teams:read"},
			},
			want: base(map[string]any{"v": 2, "fea": "o:dashboard,o:teams", "o": map[string]any{
				"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2",
			}}),
		},
		{
			name: "v2 extra features after permission features",
			req: devtoken.TokenRequest{
				UserID: "user_1", SessionID: "sess_1", OrgID: "org_1", OrgRole: "member",
				Permissions: []string{"org:teams:read"},
				Features:    []string{"u:beta", "o:teams", "ou:analytics"},
			},
			want: base(map[string]any{"v": 2, "fea": "o:teams,u:beta,ou:analytics", "o": map[string]any{
				"id": "org_1", "rol": "member", "per": "read", "fpm": "1,0",
			}}),
		},
		{
			name: "v1 with organization",
			req: devtoken.TokenRequest{
				UserID: "user_1", SessionID: "sess_1", OrgID: "org_1", OrgSlug: "acme", OrgRole: "admin",
				Permissions: []string{"org:reports:export", "org:reports:export"}, Format: "v1", TTLSeconds: 60,
			},
			want: map[string]any{
				"sub": "user_1", "sid": "sess_1", "iss": devtoken.IssuerURL, "iat": iat, "nbf": iat - 10, "exp": iat + 60,
				"org_id": "org_1", "org_slug": "acme", "org_role": "org:admin", "org_permissions": []string{"org:reports:export"},
			},
		},
		{
			name: "defaults",
			req:  devtoken.TokenRequest{},
			want: map[string]any{
				"sub": devtoken.DefaultUserID, "sid": devtoken.DefaultSessionID, "iss": devtoken.IssuerURL,
				"iat": iat, "nbf": iat - 10, "exp": iat + 3600, "v": 2,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := iss.Claims(tt.req, testNow())
			if err != nil {
				t.Fatalf("Claims() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Claims() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClaimsRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	tests := []struct {
		name string
		req  devtoken.TokenRequest
	}{
		{"permission without org prefix", devtoken.TokenRequest{OrgID: "org_1", Permissions: []string{"teams:read"}}},
		{"permission with two parts", devtoken.TokenRequest{OrgID: "org_1", Permissions: []string{"org:teams"}}},
		{"permission with four parts", devtoken.TokenRequest{OrgID: "org_1", Permissions: []string{"org:a:b:c"}}},
		{"permission with a comma", devtoken.TokenRequest{OrgID: "org_1", Permissions: []string{"org:a:b,c"}}},
		{"permission with an empty name", devtoken.TokenRequest{OrgID: "org_1", Permissions: []string{"org::read"}}},
		{"permission without organization", devtoken.TokenRequest{Permissions: []string{"org:a:b"}}},
		{"role without organization", devtoken.TokenRequest{OrgRole: "admin"}},
		{"unknown format", devtoken.TokenRequest{Format: "v3"}},
		{"negative ttl", devtoken.TokenRequest{TTLSeconds: -1}},
		{"feature without scope", devtoken.TokenRequest{Features: []string{"beta"}}},
		{"feature with unknown scope", devtoken.TokenRequest{Features: []string{"x:beta"}}},
		{"plan without scope", devtoken.TokenRequest{Plans: []string{"free"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := iss.Claims(tt.req, testNow()); err == nil {
				t.Errorf("Claims(%+v) = %v, nil; want an error", tt.req, got)
			}
			if _, err := iss.Mint(tt.req, testNow()); err == nil {
				t.Errorf("Mint(%+v) error = nil, want an error", tt.req)
			}
		})
	}
}

// manyPermissions returns n permissions of one feature, enough to need
// masks beyond 2^53 when n > 53.
func manyPermissions(feature string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("org:%s:permission_%d", feature, i)
	}
	return out
}

// TestMintRoundTripsThroughAuthn proves the v2 encoding is the inverse of
// authn's (Clerk's) decoding: what goes in as permissions comes back out.
func TestMintRoundTripsThroughAuthn(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	keys, err := authn.ParseJWKS(iss.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS() error = %v", err)
	}
	v := authn.NewVerifier(authn.Config{Keys: keys, Now: testNow})
	tests := []struct {
		name string
		req  devtoken.TokenRequest
	}{
		{"no organization", devtoken.TokenRequest{Features: []string{"u:beta"}, Plans: []string{"u:free"}}},
		{"organization without permissions", devtoken.TokenRequest{OrgID: "org_1", OrgRole: "member"}},
		{"interleaved features", devtoken.TokenRequest{OrgID: "org_1", OrgRole: "org:admin", OrgSlug: "acme",
			Permissions: []string{"org:a:read", "org:b:write", "org:a:write", "org:c:read", "org:b:admin"},
			Features:    []string{"u:beta", "o:d", "uo:e"}, Plans: []string{"o:pro"}}},
		{"54 permissions, mask beyond 2^53", devtoken.TokenRequest{OrgID: "org_1", OrgRole: "admin",
			Permissions: append(manyPermissions("big", 54), "org:small:permission_53")}},
		{"200 permissions over two features", devtoken.TokenRequest{OrgID: "org_1", OrgRole: "admin",
			Permissions: append(manyPermissions("x", 200), manyPermissions("y", 100)...)}},
	}
	for _, tt := range tests {
		for _, format := range []string{"v1", "v2"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				t.Parallel()
				req := tt.req
				req.Format = format
				token, err := iss.Mint(req, testNow())
				if err != nil {
					t.Fatalf("Mint() error = %v", err)
				}
				got, err := v.Authenticate(context.Background(), token)
				if err != nil {
					t.Fatalf("Authenticate() error = %v", err)
				}
				want := wantPrincipal(req, format)
				sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
				if diff := cmp.Diff(want, got.Principal, sorted, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("round trip mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func wantPrincipal(req devtoken.TokenRequest, format string) authz.Principal {
	p := authz.Principal{
		Authenticated: true, UserID: devtoken.DefaultUserID, SessionID: devtoken.DefaultSessionID,
		OrgID: req.OrgID, OrgSlug: req.OrgSlug, OrgPermissions: slices.Compact(slices.Sorted(slices.Values(req.Permissions))),
		Plans: req.Plans, TokenVersion: 1, ExpiresAt: testNow().Add(devtoken.DefaultTTL).UTC(), IssuedAt: testNow().UTC(),
	}
	if req.OrgRole != "" {
		p.OrgRole = "org:" + trimOrg(req.OrgRole)
	}
	if format == "v2" {
		p.TokenVersion = 2
		for _, perm := range req.Permissions {
			if f := "o:" + featureOf(perm); !slices.Contains(p.Features, f) {
				p.Features = append(p.Features, f)
			}
		}
	}
	for _, f := range req.Features {
		if !slices.Contains(p.Features, f) {
			p.Features = append(p.Features, f)
		}
	}
	return p
}

func trimOrg(role string) string {
	for strings.HasPrefix(role, "org:") {
		role = role[len("org:"):]
	}
	return role
}

func featureOf(perm string) string { return strings.Split(perm, ":")[1] }

func TestClaimsAreJSONEncodable(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	claims, err := iss.Claims(devtoken.TokenRequest{OrgID: "org_1", Permissions: []string{"org:a:b"}}, testNow())
	if err != nil {
		t.Fatalf("Claims() error = %v", err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("json.Marshal(claims) error = %v", err)
	}
	p, err := authn.Normalize(b)
	if err != nil || !slices.Equal(p.OrgPermissions, []string{"org:a:b"}) {
		t.Errorf("Normalize(claims) = %v, %v; want [org:a:b], nil", p.OrgPermissions, err)
	}
}
