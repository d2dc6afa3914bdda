package revocation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/revocation"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestCovers(t *testing.T) {
	t.Parallel()
	s := revocation.NewSet(0)
	hour := t0.Add(time.Hour)
	for _, r := range []revocation.Revocation{
		{Kind: revocation.Session, Key: "sess_revoked", At: t0, Until: hour},
		{Kind: revocation.User, Key: "user_deleted", At: t0, Until: hour},
		{Kind: revocation.Organization, Key: "org_deleted", At: t0, Until: hour},
		{Kind: revocation.Membership, Key: revocation.MembershipKey("org_a", "user_removed"), At: t0, Until: hour},
	} {
		s.Add(r, t0)
	}
	for _, c := range []struct {
		name string
		tok  revocation.Token
		at   time.Time
		want bool
	}{
		{"the revoked session", revocation.Token{SessionID: "sess_revoked", UserID: "user_1"}, t0, true},
		{"another session of the user", revocation.Token{SessionID: "sess_2", UserID: "user_1"}, t0, false},
		{"any token of a deleted user", revocation.Token{SessionID: "sess_3", UserID: "user_deleted"}, t0, true},
		{"a token active in a deleted organization", revocation.Token{UserID: "user_1", OrgID: "org_deleted"}, t0, true},
		{"a removed member's older token for that organization", revocation.Token{UserID: "user_removed", OrgID: "org_a", IssuedAt: t0.Add(-time.Second)}, t0, true},
		{"the removed member's token for another organization", revocation.Token{UserID: "user_removed", OrgID: "org_b", IssuedAt: t0.Add(-time.Second)}, t0, false},
		{"the removed member's token with no active organization", revocation.Token{UserID: "user_removed", IssuedAt: t0.Add(-time.Second)}, t0, false},
		{"a token issued after the membership event", revocation.Token{UserID: "user_removed", OrgID: "org_a", IssuedAt: t0.Add(time.Second)}, t0, false},
		{"a token issued at the event's very instant", revocation.Token{UserID: "user_removed", OrgID: "org_a", IssuedAt: t0}, t0, false},
		{"the revoked session once the revocation expired", revocation.Token{SessionID: "sess_revoked"}, hour, false},
		{"an empty token", revocation.Token{}, t0, false},
	} {
		if got := s.Covers(c.tok, c.at); got != c.want {
			t.Errorf("%s: Covers = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAddKeepsTheWidest: of two revocations of one key, the later event
// (covering more tokens) and the later expiry stay in force.
func TestAddKeepsTheWidest(t *testing.T) {
	t.Parallel()
	s := revocation.NewSet(0)
	key := revocation.MembershipKey("org_a", "user_1")
	s.Add(revocation.Revocation{Kind: revocation.Membership, Key: key, At: t0.Add(time.Minute), Until: t0.Add(2 * time.Hour)}, t0)
	s.Add(revocation.Revocation{Kind: revocation.Membership, Key: key, At: t0, Until: t0.Add(time.Hour)}, t0)
	tok := revocation.Token{UserID: "user_1", OrgID: "org_a", IssuedAt: t0.Add(30 * time.Second)}
	if !s.Covers(tok, t0.Add(90*time.Minute)) {
		t.Error("an older, shorter revocation of the same key narrowed the one in force")
	}
}

// TestSetIsBounded: a full Set takes no new key (a revocation in force is
// never dropped for another) until a sweep frees room, and says so.
func TestSetIsBounded(t *testing.T) {
	t.Parallel()
	s := revocation.NewSet(3)
	add := func(sid string, until time.Duration, at time.Time) bool {
		return s.Add(revocation.Revocation{Kind: revocation.Session, Key: sid, At: t0, Until: t0.Add(until)}, at)
	}
	for sid, until := range map[string]time.Duration{"a": time.Hour, "b": time.Minute, "c": 2 * time.Hour} {
		if !add(sid, until, t0) {
			t.Fatalf("%s refused with room to spare", sid)
		}
	}
	if add("d", 3*time.Hour, t0) || add("sooner", 30*time.Second, t0) {
		t.Error("a full Set took a new key")
	}
	if !add("a", 90*time.Minute, t0) {
		t.Error("a full Set refused to widen a key it holds")
	}
	for sid, want := range map[string]bool{"a": true, "b": true, "c": true, "d": false, "sooner": false} {
		if got := s.Covers(revocation.Token{SessionID: sid}, t0); got != want {
			t.Errorf("session %s covered %v, want %v", sid, got, want)
		}
	}
	if add("expired", 0, t0) || s.Len() != 3 {
		t.Error("an already expired revocation was added")
	}
	// Two minutes on, b has expired: the next addition sweeps and fits.
	if !add("d", 3*time.Hour, t0.Add(2*time.Minute)) || s.Covers(revocation.Token{SessionID: "b"}, t0.Add(2*time.Minute)) {
		t.Error("a full Set with an expired revocation did not make room")
	}
	s.Sweep(t0.Add(150 * time.Minute))
	if s.Len() != 1 {
		t.Errorf("after sweeping, Len = %d, want 1", s.Len())
	}
}

// TestLocalRefusesWhenFull: a Local store that cannot put a revocation in
// force says so (the webhook is then asked again).
func TestLocalRefusesWhenFull(t *testing.T) {
	t.Parallel()
	l := revocation.NewLocal(1)
	now := time.Now()
	rev := func(sid string) revocation.Revocation {
		return revocation.Revocation{Kind: revocation.Session, Key: sid, At: now, Until: now.Add(time.Hour)}
	}
	if err := l.Revoke(context.Background(), rev("a")); err != nil {
		t.Fatal(err)
	}
	if err := l.Revoke(context.Background(), rev("b")); !errors.Is(err, revocation.ErrFull) {
		t.Errorf("Revoke on a full store = %v, want ErrFull", err)
	}
}

func TestLocal(t *testing.T) {
	t.Parallel()
	l := revocation.NewLocal(0)
	now := time.Now()
	if err := l.Revoke(context.Background(), revocation.Revocation{Kind: revocation.User, Key: "user_1", At: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if !l.Covers(revocation.Token{UserID: "user_1"}, now) || l.Covers(revocation.Token{UserID: "user_2"}, now) {
		t.Error("Local does not cover exactly what it revoked")
	}
}
