package authn_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
)

// principal is an authenticated principal for user_1 with the given
// version, the way Normalize builds it before any organization claim.
func principal(version int, mod func(*authz.Principal)) authz.Principal {
	p := authz.Principal{Authenticated: true, UserID: "user_1", OrgPermissions: []string{}, TokenVersion: version}
	if mod != nil {
		mod(&p)
	}
	return p
}

// v2org is a v2 payload for user_1 with an active organization.
func v2org(fea, o string) string {
	return fmt.Sprintf(`{"sub":"user_1","v":2,"fea":%q,"o":%s}`, fea, o)
}

// permissionNames returns "permission_0,...,permission_<n-1>".
func permissionNames(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("permission_%d", i)
	}
	return strings.Join(names, ",")
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	withOrg := func(perms ...string) func(*authz.Principal) {
		return func(p *authz.Principal) {
			p.OrgID = "org_1"
			p.OrgPermissions = append([]string{}, perms...)
		}
	}
	tests := []struct {
		name   string
		claims string
		want   authz.Principal
	}{
		{
			name: "v1 full",
			claims: `{"sub":"user_1","sid":"sess_1","exp":1800000060,"org_id":"org_1","org_role":"admin","org_slug":"acme",
				"org_permissions":["org:reports:export","org:sys_memberships:read"],"fea":"u:beta","fva":[3,-1],"sts":"active",
				"act":{"sub":"user_admin","iss":"https://dashboard.clerk.com"}}`,
			want: authz.Principal{
				Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_1", OrgRole: "org:admin", OrgSlug: "acme",
				OrgPermissions: []string{"org:reports:export", "org:sys_memberships:read"}, Features: []string{"u:beta"},
				FactorVerificationAge: &[2]int{3, -1}, SessionStatus: "active",
				Actor:        map[string]any{"sub": "user_admin", "iss": "https://dashboard.clerk.com"},
				TokenVersion: 1, ExpiresAt: time.Date(2027, 1, 15, 8, 1, 0, 0, time.UTC),
			},
		},
		{"v1 permissions with a non-string entry are absent", `{"sub":"user_1","org_id":"org_1","org_permissions":["org:a:b",7]}`, principal(1, withOrg())},
		{"v1 permission entries kept verbatim", `{"sub":"user_1","org_id":"org_1","org_permissions":["reports:export","org:teams","org:a:b:c","org:a:b",""]}`, principal(1, withOrg("reports:export", "org:teams", "org:a:b:c", "org:a:b", ""))},
		{"v1 permissions not an array", `{"sub":"user_1","org_id":"org_1","org_permissions":"org:a:b"}`, principal(1, withOrg())},
		{
			name:   "v2 docs example dashboard and teams",
			claims: `{"sub":"user_1","v":2,"fea":"o:dashboard,o:teams","pla":"o:pro","o":{"id":"org_2abc","slg":"acme","rol":"admin","per":"manage,read","fpm":"3,2"}}`,
			want: principal(2, func(p *authz.Principal) {
				p.OrgID, p.OrgSlug, p.OrgRole = "org_2abc", "acme", "org:admin"
				p.OrgPermissions = []string{"org:dashboard:manage", "org:dashboard:read", "org:teams:read"}
				p.Features, p.Plans = []string{"o:dashboard", "o:teams"}, []string{"o:pro"}
			}),
		},
		{
			name:   "v2 mixed scopes reservations support-chat impersonation",
			claims: v2org("o:reservations,u:dashboard,uo:support-chat,o:impersonation", `{"id":"org_1","per":"read,manage","fpm":"2,3"}`),
			want: principal(2, func(p *authz.Principal) {
				withOrg("org:reservations:manage", "org:support-chat:read", "org:support-chat:manage")(p)
				p.Features = []string{"o:reservations", "u:dashboard", "uo:support-chat", "o:impersonation"}
			}),
		},
		{
			name:   "v2 user feature before org feature (JS alignment)",
			claims: v2org("u:dashboard,o:teams", `{"id":"org_1","per":"read,manage","fpm":"0,3"}`),
			want:   principal(2, func(p *authz.Principal) { withOrg()(p); p.Features = []string{"u:dashboard", "o:teams"} }),
		},
		{
			name:   "v2 mask 2^53+1 over 54 permissions",
			claims: v2org("o:big", fmt.Sprintf(`{"id":"org_1","per":%q,"fpm":"9007199254740993"}`, permissionNames(54))),
			want: principal(2, func(p *authz.Principal) {
				withOrg("org:big:permission_0", "org:big:permission_53")(p)
				p.Features = []string{"o:big"}
			}),
		},
		{
			name:   "v2 masks are trimmed",
			claims: v2org("o:a,o:b", `{"id":"org_1","per":" read , write ","fpm":" 1 ,\t2"}`),
			want:   principal(2, func(p *authz.Principal) { withOrg("org:a:read", "org:b:write")(p); p.Features = []string{"o:a", "o:b"} }),
		},
		{
			name:   "v2 bits past the permission list are dropped",
			claims: v2org("o:a", `{"id":"org_1","per":"read","fpm":"7"}`),
			want:   principal(2, func(p *authz.Principal) { withOrg("org:a:read")(p); p.Features = []string{"o:a"} }),
		},
		{
			name:   "v2 feature without a mask grants nothing",
			claims: v2org("o:a,o:b", `{"id":"org_1","per":"read","fpm":"1"}`),
			want:   principal(2, func(p *authz.Principal) { withOrg("org:a:read")(p); p.Features = []string{"o:a", "o:b"} }),
		},
		{
			name:   "v2 unknown scope skipped, name after first colon",
			claims: v2org("x:a,o:b:c,o:d", `{"id":"org_1","per":"read","fpm":"1,1,1"}`),
			want: principal(2, func(p *authz.Principal) {
				withOrg("org:b:c:read", "org:d:read")(p)
				p.Features = []string{"x:a", "o:b:c", "o:d"}
			}),
		},
		{"v2 missing per", v2org("o:a", `{"id":"org_1","fpm":"1"}`), principal(2, func(p *authz.Principal) { withOrg()(p); p.Features = []string{"o:a"} })},
		{"v2 missing fpm", v2org("o:a", `{"id":"org_1","per":"read"}`), principal(2, func(p *authz.Principal) { withOrg()(p); p.Features = []string{"o:a"} })},
		{"v2 per not a string", v2org("o:a", `{"id":"org_1","per":7,"fpm":"1"}`), principal(2, func(p *authz.Principal) { withOrg()(p); p.Features = []string{"o:a"} })},
		{"v2 empty fea with org", `{"sub":"user_1","v":2,"fea":"","o":{"id":"org_1","per":"read","fpm":"1"}}`, principal(2, withOrg())},
		{"v2 fea of wrong type with org", `{"sub":"user_1","v":2,"fea":{},"o":{"id":"org_1","per":"read","fpm":"1"}}`, principal(2, withOrg())},
		{"v2 legacy org claims ignored", `{"sub":"user_1","v":2,"org_id":"org_1","org_role":"org:admin","org_permissions":["org:a:b"]}`, principal(2, nil)},
		{"v2 o not an object", `{"sub":"user_1","v":2,"o":"org_1"}`, principal(2, nil)},
		{"v2 fea entry without scope and no org", `{"sub":"user_1","v":2,"fea":"beta"}`, principal(2, func(p *authz.Principal) { p.Features = []string{"beta"} })},
		{"v absent selects v1", `{"sub":"user_1","org_id":"org_1","o":{"id":"org_2"}}`, principal(1, withOrg())},
		{"v string 2 selects v1", `{"sub":"user_1","v":"2","org_id":"org_1","o":{"id":"org_2"}}`, principal(1, withOrg())},
		{"v 3 selects v1", `{"sub":"user_1","v":3,"org_id":"org_1","o":{"id":"org_2"}}`, principal(1, withOrg())},
		{"v 2.0 selects v2", `{"sub":"user_1","v":2.0,"org_id":"org_2","o":{"id":"org_1"}}`, principal(2, withOrg())},
		{"v1 role already prefixed", `{"sub":"user_1","org_role":"org:admin"}`, principal(1, func(p *authz.Principal) { p.OrgRole = "org:admin" })},
		{"v1 role doubly prefixed", `{"sub":"user_1","org_role":"org:org:admin"}`, principal(1, func(p *authz.Principal) { p.OrgRole = "org:admin" })},
		{"v1 role only a prefix", `{"sub":"user_1","org_role":"org:"}`, principal(1, nil)},
		{"v1 role empty", `{"sub":"user_1","org_role":""}`, principal(1, nil)},
		{"v2 role with prefix", `{"sub":"user_1","v":2,"o":{"id":"org_1","rol":"org:admin"}}`, principal(2, func(p *authz.Principal) { withOrg()(p); p.OrgRole = "org:admin" })},
		{"v2 role empty", `{"sub":"user_1","v":2,"o":{"id":"org_1","rol":""}}`, principal(2, withOrg())},
		{
			name: "wrong-typed claims are absent",
			claims: `{"sub":"user_1","sid":5,"exp":"soon","org_id":["org_1"],"org_role":123,"org_slug":{},"fea":{},"pla":[],
				"fva":["0","0"],"sts":true,"act":"user_2"}`,
			want: principal(1, nil),
		},
		{"fva of one number", `{"sub":"user_1","fva":[1]}`, principal(1, nil)},
		{"fva of three numbers", `{"sub":"user_1","fva":[1,2,3]}`, principal(1, nil)},
		{"fva with a fraction", `{"sub":"user_1","fva":[1.5,0]}`, principal(1, nil)},
		{"fva of integral floats", `{"sub":"user_1","fva":[10.0,-1]}`, principal(1, func(p *authz.Principal) { p.FactorVerificationAge = &[2]int{10, -1} })},
		{"pending session", `{"sub":"user_1","sts":"pending"}`, principal(1, func(p *authz.Principal) { p.SessionStatus = "pending" })},
		{"fea and pla trimmed, empties dropped", `{"sub":"user_1","fea":" o:a , ,u:b,","pla":"u:free"}`, principal(1, func(p *authz.Principal) {
			p.Features, p.Plans = []string{"o:a", "u:b"}, []string{"u:free"}
		})},
		{"keys are case-sensitive", `{"SUB":"user_evil","sub":"user_1","ORG_ID":"org_evil","Org_Role":"org:admin"}`, principal(1, nil)},
		{"last duplicate key wins", `{"sub":"user_0","sub":"user_1"}`, principal(1, nil)},
		{"escaped key", `{"s\u0075b":"user_1"}`, principal(1, nil)},
		{"escaped value", `{"sub":"user_\u0031"}`, principal(1, nil)},
		{"exp fraction is truncated", `{"sub":"user_1","exp":1800000000.9}`, principal(1, func(p *authz.Principal) { p.ExpiresAt = testNow().UTC() })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := authn.Normalize([]byte(tt.claims))
			if err != nil {
				t.Fatalf("Normalize() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Normalize(%s) mismatch (-want +got):\n%s", tt.claims, diff)
			}
		})
	}
}

func TestNormalizeMalformedMasks(t *testing.T) {
	t.Parallel()
	for _, mask := range []string{"-1", "1.5", "1invalid", "", "+1", "0x1", "1e0", "١", " "} {
		t.Run(fmt.Sprintf("%q", mask), func(t *testing.T) {
			t.Parallel()
			got, err := authn.Normalize([]byte(v2org("o:a", fmt.Sprintf(`{"id":"org_1","per":"read,write","fpm":%q}`, mask+",3"))))
			if err != nil {
				t.Fatalf("Normalize() error = %v", err)
			}
			if len(got.OrgPermissions) != 0 {
				t.Errorf("mask %q granted %v, want nothing", mask, got.OrgPermissions)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, claims string
	}{
		{"fea entry without scope with org active", v2org("o:a,beta", `{"id":"org_1"}`)},
		{"fea trailing comma with org active", v2org("o:a,", `{"id":"org_1","per":"read","fpm":"1"}`)},
		{"fea entry without scope without per or fpm", v2org("beta", `{}`)},
		{"array", `[]`},
		{"null", `null`},
		{"not JSON", `{"sub":`},
		{"string", `"sub"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := authn.Normalize([]byte(tt.claims))
			te, ok := authz.AsTokenError(err)
			if !ok || te.Reason != authz.ReasonTokenInvalid || te.Message == "" {
				t.Errorf("Normalize(%s) = %+v, %v; want a token_invalid TokenError", tt.claims, got, err)
			}
		})
	}
}
