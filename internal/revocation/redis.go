package revocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/verdict-pdp/verdict/internal/retry"
)

// ErrNotShared is wrapped by a Store's Revoke error when the revocation is
// in force on this replica but could not be shared with the others yet
// (their store is unreachable). The Redis store keeps it and pushes it
// when Redis is back; a caller that can be asked again (a webhook
// delivery) should ask to be.
var ErrNotShared = errors.New("the revocation is in force here but not shared with the other replicas yet")

// DefaultPrefix starts the Redis keys and channel of a Redis store.
const DefaultPrefix = "verdict:revocation:"

const (
	// writeTimeout bounds Revoke's round trips: a webhook is answered
	// promptly, Redis or not.
	writeTimeout = 2 * time.Second
	// maxMessage bounds a revocation read from Redis; a real one is some
	// hundred bytes.
	maxMessage = 4 << 10
	// maxKey bounds a revocation's Key (Clerk ids are a few dozen bytes).
	maxKey = 512
	// maxPending bounds the revocations waiting for Redis.
	maxPending = 10_000
	// scanBatch is the COUNT of a SCAN and the most keys of one MGET.
	scanBatch = 500
	// loadTimeout bounds loading every live revocation.
	loadTimeout = time.Minute
	// pingEvery is how long the subscription may stay silent before it is
	// pinged; a ping unanswered as long again drops it.
	pingEvery = 15 * time.Second
	// sweepInterval is how often expired revocations are forgotten.
	sweepInterval = time.Minute
	// retryMin and retryMax bound the backoff of reconnects and pushes.
	retryMin, retryMax = 100 * time.Millisecond, 2 * time.Second
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port[/db][?option=…] or
	// rediss:// for TLS (go-redis ParseURL). It may hold a password: it
	// is only logged redacted.
	URL string
	// TTL is the least time a revocation is kept after its At; a
	// revocation's own Until may be later.
	TTL time.Duration
	// Max bounds the revocations held in memory (DefaultMaxEntries when
	// ≤ 0).
	Max int
	// Logger says when Redis is lost and found again (nothing when nil).
	Logger *slog.Logger
	// OnError, when set, is called with each failure: Redis unreachable,
	// a write or push refused, a message or key that does not parse.
	OnError func(error)
	// Prefix starts every key and the channel (DefaultPrefix when empty).
	Prefix string
}

// Redis is a Store shared through Redis. Each revocation is a key,
// <prefix><kind>:<key>, holding its JSON and expiring at its Until; each
// write is published on <prefix>events. Every replica keeps its own Set,
// so Covers never leaves the process; Run follows the channel, and loads
// every live key whenever it (re)subscribes. While Redis is unreachable
// the replica answers from what it knows, keeps its own revocations
// pending, and catches up when Redis is back.
type Redis struct {
	client  *redis.Client
	set     *Set
	ttl     time.Duration
	prefix  string
	channel string
	logger  *slog.Logger
	onError func(error)
	now     func() time.Time

	connected atomic.Bool
	kick      chan struct{}
	mu        sync.Mutex
	pending   map[setKey]Revocation
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Redis store and loads the live revocations. Redis
// being unreachable is not an error (the store starts with what it knows,
// says so, and Run keeps trying); a malformed URL is.
func NewRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	if o.URL == "" {
		return nil, errors.New("revocation store: no Redis URL")
	}
	redacted := redactURL(o.URL)
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		// The parser's message quotes what it could not read, a password
		// or a query holding one included: say only which setting.
		return nil, errors.New("revocation store: malformed --revocation-redis-url (want redis://[user:password@]host:port[/db] or rediss://…)")
	}
	opts.ContextTimeoutEnabled = true
	// One dial per attempt: with Redis down, Revoke fails at once (the
	// webhook is asked again) and Run's backoff paces the reconnects.
	opts.DialerRetries = 1
	if opts.DialTimeout == 0 {
		opts.DialTimeout = writeTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	s := &Redis{
		client:  redis.NewClient(opts),
		set:     NewSet(o.Max),
		ttl:     o.TTL,
		prefix:  o.Prefix,
		channel: o.Prefix + "events",
		logger:  o.Logger.With("redis", redacted),
		onError: o.OnError,
		now:     time.Now,
		kick:    make(chan struct{}, 1),
		pending: map[setKey]Revocation{},
	}
	pctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := s.client.Ping(pctx).Err(); err != nil {
		s.fail("Redis unreachable at start; serving the revocations made here until it is back", err)
		return s, nil
	}
	if err := s.load(ctx); err != nil {
		s.fail("revocations not loaded at start; retrying", err)
	}
	return s, nil
}

// Covers reports whether a revocation in force here covers t.
func (s *Redis) Covers(t Token, now time.Time) bool { return s.set.Covers(t, now) }

// Len is how many revocations this replica holds.
func (s *Redis) Len() int { return s.set.Len() }

// Connected reports whether the store follows Redis: subscribed, and
// every live revocation loaded since.
func (s *Redis) Connected() bool { return s.connected.Load() }

// Close releases the connections; call it after Run has returned.
func (s *Redis) Close() error { return s.client.Close() }

// Revoke puts r in force here at once, then writes and publishes it. Its
// Until is extended to At+TTL when earlier. The error wraps ErrNotShared
// when Redis did not take r (r is kept and pushed by Run when Redis is
// back); any other error means r cannot be shared at all (a malformed
// revocation), and asking again will not help.
func (s *Redis) Revoke(ctx context.Context, r Revocation) error {
	if s.ttl > 0 && !r.At.IsZero() && r.At.Add(s.ttl).After(r.Until) {
		r.Until = r.At.Add(s.ttl)
	}
	now := s.now()
	if err := add(s.set, r, now); err != nil {
		s.fail("revocation refused", err)
		return err
	}
	if !r.Until.After(now) {
		return nil // covers nothing any more: nothing to share
	}
	if err := validate(r); err != nil {
		return fmt.Errorf("revocation store: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := s.write(wctx, r); err != nil {
		err = fmt.Errorf("%w: %s revocation kept pending: %w", ErrNotShared, r.Kind, err)
		s.fail("revocation not shared", err)
		s.hold(r)
		return err
	}
	return nil
}

// Run keeps this replica in step with Redis until ctx ends: it follows
// the channel (reconnecting with backoff), pushes pending revocations
// and forgets expired ones. Call it once.
func (s *Redis) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { sweepEvery(ctx, s.set, sweepInterval) })
	wg.Go(func() { s.pushPending(ctx) })
	s.follow(ctx)
	wg.Wait()
}

// follow subscribes, loads, applies messages, and starts over when the
// subscription fails.
func (s *Redis) follow(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		established, err := s.session(ctx)
		s.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if established {
			failures = 0
		}
		failures++
		if failures == 1 {
			s.fail("Redis unreachable; serving the revocations known here and reconnecting", err)
		} else {
			s.report(err)
			s.logger.Debug("Redis still unreachable", "attempt", failures, "error", err)
		}
		retry.Sleep(ctx, retry.Below(retry.Backoff(failures, retryMin, retryMax)))
	}
}

// session runs one subscription: it reports whether it was established
// (subscribed and loaded) and why it ended.
func (s *Redis) session(ctx context.Context) (bool, error) {
	ps := s.client.Subscribe(ctx, s.channel)
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblocks Receive
	defer func() {
		stop()
		_ = ps.Close()
	}()
	msg, err := ps.ReceiveTimeout(ctx, writeTimeout)
	if err != nil {
		return false, fmt.Errorf("subscribe to %s: %w", s.channel, err)
	}
	if _, ok := msg.(*redis.Subscription); !ok {
		return false, fmt.Errorf("subscribe to %s: unexpected reply %T", s.channel, msg)
	}
	if err := s.load(ctx); err != nil {
		return false, err
	}
	s.connected.Store(true)
	s.logger.Info("following the shared revocations", "revocations", s.set.Len())
	s.poke()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return true, nil
		case err != nil && errors.As(err, &ne) && ne.Timeout() && !pinged:
			if err := ps.Ping(ctx); err != nil {
				return true, fmt.Errorf("ping %s: %w", s.channel, err)
			}
			pinged = true
			continue
		case err != nil:
			return true, fmt.Errorf("receive from %s: %w", s.channel, err)
		}
		pinged = false
		if m, ok := msg.(*redis.Message); ok {
			s.receive(m.Payload)
		}
	}
}

// receive applies a published revocation.
func (s *Redis) receive(payload string) {
	r, err := decode(payload)
	if err != nil {
		s.fail("message ignored", fmt.Errorf("message on %s: %w", s.channel, err))
		return
	}
	s.addShared(r, s.now())
}

// addShared adds a revocation read from Redis, which anybody who can
// write there may have put: no later than the TTL (plus a minute for the
// replicas' clocks) can it be in force, since every revocation is kept
// until at most its event's time, or its receipt, plus the TTL.
func (s *Redis) addShared(r Revocation, now time.Time) bool {
	if latest := now.Add(s.ttl + time.Minute); s.ttl > 0 && r.Until.After(latest) {
		r.Until = latest
	}
	if !s.set.Add(r, now) && r.Until.After(now) {
		s.report(fmt.Errorf("%w: a revocation from Redis was not taken", ErrFull))
		return false
	}
	return true
}

// load adds every live revocation in Redis to the Set, at most the Set's
// bound of them.
func (s *Redis) load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	match := escapeGlob(s.prefix) + "*"
	var cursor uint64
	loaded, bad := 0, 0
	for {
		keys, next, err := s.client.Scan(ctx, cursor, match, scanBatch).Result()
		if err != nil {
			return fmt.Errorf("load revocations: %w", err)
		}
		for chunk := range slices.Chunk(keys, scanBatch) {
			values, err := s.client.MGet(ctx, chunk...).Result()
			if err != nil {
				return fmt.Errorf("load revocations: %w", err)
			}
			now := s.now()
			for i, v := range values {
				str, ok := v.(string)
				if !ok {
					continue // expired since the SCAN
				}
				r, err := decode(str)
				if err == nil && s.key(r) != chunk[i] {
					err = errors.New("stored under another key")
				}
				if err != nil {
					bad++
					s.report(fmt.Errorf("key %s: %w", chunk[i], err))
					continue
				}
				if s.addShared(r, now) {
					loaded++
				}
			}
		}
		cursor = next
		if cursor == 0 {
			break
		}
		if loaded >= s.set.max {
			s.fail("more revocations in Redis than this replica holds; the rest are not loaded",
				fmt.Errorf("loaded %d revocations, the bound (Max)", loaded))
			break
		}
	}
	if bad > 0 {
		s.logger.Warn("keys that are not revocations ignored", "keys", bad, "match", match)
	}
	s.logger.Debug("revocations loaded", "revocations", loaded)
	return nil
}

// write stores r, merged with what Redis holds (the later At, the later
// Until, as Set.Add), expiring at its Until, and publishes the result, in
// one transaction (WATCH/MULTI, retried until ctx ends when another
// writer got in between).
func (s *Redis) write(ctx context.Context, r Revocation) error {
	key := s.key(r)
	for attempt := 1; ; attempt++ {
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			merged := r
			old, err := tx.Get(ctx, key).Result()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				if o, err := decode(old); err == nil { // a corrupt value is replaced
					merged = widest(o, r)
				}
			}
			body, err := json.Marshal(merged)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, body, 0)
				p.PExpireAt(ctx, key, merged.Until)
				p.Publish(ctx, s.channel, body)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		// Another replica wrote the key meanwhile: merge with its value.
		if !retry.Sleep(ctx, retry.Below(retry.Backoff(attempt, time.Millisecond, 50*time.Millisecond))) {
			return fmt.Errorf("%s kept changing: %w", key, ctx.Err())
		}
	}
}

// hold keeps r until Redis takes it; when full, the pending revocation
// that expires first makes room.
func (s *Redis) hold(r Revocation) {
	k := setKey{r.Kind, r.Key}
	s.mu.Lock()
	var dropped Revocation
	if old, ok := s.pending[k]; ok {
		r = widest(old, r)
	} else if len(s.pending) >= maxPending {
		var first setKey
		for pk, p := range s.pending {
			if dropped.Until.IsZero() || p.Until.Before(dropped.Until) {
				first, dropped = pk, p
			}
		}
		delete(s.pending, first)
	}
	s.pending[k] = r
	s.mu.Unlock()
	if !dropped.Until.IsZero() {
		s.fail("too many revocations pending; one will not be shared",
			fmt.Errorf("%d pending: dropped a %s revocation", maxPending, dropped.Kind))
	}
	s.poke()
}

// poke wakes pushPending.
func (s *Redis) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// pushPending writes the pending revocations when poked (a failed
// Revoke, a new subscription) while Run follows Redis, retrying with
// backoff until none is left.
func (s *Redis) pushPending(ctx context.Context) {
	var wait <-chan time.Time
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-wait:
		}
		wait = nil
		if !s.Connected() {
			continue // the next subscription pokes
		}
		n, err := s.flush(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			s.report(err)
			s.logger.Debug("pending revocations not pushed yet", "attempt", failures, "error", err)
			wait = time.After(retry.Below(retry.Backoff(failures, retryMin, retryMax)))
		default:
			failures = 0
			if n > 0 {
				s.logger.Info("pending revocations shared", "revocations", n)
			}
		}
	}
}

// flush writes the pending revocations, stopping at the first failure,
// and reports how many it wrote.
func (s *Redis) flush(ctx context.Context) (int, error) {
	s.mu.Lock()
	batch := make([]Revocation, 0, len(s.pending))
	for _, r := range s.pending {
		batch = append(batch, r)
	}
	s.mu.Unlock()
	written := 0
	for _, r := range batch {
		if r.Until.After(s.now()) {
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := s.write(wctx, r)
			cancel()
			if err != nil {
				return written, fmt.Errorf("push pending %s revocation: %w", r.Kind, err)
			}
			written++
		}
		k := setKey{r.Kind, r.Key}
		s.mu.Lock()
		if cur, ok := s.pending[k]; ok && cur.At.Equal(r.At) && cur.Until.Equal(r.Until) {
			delete(s.pending, k) // unless widened meanwhile: pushed next time
		}
		s.mu.Unlock()
	}
	return written, nil
}

// fail logs a failure as a warning and reports it.
func (s *Redis) fail(msg string, err error) {
	s.logger.Warn(msg, "error", err)
	s.report(err)
}

// report counts a failure.
func (s *Redis) report(err error) {
	if s.onError != nil {
		s.onError(err)
	}
}

// key is r's Redis key.
func (s *Redis) key(r Revocation) string { return s.prefix + string(r.Kind) + ":" + r.Key }

// widest merges two revocations of one key as Set.Add does.
func widest(a, b Revocation) Revocation {
	if a.At.After(b.At) {
		b.At = a.At
	}
	if a.Until.After(b.Until) {
		b.Until = a.Until
	}
	return b
}

// decode parses a revocation read from Redis.
func decode(payload string) (Revocation, error) {
	if len(payload) > maxMessage {
		return Revocation{}, fmt.Errorf("%d bytes, more than %d", len(payload), maxMessage)
	}
	var r Revocation
	if err := json.Unmarshal([]byte(payload), &r); err != nil {
		return Revocation{}, err
	}
	return r, validate(r)
}

// validate checks what a replica needs to apply r.
func validate(r Revocation) error {
	switch r.Kind {
	case Session, User, Membership, Organization:
	default:
		return fmt.Errorf("unknown kind %q", r.Kind)
	}
	switch {
	case r.Key == "":
		return fmt.Errorf("%s revocation without a key", r.Kind)
	case len(r.Key) > maxKey:
		return fmt.Errorf("%s key of %d bytes, more than %d", r.Kind, len(r.Key), maxKey)
	case r.Until.IsZero():
		return fmt.Errorf("%s revocation without an expiry", r.Kind)
	}
	return nil
}

// redactURL is rawURL fit for a log: its password masked.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// escapeGlob quotes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
