package authz_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// TestRevokedSessions: a revocation turns the tokens it covers into
// session_revoked, a session verified and cached before it included, and
// leaves every other token alone.
func TestRevokedSessions(t *testing.T) {
	t.Parallel()
	now := time.Now()
	issued := now.Add(-time.Minute)
	principals := map[string]authz.Principal{
		"tok-a":     {Authenticated: true, UserID: "user_1", SessionID: "sess_a", OrgID: "org_1", OrgRole: "org:member", IssuedAt: issued},
		"tok-b":     {Authenticated: true, UserID: "user_1", SessionID: "sess_b", OrgID: "org_2", OrgRole: "org:member", IssuedAt: issued},
		"tok-fresh": {Authenticated: true, UserID: "user_1", SessionID: "sess_c", OrgID: "org_1", OrgRole: "org:member", IssuedAt: now.Add(time.Minute)},
	}
	authn := fakeAuthn(func(token string) (authz.Principal, error) { return principals[token], nil })
	store := revocation.NewLocal(0)
	rec := &recorded{}
	d := authz.NewDecider(authn, fakePolicies(allowAll), rec, authz.Options{SessionCacheSize: 10, Revocations: store})
	ctx := context.Background()
	check := authz.Check{Action: "tasks:read", Resource: &authz.Resource{OrgID: "org_1"}}
	reason := func(token string) authz.Reason {
		t.Helper()
		dec, err := d.Check(ctx, token, check)
		if err != nil {
			t.Fatal(err)
		}
		return dec.Reason
	}

	if got := reason("tok-a"); got != "membership" { // verified, now cached
		t.Fatalf("before any revocation: %s", got)
	}
	revoke := func(r revocation.Revocation) {
		r.At, r.Until = now, now.Add(time.Hour)
		if err := store.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	revoke(revocation.Revocation{Kind: revocation.Membership, Key: revocation.MembershipKey("org_1", "user_1")})
	for token, want := range map[string]authz.Reason{
		"tok-a":     authz.ReasonSessionRevoked, // cached before the revocation
		"tok-b":     "membership",               // active in another organization
		"tok-fresh": "membership",               // issued after the removal
	} {
		if got := reason(token); got != want {
			t.Errorf("%s after the membership revocation: %s, want %s", token, got, want)
		}
	}
	revoke(revocation.Revocation{Kind: revocation.Session, Key: "sess_b"})
	if got := reason("tok-b"); got != authz.ReasonSessionRevoked {
		t.Errorf("tok-b after its session's revocation: %s", got)
	}
	s, err := d.Authenticate(ctx, "tok-b")
	if err != nil || s.Rejected == nil || s.Rejected.Reason != authz.ReasonSessionRevoked {
		t.Errorf("Authenticate(tok-b) = %+v, %v; want session_revoked", s, err)
	}
	if !slices.Contains(rec.verifications, authz.VerificationRevoked) {
		t.Errorf("verifications %v, want some revoked", rec.verifications)
	}
}
