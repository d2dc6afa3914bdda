// Package clerkwebhook receives Clerk's webhooks: it verifies each
// delivery as Clerk signs it (Svix, the Standard Webhooks scheme:
// HMAC-SHA256 over "{svix-id}.{svix-timestamp}.{body}" with the secret
// after "whsec_", timestamps more than five minutes off refused), and turns
// the events that end access before a token expires into revocations.
package clerkwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/verdict-pdp/verdict/internal/boundedmap"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// Errors a delivery is refused with; the HTTP layer maps them to statuses.
var (
	// ErrSignature: the delivery is not signed with the secret (missing
	// or wrong signature, a timestamp too far off). Nothing is done.
	ErrSignature = errors.New("the webhook is not signed by Clerk with the configured secret")
	// ErrNotAnEvent: the body, signed, is not a Clerk event Verdict can
	// read. Nothing is done.
	ErrNotAnEvent = errors.New("the webhook is not a Clerk event")
)

// The event types that revoke, as Clerk names them.
const (
	SessionRevoked        = "session.revoked"
	SessionEnded          = "session.ended"
	SessionRemoved        = "session.removed"
	UserDeleted           = "user.deleted"
	MembershipDeleted     = "organizationMembership.deleted"
	MembershipUpdated     = "organizationMembership.updated"
	OrganizationDeleted   = "organization.deleted"
	ignoredEventTypeLabel = "ignored"
)

// EventTypes are the event types that revoke: with "ignored" for every
// other, the values of verdict_revocations_total{event}.
func EventTypes() []string {
	return []string{SessionRevoked, SessionEnded, SessionRemoved, UserDeleted, MembershipDeleted, MembershipUpdated, OrganizationDeleted, ignoredEventTypeLabel}
}

// Event is a Clerk webhook event: {data, object, type, timestamp,
// instance_id}.
type Event struct {
	Type string `json:"type"`
	// Timestamp is when Clerk says it happened, in Unix milliseconds.
	Timestamp int64           `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// The parts of Clerk's payloads Verdict reads.
type (
	objectData struct {
		ID string `json:"id"` // a session, a user, an organization
	}
	membershipData struct {
		Organization struct {
			ID string `json:"id"`
		} `json:"organization"`
		PublicUserData struct {
			UserID string `json:"user_id"`
		} `json:"public_user_data"`
	}
)

// Revocations returns what e revokes, kept until ttl after it happened
// (or after now, if Clerk's clock is behind), and whether e is an event
// type that revokes at all. delivered stands in for e.Timestamp when the
// event has none.
func Revocations(e Event, delivered, now time.Time, ttl time.Duration) ([]revocation.Revocation, bool, error) {
	at := delivered
	if e.Timestamp > 0 {
		at = time.UnixMilli(e.Timestamp).UTC()
	}
	until := at
	if now.After(until) {
		until = now
	}
	until = until.Add(ttl)
	one := func(kind revocation.Kind, key string) ([]revocation.Revocation, bool, error) {
		if key == "" {
			return nil, true, fmt.Errorf("%w: %s without the id it names", ErrNotAnEvent, e.Type)
		}
		return []revocation.Revocation{{Kind: kind, Key: key, At: at, Until: until}}, true, nil
	}
	switch e.Type {
	case SessionRevoked, SessionEnded, SessionRemoved, UserDeleted, OrganizationDeleted:
		var d objectData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return nil, true, fmt.Errorf("%w: %s data: %v", ErrNotAnEvent, e.Type, err)
		}
		switch e.Type {
		case UserDeleted:
			return one(revocation.User, d.ID)
		case OrganizationDeleted:
			return one(revocation.Organization, d.ID)
		}
		return one(revocation.Session, d.ID)
	case MembershipDeleted, MembershipUpdated:
		var d membershipData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return nil, true, fmt.Errorf("%w: %s data: %v", ErrNotAnEvent, e.Type, err)
		}
		if d.Organization.ID == "" || d.PublicUserData.UserID == "" {
			return nil, true, fmt.Errorf("%w: %s without organization.id and public_user_data.user_id", ErrNotAnEvent, e.Type)
		}
		return one(revocation.Membership, revocation.MembershipKey(d.Organization.ID, d.PublicUserData.UserID))
	}
	return nil, false, nil
}

// Options configure a Receiver.
type Options struct {
	// Secret is Clerk's signing secret for the endpoint ("whsec_...").
	Secret string
	Store  revocation.Store
	// TTL is how long after an event its revocations are kept: at least
	// the longest a session token lives.
	TTL time.Duration
	// OnEvent, when set, counts every delivery done, by event type (one of
	// EventTypes).
	OnEvent func(eventType string)
	Now     func() time.Time
}

// maxSeen bounds the delivery ids remembered, and seenFor how long: Svix
// retries a delivery over about a day.
const (
	maxSeen = 100_000
	seenFor = 48 * time.Hour
)

// Receiver takes Clerk's webhook deliveries.
type Receiver struct {
	opts Options
	wh   *standardwebhooks.Webhook
	// seen are the ids of the deliveries done, so that a retry is not
	// done twice.
	seen *boundedmap.Map[string, time.Time]
}

// NewReceiver checks the secret and returns a Receiver.
func NewReceiver(opts Options) (*Receiver, error) {
	if !strings.HasPrefix(opts.Secret, "whsec_") {
		return nil, errors.New(`a Clerk webhook signing secret starts with "whsec_"`)
	}
	wh, err := standardwebhooks.NewWebhook(opts.Secret)
	if err != nil {
		return nil, errors.New("the Clerk webhook signing secret is not base64 after whsec_")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Receiver{opts: opts, wh: wh, seen: boundedmap.New[string, time.Time](maxSeen)}, nil
}

// Receive verifies a delivery and puts what it revokes in force. A
// delivery already done (a retry) is done again at no cost. An error
// wrapping revocation.ErrNotShared means the revocations are in force
// here but not shared yet: the delivery is not remembered as done, so that
// Clerk's retry shares it.
func (r *Receiver) Receive(ctx context.Context, body []byte, h http.Header) error {
	id, delivered, err := r.verify(body, h)
	if err != nil {
		return err
	}
	now := r.opts.Now()
	if at, ok := r.seen.Get(id); ok && now.Sub(at) < seenFor {
		return nil
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil || e.Type == "" {
		return fmt.Errorf("%w: not a JSON event with a type", ErrNotAnEvent)
	}
	revocations, handled, err := Revocations(e, delivered, now, r.opts.TTL)
	if err != nil {
		return err
	}
	var errs []error
	for _, rev := range revocations {
		errs = append(errs, r.opts.Store.Revoke(ctx, rev))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.seen.Put(id, now, nil)
	if r.opts.OnEvent != nil {
		label := e.Type
		if !handled {
			label = ignoredEventTypeLabel
		}
		r.opts.OnEvent(label)
	}
	return nil
}

// verify checks the Svix signature headers Clerk sends, and returns the
// delivery's id and time.
func (r *Receiver) verify(body []byte, h http.Header) (string, time.Time, error) {
	// Clerk sends Svix's names for the Standard Webhooks headers.
	std := http.Header{}
	for _, name := range []string{"id", "timestamp", "signature"} {
		v := h.Get("svix-" + name)
		if v == "" {
			v = h.Get("webhook-" + name)
		}
		std.Set("webhook-"+name, v)
	}
	if err := r.wh.Verify(body, std); err != nil {
		return "", time.Time{}, fmt.Errorf("%w (%v)", ErrSignature, err)
	}
	id := std.Get("webhook-id")
	var secs int64
	if _, err := fmt.Sscan(std.Get("webhook-timestamp"), &secs); err != nil {
		return "", time.Time{}, fmt.Errorf("%w (timestamp %v)", ErrSignature, err)
	}
	return id, time.Unix(secs, 0).UTC(), nil
}
