package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/verdict-pdp/verdict/internal/testredis"
)

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// deliver posts a Clerk event to inst's webhook endpoint, signed with
// secret as Clerk signs it, and returns the status.
func deliver(t *testing.T, inst *instance, secret, id, event string) int {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	signature, err := wh.Sign(id, now, []byte(event))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, inst.base+"/v1/webhooks/clerk", bytes.NewBufferString(event))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("svix-id", id)
	req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("svix-signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// memberToken mints a v2 token of user in org, session sid, issued at iat.
func memberToken(t *testing.T, inst *instance, user, sid, org string, iat time.Time) string {
	t.Helper()
	return inst.mint(t, map[string]any{
		"sub": user, "sid": sid, "v": 2, "iat": iat.Unix(), "nbf": iat.Unix() - 5,
		"o": map[string]any{"id": org, "rol": "member", "slg": org},
	})
}

func reasonFor(t *testing.T, inst *instance, token, org string) string {
	t.Helper()
	var got decision
	if status := inst.post(t, "/v1/check", map[string]any{"token": token, "action": "tasks:read", "resource": map[string]any{"org_id": org}}, &got); status != 200 {
		t.Fatalf("check = %d", status)
	}
	return got.Reason
}

// TestClerkWebhooksRevoke: signed Clerk events revoke what the contract
// says, at once, in one replica (the in-process store); unsigned ones do
// nothing; the path is 404 without a secret.
func TestClerkWebhooksRevoke(t *testing.T) {
	t.Parallel()
	inst := startServe(t, "--clerk-webhook-secret", testWebhookSecret)
	now := time.Now()
	before, after := now.Add(-time.Minute), now.Add(2*time.Second)
	tokens := map[string]string{
		"session":     memberToken(t, inst, "user_1", "sess_1", "org_a", before),
		"sibling":     memberToken(t, inst, "user_1", "sess_2", "org_a", before),
		"member-a":    memberToken(t, inst, "user_2", "sess_3", "org_a", before),
		"member-b":    memberToken(t, inst, "user_2", "sess_4", "org_b", before),
		"member-next": memberToken(t, inst, "user_2", "sess_5", "org_a", after),
	}
	for name, tok := range tokens {
		org := "org_a"
		if name == "member-b" {
			org = "org_b"
		}
		if got := reasonFor(t, inst, tok, org); got != "membership" {
			t.Fatalf("%s before any webhook: %s", name, got)
		}
	}

	if status := deliver(t, inst, "whsec_"+"b3RoZXIgc2VjcmV0IG9mIHNvbWVib2R5IGVsc2U=", "msg_forged", `{"type":"user.deleted","data":{"id":"user_1"}}`); status != http.StatusUnauthorized {
		t.Errorf("a delivery signed with another secret = %d, want 401", status)
	}
	if status := deliver(t, inst, testWebhookSecret, "msg_0", `{"type":"session.revoked"}`); status != http.StatusBadRequest {
		t.Errorf("a signed session event without data = %d, want 400", status)
	}
	if status := deliver(t, inst, testWebhookSecret, "msg_1", `{"type":"session.revoked","object":"event","timestamp":`+fmt.Sprint(now.UnixMilli())+`,"data":{"id":"sess_1","user_id":"user_1"}}`); status != http.StatusNoContent {
		t.Fatalf("session.revoked = %d, want 204", status)
	}
	if status := deliver(t, inst, testWebhookSecret, "msg_2", `{"type":"organizationMembership.deleted","object":"event","timestamp":`+fmt.Sprint(now.UnixMilli())+`,"data":{"organization":{"id":"org_a"},"public_user_data":{"user_id":"user_2"}}}`); status != http.StatusNoContent {
		t.Fatalf("organizationMembership.deleted = %d, want 204", status)
	}
	if status := deliver(t, inst, testWebhookSecret, "msg_3", `{"type":"email.created","data":{"id":"ema_1"}}`); status != http.StatusNoContent {
		t.Errorf("an event Verdict does not act on = %d, want 204", status)
	}
	for name, want := range map[string]string{
		"session": "session_revoked", "sibling": "membership",
		"member-a": "session_revoked", "member-next": "membership",
	} {
		if got := reasonFor(t, inst, tokens[name], "org_a"); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if got := reasonFor(t, inst, tokens["member-b"], "org_b"); got != "membership" {
		t.Errorf("the removed member in another organization: %s", got)
	}
	m := scrape(t, inst.base)
	if m.counter("verdict_revocations_total", "event", "session.revoked") != 1 || m.counter("verdict_revocations_total", "event", "ignored") != 1 ||
		m.counter("verdict_token_verifications_total", "result", "revoked") < 2 {
		t.Errorf("revocations %v, ignored %v, revoked verifications %v",
			m.counter("verdict_revocations_total", "event", "session.revoked"), m.counter("verdict_revocations_total", "event", "ignored"),
			m.counter("verdict_token_verifications_total", "result", "revoked"))
	}

	plain := startServe(t)
	if status := deliver(t, plain, testWebhookSecret, "msg_1", `{"type":"user.deleted","data":{"id":"user_1"}}`); status != http.StatusNotFound {
		t.Errorf("a webhook to a service without a secret = %d, want 404", status)
	}
}

// TestRevocationsAcrossReplicas: two replicas share one Redis. A webhook
// to replica A is in force on replica B within a second; with Redis killed
// decisions go on, A puts a new revocation in force at once and asks Clerk
// to deliver it again (503), the error metric grows, nothing revoked before
// the outage is let through; with Redis back, B converges.
func TestRevocationsAcrossReplicas(t *testing.T) {
	t.Parallel()
	redis := testredis.Start(t)
	issuer := newIssuer(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(issuer.JWKS()) }))
	t.Cleanup(jwks.Close)
	replica := func() *instance {
		inst := startProgram(t, issuer, []string{"--jwks-url", jwks.URL, "--clerk-webhook-secret", testWebhookSecret, "--revocation-redis-url", redis.URL}, emptyEnv)
		waitReady(t, inst.base)
		return inst
	}
	a, b := replica(), replica()
	issued := time.Now().Add(-time.Minute)
	first := memberToken(t, a, "user_1", "sess_1", "org_a", issued)
	second := memberToken(t, a, "user_2", "sess_2", "org_a", issued)
	waitReason := func(inst *instance, token, want string, within time.Duration) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got = reasonFor(t, inst, token, "org_a"); got == want {
				return
			}
		}
		t.Fatalf("%s: %s, want %s within %s", inst.base, got, want, within)
	}
	waitReason(b, first, "membership", time.Second)

	if status := deliver(t, a, testWebhookSecret, "msg_1", `{"type":"session.revoked","data":{"id":"sess_1","user_id":"user_1"}}`); status != http.StatusNoContent {
		t.Fatalf("session.revoked to A = %d", status)
	}
	waitReason(b, first, "session_revoked", time.Second)

	redis.Kill()
	if status := deliver(t, a, testWebhookSecret, "msg_2", `{"type":"session.revoked","data":{"id":"sess_2","user_id":"user_2"}}`); status != http.StatusServiceUnavailable {
		t.Errorf("a webhook while Redis is down = %d, want 503 (Clerk delivers it again)", status)
	}
	waitReason(a, second, "session_revoked", time.Second) // in force where it arrived
	waitReason(b, first, "session_revoked", time.Second)  // what was revoked before stays
	if scrape(t, a.base).counter("verdict_revocation_store_errors_total") == 0 {
		t.Error("no store error counted while Redis was down")
	}

	redis.Start(t)
	waitReason(b, second, "session_revoked", 10*time.Second)
}
