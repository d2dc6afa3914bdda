// Package revocation remembers what Clerk's webhooks revoke before the
// tokens expire: a session ended, a user deleted, a member removed or
// demoted, an organization deleted. A token a revocation covers is
// answered session_revoked, on every replica, until it could no longer be
// valid anyway.
//
// Checking a token is a few map lookups in memory (Set); a Store records
// revocations and shares them between replicas (Local keeps them in the
// process; a shared store, such as Redis, tells every replica).
package revocation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Kind is what a revocation names.
type Kind string

// The kinds of revocation, by the token claim they match.
const (
	// Session: every token of the session (sid).
	Session Kind = "session"
	// User: every token of the user (sub).
	User Kind = "user"
	// Membership: the user's tokens whose active organization is the
	// organization, issued before the revocation (a demoted member's
	// new tokens carry the new role).
	Membership Kind = "membership"
	// Organization: every token whose active organization is it.
	Organization Kind = "organization"
)

// Revocation is one fact a webhook announced.
type Revocation struct {
	Kind Kind `json:"kind"`
	// Key is the sid, the sub, the organization id, or for a membership
	// MembershipKey(organization, user).
	Key string `json:"key"`
	// At is when Clerk says it happened: a membership revocation covers
	// the tokens issued before it.
	At time.Time `json:"at"`
	// Until is when no token it covers can still be valid: it is
	// forgotten then.
	Until time.Time `json:"until"`
}

// MembershipKey is the Key of a membership revocation.
func MembershipKey(organization, user string) string { return organization + "/" + user }

// Token is what a revocation is checked against: a verified token's
// claims.
type Token struct {
	SessionID, UserID, OrgID string
	IssuedAt                 time.Time
}

// Store records revocations and keeps them in force.
type Store interface {
	// Revoke puts r in force here at once. An error means it could not
	// be shared with the other replicas yet (it is in force here all the
	// same); a caller that can be asked again (a webhook delivery) should
	// say so.
	Revoke(ctx context.Context, r Revocation) error
	// Covers reports whether a revocation in force covers t: in memory,
	// no round trip.
	Covers(t Token, now time.Time) bool
}

// setKey identifies a revocation in a Set.
type setKey struct {
	kind Kind
	key  string
}

// Set holds the revocations in force, in memory, at most max of them. It
// is safe for concurrent use.
type Set struct {
	mu      sync.RWMutex
	entries map[setKey]Revocation
	max     int
	swept   time.Time // the last sweep of a full Set
}

// DefaultMaxEntries bounds a Set: some hundred bytes each, 20 MiB or so.
const DefaultMaxEntries = 200_000

// NewSet returns an empty Set of at most max revocations (DefaultMaxEntries
// when max ≤ 0).
func NewSet(max int) *Set {
	if max <= 0 {
		max = DefaultMaxEntries
	}
	return &Set{entries: map[setKey]Revocation{}, max: max}
}

// Add puts r in force until r.Until, and reports whether it is. Of two
// revocations of one key the later At and the later Until are kept. A
// full Set takes no new key: it forgets expired revocations (at most once
// a second, so that a flood of additions cannot hold the lock that every
// decision reads under) and refuses r if still full. A revocation still
// in force is never dropped for another.
func (s *Set) Add(r Revocation, now time.Time) bool {
	if !r.Until.After(now) {
		return false
	}
	k := setKey{r.Kind, r.Key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[k]; ok {
		if old.At.After(r.At) {
			r.At = old.At
		}
		if old.Until.After(r.Until) {
			r.Until = old.Until
		}
		s.entries[k] = r
		return true
	}
	if len(s.entries) >= s.max && now.Sub(s.swept) >= time.Second {
		s.sweepLocked(now)
	}
	if len(s.entries) >= s.max {
		return false
	}
	s.entries[k] = r
	return true
}

// Covers reports whether a revocation in force at now covers t.
func (s *Set) Covers(t Token, now time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.entries) == 0 {
		return false
	}
	live := func(kind Kind, key string) (Revocation, bool) {
		if key == "" {
			return Revocation{}, false
		}
		r, ok := s.entries[setKey{kind, key}]
		return r, ok && r.Until.After(now)
	}
	if _, ok := live(Session, t.SessionID); ok {
		return true
	}
	if _, ok := live(User, t.UserID); ok {
		return true
	}
	if t.OrgID == "" {
		return false
	}
	if _, ok := live(Organization, t.OrgID); ok {
		return true
	}
	if t.UserID == "" {
		return false
	}
	r, ok := live(Membership, MembershipKey(t.OrgID, t.UserID))
	return ok && t.IssuedAt.Before(r.At)
}

// Len is how many revocations the Set holds, expired ones not yet swept
// included.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Sweep forgets the revocations expired at now.
func (s *Set) Sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
}

func (s *Set) sweepLocked(now time.Time) {
	s.swept = now
	for k, r := range s.entries {
		if !r.Until.After(now) {
			delete(s.entries, k)
		}
	}
}

// Local is the store of one process: revocations are in force here only
// (the embedded default, one replica).
type Local struct {
	set *Set
	now func() time.Time
}

// NewLocal returns an empty Local store of at most max revocations.
func NewLocal(max int) *Local { return &Local{set: NewSet(max), now: time.Now} }

// Revoke puts r in force; it fails only when the Set is full.
func (l *Local) Revoke(_ context.Context, r Revocation) error {
	return add(l.set, r, l.now())
}

// ErrFull means a revocation could not be put in force: the Set holds as
// many as it may, all still in force. A caller that can be asked again (a
// webhook delivery) should ask to be.
var ErrFull = errors.New("the revocations in force fill the store")

// add puts r in force in set, or says why it is not.
func add(set *Set, r Revocation, now time.Time) error {
	if !set.Add(r, now) && r.Until.After(now) {
		return fmt.Errorf("%w (%d)", ErrFull, set.max)
	}
	return nil
}

// Covers reports whether a revocation in force covers t.
func (l *Local) Covers(t Token, now time.Time) bool { return l.set.Covers(t, now) }

// Run forgets expired revocations every interval until ctx ends.
func (l *Local) Run(ctx context.Context, interval time.Duration) { sweepEvery(ctx, l.set, interval) }

// sweepEvery sweeps set every interval until ctx ends.
func sweepEvery(ctx context.Context, set *Set, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			set.Sweep(now)
		}
	}
}
