package revocation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/verdict-pdp/verdict/internal/revocation"
	"github.com/verdict-pdp/verdict/internal/testredis"
)

// replica is a Redis store as one replica of the service runs it, with
// its OnError calls counted.
type replica struct {
	*revocation.Redis
	errs atomic.Int64
}

// newReplica opens a Redis store on url; run starts its Run, which ends
// with the test.
func newReplica(t *testing.T, url string, ttl time.Duration, run bool) *replica {
	t.Helper()
	r := &replica{}
	s, err := revocation.NewRedis(t.Context(), revocation.RedisOptions{
		URL:     url,
		TTL:     ttl,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnError: func(error) { r.errs.Add(1) },
	})
	if err != nil {
		t.Fatalf("NewRedis(%s) = %v", url, err)
	}
	r.Redis = s
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	if run {
		r.run(t)
	}
	return r
}

// run starts Run until the test ends.
func (r *replica) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// rawClient is a plain go-redis client, to look into Redis.
func rawClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually polls cond until it holds or within has passed.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stored reads a revocation and its expiry from Redis.
func stored(ctx context.Context, c *redis.Client, key string) (revocation.Revocation, time.Duration, error) {
	var r revocation.Revocation
	body, err := c.Get(ctx, key).Result()
	if err != nil {
		return r, 0, err
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return r, 0, err
	}
	expiry, err := c.PExpireTime(ctx, key).Result()
	return r, expiry, err
}

func TestRedisSharesRevocationsBetweenReplicas(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	a := newReplica(t, srv.URL, 0, true)
	b := newReplica(t, srv.URL, 0, true)
	raw := rawClient(t, srv.URL)
	if !eventually(5*time.Second, func() bool { return a.Connected() && b.Connected() }) {
		t.Fatal("the replicas did not connect")
	}
	now := time.Now()
	for _, c := range []struct {
		name       string
		r          revocation.Revocation
		covered    revocation.Token
		notCovered revocation.Token
	}{
		{
			"session", revocation.Revocation{Kind: revocation.Session, Key: "sess_1"},
			revocation.Token{SessionID: "sess_1", UserID: "user_s"},
			revocation.Token{SessionID: "sess_2", UserID: "user_s"},
		},
		{
			"user", revocation.Revocation{Kind: revocation.User, Key: "user_1"},
			revocation.Token{SessionID: "sess_9", UserID: "user_1"},
			revocation.Token{SessionID: "sess_9", UserID: "user_2"},
		},
		{
			"organization", revocation.Revocation{Kind: revocation.Organization, Key: "org_1"},
			revocation.Token{UserID: "user_o", OrgID: "org_1"},
			revocation.Token{UserID: "user_o", OrgID: "org_2"},
		},
		{
			"membership, a token issued before it",
			revocation.Revocation{Kind: revocation.Membership, Key: revocation.MembershipKey("org_m", "user_m")},
			revocation.Token{UserID: "user_m", OrgID: "org_m", IssuedAt: now.Add(-time.Minute)},
			revocation.Token{UserID: "user_m", OrgID: "org_m", IssuedAt: now.Add(time.Second)},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.r.At, c.r.Until = now, now.Add(time.Hour)
			if err := a.Revoke(t.Context(), c.r); err != nil {
				t.Fatalf("Revoke = %v", err)
			}
			if !a.Covers(c.covered, time.Now()) {
				t.Error("the revoking replica does not cover at once")
			}
			if !eventually(time.Second, func() bool { return b.Covers(c.covered, time.Now()) }) {
				t.Error("the other replica does not cover within 1s")
			}
			if a.Covers(c.notCovered, time.Now()) || b.Covers(c.notCovered, time.Now()) {
				t.Errorf("a token it does not name (%+v) is covered", c.notCovered)
			}
			got, expiry, err := stored(t.Context(), raw, revocation.DefaultPrefix+string(c.r.Kind)+":"+c.r.Key)
			if err != nil {
				t.Fatalf("read it from Redis: %v", err)
			}
			if !got.At.Equal(c.r.At) || !got.Until.Equal(c.r.Until) || got.Kind != c.r.Kind || got.Key != c.r.Key {
				t.Errorf("Redis holds %+v, want %+v", got, c.r)
			}
			if want := time.Duration(c.r.Until.UnixMilli()) * time.Millisecond; expiry != want {
				t.Errorf("PEXPIRETIME = %v, want its Until %v", expiry, want)
			}
		})
	}
	if n := a.errs.Load() + b.errs.Load(); n != 0 {
		t.Errorf("OnError called %d times with Redis up", n)
	}
}

// TestRedisLoadsLiveRevocations: a replica that starts later finds what
// was revoked before it, but not what has expired; TTL is the least time
// a revocation is kept.
func TestRedisLoadsLiveRevocations(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	raw := rawClient(t, srv.URL)
	const ttl = 1500 * time.Millisecond
	a := newReplica(t, srv.URL, ttl, true)
	now := time.Now()
	live := revocation.Revocation{Kind: revocation.User, Key: "user_live", At: now, Until: now.Add(time.Hour)}
	short := revocation.Revocation{Kind: revocation.Session, Key: "sess_short", At: now, Until: now.Add(100 * time.Millisecond)}
	for _, r := range []revocation.Revocation{live, short} {
		if err := a.Revoke(t.Context(), r); err != nil {
			t.Fatalf("Revoke(%s) = %v", r.Key, err)
		}
	}
	shortKey := revocation.DefaultPrefix + "session:sess_short"
	got, expiry, err := stored(t.Context(), raw, shortKey)
	if err != nil {
		t.Fatalf("read %s: %v", shortKey, err)
	}
	if want := now.Add(ttl); !got.Until.Equal(want) || expiry != time.Duration(want.UnixMilli())*time.Millisecond {
		t.Errorf("a revocation whose Until is before At+TTL is kept until %v (PEXPIRETIME %v), want At+TTL %v", got.Until, expiry, want)
	}

	if !eventually(5*time.Second, func() bool { return raw.Exists(t.Context(), shortKey).Val() == 0 }) {
		t.Fatalf("%s still in Redis after its expiry", shortKey)
	}
	c := newReplica(t, srv.URL, ttl, false) // loads at start, before Run
	if !c.Covers(revocation.Token{UserID: "user_live"}, time.Now()) {
		t.Error("a replica started later does not cover the live revocation")
	}
	if c.Covers(revocation.Token{SessionID: "sess_short"}, time.Now()) {
		t.Error("a replica started later covers an expired revocation")
	}
	if c.Len() != 1 {
		t.Errorf("the replica started later holds %d revocations, want the 1 live one", c.Len())
	}
	if a.Covers(revocation.Token{SessionID: "sess_short"}, time.Now()) {
		t.Error("the revoking replica still covers an expired revocation")
	}
}

// TestRedisLoadIsBounded: a replica holds no more revocations than its
// Max, however many Redis has.
func TestRedisLoadIsBounded(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	a := newReplica(t, srv.URL, 0, false)
	now := time.Now()
	for i := range 10 {
		r := revocation.Revocation{Kind: revocation.Session, Key: fmt.Sprintf("sess_%d", i), At: now, Until: now.Add(time.Hour + time.Duration(i)*time.Minute)}
		if err := a.Revoke(t.Context(), r); err != nil {
			t.Fatalf("Revoke = %v", err)
		}
	}
	c, err := revocation.NewRedis(t.Context(), revocation.RedisOptions{URL: srv.URL, Max: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if c.Len() != 3 {
		t.Errorf("Len = %d, want Max 3", c.Len())
	}
}

// TestRedisOutage: while Redis is down each replica answers from what it
// knows and the revocations made meanwhile are pending; when Redis is
// back they are shared.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	a := newReplica(t, srv.URL, 0, true)
	b := newReplica(t, srv.URL, 0, true)
	if !eventually(5*time.Second, func() bool { return a.Connected() && b.Connected() }) {
		t.Fatal("the replicas did not connect")
	}
	now := time.Now()
	revoke := func(s *replica, sid string) error {
		return s.Revoke(t.Context(), revocation.Revocation{Kind: revocation.Session, Key: sid, At: now, Until: now.Add(time.Hour)})
	}
	covered := func(s *replica, sid string) func() bool {
		return func() bool { return s.Covers(revocation.Token{SessionID: sid}, time.Now()) }
	}
	if err := revoke(a, "sess_before"); err != nil {
		t.Fatalf("Revoke before the outage = %v", err)
	}
	if !eventually(time.Second, covered(b, "sess_before")) {
		t.Fatal("the revocation before the outage did not reach the other replica")
	}

	srv.Kill()
	if !eventually(5*time.Second, func() bool { return !a.Connected() && !b.Connected() }) {
		t.Error("the replicas still say they are connected with Redis down")
	}
	for name, s := range map[string]*replica{"a": a, "b": b} {
		if !covered(s, "sess_before")() {
			t.Errorf("replica %s forgot, in the outage, what was revoked before", name)
		}
	}
	errsBefore := a.errs.Load()
	err := revoke(a, "sess_during")
	if !errors.Is(err, revocation.ErrNotShared) {
		t.Errorf("Revoke with Redis down = %v, want an error wrapping ErrNotShared", err)
	}
	if a.errs.Load() == errsBefore {
		t.Error("a Revoke that failed was not reported to OnError")
	}
	if !covered(a, "sess_during")() {
		t.Error("the revoking replica does not cover, in the outage, what it revoked")
	}

	srv.Start(t)
	if !eventually(10*time.Second, covered(b, "sess_during")) {
		t.Error("what was revoked in the outage did not reach the other replica once Redis was back")
	}
	if !eventually(5*time.Second, func() bool { return a.Connected() && b.Connected() }) {
		t.Fatal("the replicas did not reconnect")
	}
	if err := revoke(b, "sess_after"); err != nil {
		t.Errorf("Revoke after the outage = %v", err)
	}
	if !eventually(time.Second, covered(a, "sess_after")) {
		t.Error("a revocation after the outage did not reach the other replica")
	}
}

// TestRedisDownAtStart: a store starts without Redis, and catches up when
// Redis comes.
func TestRedisDownAtStart(t *testing.T) {
	t.Parallel()
	srv := testredis.New(t) // not started
	a := newReplica(t, srv.URL, 0, false)
	if a.errs.Load() == 0 {
		t.Error("Redis unreachable at start was not reported to OnError")
	}
	if a.Connected() {
		t.Error("Connected with Redis down")
	}
	now := time.Now()
	mine := revocation.Revocation{Kind: revocation.User, Key: "user_a", At: now, Until: now.Add(time.Hour)}
	if err := a.Revoke(t.Context(), mine); !errors.Is(err, revocation.ErrNotShared) {
		t.Errorf("Revoke with Redis down = %v, want an error wrapping ErrNotShared", err)
	}
	theirs := revocation.Token{SessionID: "sess_b"}
	if a.Covers(theirs, now) {
		t.Error("covers a revocation nobody made")
	}

	srv.Start(t)
	b := newReplica(t, srv.URL, 0, true)
	if err := b.Revoke(t.Context(), revocation.Revocation{Kind: revocation.Session, Key: "sess_b", At: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatalf("Revoke = %v", err)
	}
	a.run(t) // subscribes after B's revocation: finds it by loading
	if !eventually(5*time.Second, func() bool { return a.Covers(theirs, time.Now()) }) {
		t.Error("the store started without Redis did not load what another replica revoked")
	}
	if !eventually(5*time.Second, func() bool { return b.Covers(revocation.Token{UserID: "user_a"}, time.Now()) }) {
		t.Error("what the store revoked without Redis did not reach the other replica")
	}
	if !a.Connected() {
		t.Error("not Connected once Redis is up and loaded")
	}
}

// TestRedisConcurrentRevokesKeepTheWidest: replicas revoking one key at
// once leave the latest At and the latest Until, as Set.Add does.
func TestRedisConcurrentRevokesKeepTheWidest(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	a := newReplica(t, srv.URL, 0, true)
	b := newReplica(t, srv.URL, 0, true)
	raw := rawClient(t, srv.URL)
	base := time.Now().Truncate(time.Second)
	key := revocation.MembershipKey("org_c", "user_c")
	const n = 16
	// The latest At comes with the earliest Until and the other way round:
	// only a merge keeps both.
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	until := func(i int) time.Time { return base.Add(time.Hour + time.Duration(n-1-i)*time.Minute) }
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if err := s.Revoke(t.Context(), revocation.Revocation{Kind: revocation.Membership, Key: key, At: at(i), Until: until(i)}); err != nil {
				t.Errorf("Revoke %d = %v", i, err)
			}
		})
	}
	wg.Wait()
	want := revocation.Revocation{Kind: revocation.Membership, Key: key, At: at(n - 1), Until: until(0)}
	got, expiry, err := stored(t.Context(), raw, revocation.DefaultPrefix+"membership:"+key)
	if err != nil {
		t.Fatalf("read it from Redis: %v", err)
	}
	if !got.At.Equal(want.At) || !got.Until.Equal(want.Until) {
		t.Errorf("Redis holds At %v Until %v, want At %v Until %v", got.At, got.Until, want.At, want.Until)
	}
	if w := time.Duration(want.Until.UnixMilli()) * time.Millisecond; expiry != w {
		t.Errorf("PEXPIRETIME = %v, want %v", expiry, w)
	}
	// Covered only under the latest At and the latest Until.
	tok := revocation.Token{UserID: "user_c", OrgID: "org_c", IssuedAt: want.At.Add(-time.Millisecond)}
	late := want.Until.Add(-time.Second)
	for name, s := range map[string]*replica{"a": a, "b": b} {
		if !eventually(time.Second, func() bool { return s.Covers(tok, late) }) {
			t.Errorf("replica %s does not hold the widest revocation", name)
		}
	}
}

// TestRedisIgnoresMalformed: what does not parse on the channel or in the
// keys is ignored and counted; the store goes on.
func TestRedisIgnoresMalformed(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	raw := rawClient(t, srv.URL)
	a := newReplica(t, srv.URL, 0, true)
	if !eventually(5*time.Second, a.Connected) {
		t.Fatal("the replica did not connect")
	}
	until := time.Now().Add(time.Hour).Format(time.RFC3339Nano)
	channel := revocation.DefaultPrefix + "events"
	malformed := []struct{ name, payload string }{
		{"not JSON", "revoke sess_x"},
		{"JSON of another shape", `[1, 2, 3]`},
		{"unknown kind", `{"kind":"device","key":"dev_1","until":"` + until + `"}`},
		{"no key", `{"kind":"session","key":"","until":"` + until + `"}`},
		{"no expiry", `{"kind":"session","key":"sess_x"}`},
		{"bad time", `{"kind":"session","key":"sess_x","until":"tomorrow"}`},
		{"too large", `{"kind":"session","key":"` + strings.Repeat("x", 8<<10) + `","until":"` + until + `"}`},
	}
	for _, m := range malformed {
		if err := raw.Publish(t.Context(), channel, m.payload).Err(); err != nil {
			t.Fatalf("publish %s: %v", m.name, err)
		}
	}
	valid := `{"kind":"session","key":"sess_ok","at":"` + until + `","until":"` + until + `"}`
	if err := raw.Publish(t.Context(), channel, valid).Err(); err != nil {
		t.Fatal(err)
	}
	if !eventually(time.Second, func() bool { return a.Covers(revocation.Token{SessionID: "sess_ok"}, time.Now()) }) {
		t.Fatal("a valid message after malformed ones was not applied")
	}
	if got := a.errs.Load(); got != int64(len(malformed)) {
		t.Errorf("OnError called %d times, want %d (one per malformed message)", got, len(malformed))
	}
	if a.Covers(revocation.Token{SessionID: "sess_x"}, time.Now()) {
		t.Error("a malformed message was applied")
	}

	// Keys that are not revocations are skipped when a replica loads.
	now := time.Now()
	if err := a.Revoke(t.Context(), revocation.Revocation{Kind: revocation.Session, Key: "sess_stored", At: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatalf("Revoke = %v", err)
	}
	for key, value := range map[string]string{
		revocation.DefaultPrefix + "session:junk":  "junk",
		revocation.DefaultPrefix + "session:other": `{"kind":"session","key":"sess_y","until":"` + until + `"}`,
	} {
		if err := raw.Set(t.Context(), key, value, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c := newReplica(t, srv.URL, 0, false)
	if got := c.errs.Load(); got != 2 {
		t.Errorf("loading 2 malformed keys: OnError called %d times, want 2", got)
	}
	if c.Covers(revocation.Token{SessionID: "sess_y"}, time.Now()) {
		t.Error("a revocation stored under another's key was loaded")
	}
	if !c.Covers(revocation.Token{SessionID: "sess_stored"}, time.Now()) {
		t.Error("a valid revocation beside malformed keys was not loaded")
	}
}

// TestNewRedisMalformedURL: only a malformed URL fails NewRedis, and the
// error does not show the password.
func TestNewRedisMalformedURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"http://:s3cret@127.0.0.1:6379",
		"redis://:s3cret@127.0.0.1:port",
		"redis://:s3cret@127.0.0.1:6379/db",
		"redis://:s3cret@127.0.0.1:6379/0?surprise=1",
		"redis://:s3cret@127.0.0.1:6379/%zz",
		"redis://:s3cr/et@127.0.0.1:6379",
		"redis://127.0.0.1:6379/0?password=s3cret",
	} {
		_, err := revocation.NewRedis(t.Context(), revocation.RedisOptions{URL: url})
		if err == nil {
			t.Errorf("NewRedis(%q) = nil error, want one", url)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewRedis(%q) = %v: the error shows the password", url, err)
		}
	}
}

// TestRedisClampsWhatOthersWrite: whoever can publish on the channel
// cannot keep a revocation beyond the TTL (nor fill the Set with ones that
// never expire): a revocation read from Redis is in force at most the TTL
// and a minute from its receipt.
func TestRedisClampsWhatOthersWrite(t *testing.T) {
	t.Parallel()
	srv := testredis.Start(t)
	raw := rawClient(t, srv.URL)
	a := newReplica(t, srv.URL, time.Hour, true)
	if !eventually(5*time.Second, a.Connected) {
		t.Fatal("the replica did not connect")
	}
	now := time.Now()
	forever := `{"kind":"session","key":"sess_forever","at":"` + now.Format(time.RFC3339Nano) + `","until":"9999-12-31T00:00:00Z"}`
	if err := raw.Publish(t.Context(), revocation.DefaultPrefix+"events", forever).Err(); err != nil {
		t.Fatal(err)
	}
	tok := revocation.Token{SessionID: "sess_forever"}
	if !eventually(time.Second, func() bool { return a.Covers(tok, time.Now()) }) {
		t.Fatal("the published revocation was not applied")
	}
	if a.Covers(tok, now.Add(time.Hour+2*time.Minute)) {
		t.Error("a revocation published to last forever is in force beyond the TTL and a minute")
	}
}
