package clerkwebhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/verdict-pdp/verdict/internal/clerkwebhook"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// signByHand computes a Svix signature from the algorithm alone:
// base64(HMAC-SHA256(base64-decoded secret, "{id}.{timestamp}.{body}")).
func signByHand(t *testing.T, secret, id string, ts int64, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestSignByHandMatchesTheSpecVector pins the hand computation to the
// Standard Webhooks / Svix published example.
func TestSignByHandMatchesTheSpecVector(t *testing.T) {
	t.Parallel()
	got := signByHand(t, secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("hand signature %s, want %s", got, want)
	}
}

func headers(id string, ts int64, signature string) http.Header {
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", fmt.Sprint(ts))
	h.Set("svix-signature", signature)
	return h
}

func newReceiver(t *testing.T, store revocation.Store, now time.Time) (*clerkwebhook.Receiver, *[]string) {
	t.Helper()
	var events []string
	r, err := clerkwebhook.NewReceiver(clerkwebhook.Options{
		Secret: secret, Store: store, TTL: time.Hour, Now: func() time.Time { return now },
		OnEvent: func(e string) { events = append(events, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, &events
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ts := now.Unix()
	body := `{"type":"session.revoked","object":"event","timestamp":` + fmt.Sprint(now.UnixMilli()) + `,"data":{"id":"sess_1","user_id":"user_1","object":"session","status":"revoked"}}`
	lib, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	libSigned, err := lib.Sign("msg_1", time.Unix(ts, 0), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret, another key")))
	otherSigned, _ := other.Sign("msg_1", time.Unix(ts, 0), []byte(body))
	stale := now.Add(-6 * time.Minute).Unix()

	for _, c := range []struct {
		name    string
		body    string
		h       http.Header
		wantErr error
	}{
		{"signed by the library", body, headers("msg_1", ts, libSigned), nil},
		{"signed by hand", body, headers("msg_1", ts, signByHand(t, secret, "msg_1", ts, body)), nil},
		{"a rotated key: the old and the new signature", body, headers("msg_1", ts, otherSigned+" "+libSigned), nil},
		{"another key's signature", body, headers("msg_1", ts, otherSigned), clerkwebhook.ErrSignature},
		{"no signature", body, headers("msg_1", ts, ""), clerkwebhook.ErrSignature},
		{"a stale timestamp", body, headers("msg_1", stale, signByHand(t, secret, "msg_1", stale, body)), clerkwebhook.ErrSignature},
		{"the body altered after signing", strings.Replace(body, "sess_1", "sess_2", 1), headers("msg_1", ts, libSigned), clerkwebhook.ErrSignature},
		{"another delivery's id", body, headers("msg_2", ts, libSigned), clerkwebhook.ErrSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := revocation.NewLocal(0)
			r, _ := newReceiver(t, store, now)
			err := r.Receive(context.Background(), []byte(c.body), c.h)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("Receive = %v, want %v", err, c.wantErr)
			}
			if got := store.Covers(revocation.Token{SessionID: "sess_1"}, now); got != (c.wantErr == nil) {
				t.Errorf("sess_1 covered %v after the delivery", got)
			}
		})
	}
}

// TestReplayedDelivery: a delivery Clerk retries is done once; a body
// that is signed but not an event is refused.
func TestReplayedDelivery(t *testing.T) {
	t.Parallel()
	now := time.Now()
	r, events := newReceiver(t, revocation.NewLocal(0), now)
	body := `{"type":"user.deleted","timestamp":` + fmt.Sprint(now.UnixMilli()) + `,"data":{"id":"user_1","deleted":true,"object":"user"}}`
	h := headers("msg_9", now.Unix(), signByHand(t, secret, "msg_9", now.Unix(), body))
	for range 3 {
		if err := r.Receive(context.Background(), []byte(body), h); err != nil {
			t.Fatal(err)
		}
	}
	if len(*events) != 1 || (*events)[0] != clerkwebhook.UserDeleted {
		t.Errorf("events counted %v, want one user.deleted", *events)
	}
	notEvent := `["not", "an", "event"]`
	if err := r.Receive(context.Background(), []byte(notEvent), headers("msg_10", now.Unix(), signByHand(t, secret, "msg_10", now.Unix(), notEvent))); !errors.Is(err, clerkwebhook.ErrNotAnEvent) {
		t.Errorf("a signed non-event: %v", err)
	}
}

// TestRevocations maps Clerk's payloads (as Clerk documents them, trimmed)
// to what they revoke.
func TestRevocations(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	delivered := at.Add(2 * time.Second)
	for _, c := range []struct {
		name, body string
		want       []revocation.Revocation
		handled    bool
		wantErr    bool
	}{
		{"session.ended", `{"type":"session.ended","timestamp":1796040000000,"data":{"id":"sess_1","user_id":"user_1","status":"ended"}}`,
			[]revocation.Revocation{{Kind: revocation.Session, Key: "sess_1", At: at, Until: at.Add(time.Hour)}}, true, false},
		{"session.removed", `{"type":"session.removed","timestamp":1796040000000,"data":{"id":"sess_2"}}`,
			[]revocation.Revocation{{Kind: revocation.Session, Key: "sess_2", At: at, Until: at.Add(time.Hour)}}, true, false},
		{"user.deleted", `{"type":"user.deleted","timestamp":1796040000000,"data":{"id":"user_1","deleted":true}}`,
			[]revocation.Revocation{{Kind: revocation.User, Key: "user_1", At: at, Until: at.Add(time.Hour)}}, true, false},
		{"organization.deleted", `{"type":"organization.deleted","timestamp":1796040000000,"data":{"id":"org_1","deleted":true}}`,
			[]revocation.Revocation{{Kind: revocation.Organization, Key: "org_1", At: at, Until: at.Add(time.Hour)}}, true, false},
		{"organizationMembership.deleted", `{"type":"organizationMembership.deleted","timestamp":1796040000000,"data":{"id":"orgmem_1","role":"org:member","organization":{"id":"org_1","slug":"acme"},"public_user_data":{"user_id":"user_1","identifier":"a@example.com"}}}`,
			[]revocation.Revocation{{Kind: revocation.Membership, Key: revocation.MembershipKey("org_1", "user_1"), At: at, Until: at.Add(time.Hour)}}, true, false},
		{"organizationMembership.updated without a timestamp: the delivery's", `{"type":"organizationMembership.updated","data":{"organization":{"id":"org_1"},"public_user_data":{"user_id":"user_1"}}}`,
			[]revocation.Revocation{{Kind: revocation.Membership, Key: revocation.MembershipKey("org_1", "user_1"), At: delivered, Until: delivered.Add(time.Hour)}}, true, false},
		{"a membership event without its user", `{"type":"organizationMembership.deleted","data":{"organization":{"id":"org_1"}}}`, nil, true, true},
		{"a session event without its id", `{"type":"session.revoked","data":{}}`, nil, true, true},
		{"an event Verdict does not act on", `{"type":"email.created","data":{"id":"ema_1"}}`, nil, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e clerkwebhook.Event
			if err := jsonUnmarshal(c.body, &e); err != nil {
				t.Fatal(err)
			}
			got, handled, err := clerkwebhook.Revocations(e, delivered, at, time.Hour)
			if (err != nil) != c.wantErr || handled != c.handled {
				t.Fatalf("Revocations = %v, handled %v, err %v", got, handled, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("Revocations = %+v, want %+v", got, c.want)
			}
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
