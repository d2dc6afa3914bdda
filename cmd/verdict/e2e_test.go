package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	v1Admin  = map[string]any{"sub": "user_admin", "sid": "sess_1", "org_id": "org_A", "org_role": "org:admin", "org_slug": "acme"}
	v2Member = map[string]any{
		"v": 2, "sub": "user_member", "sid": "sess_2", "fea": "o:posts,o:reports",
		"o": map[string]any{"id": "org_A", "slg": "acme", "rol": "member", "per": "publish,export", "fpm": "1,2"},
	}
	orgA = map[string]any{"type": "task", "org_id": "org_A", "org_slug": "acme"}
)

// TestReasonCodes exercises each reason code of the contract's table over
// HTTP, against the default policies.
func TestReasonCodes(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	forged := inst.mint(t, v1Admin)
	forged = forged[:len(forged)-4] + "AAAA"
	tests := []struct {
		name   string
		token  string
		action string
		res    map[string]any
		allow  bool
		reason string
	}{
		{"anonymous", "", "tasks:read", orgA, false, "unauthenticated"},
		{"expired", inst.mint(t, with(v1Admin, "exp", time.Now().Unix()-60)), "tasks:read", orgA, false, "token_expired"},
		{"forged signature", forged, "tasks:read", orgA, false, "token_invalid"},
		{"garbage", "not-a-token", "tasks:read", orgA, false, "token_invalid"},
		{"pending session", inst.mint(t, with(v1Admin, "sts", "pending")), "tasks:read", orgA, false, "session_pending"},
		{"unknown action", inst.mint(t, v1Admin), "rockets:launch", orgA, false, "unknown_action"},
		{"no active org", inst.mint(t, map[string]any{"sub": "user_1", "sid": "sess_1"}), "tasks:read", orgA, false, "no_active_org"},
		{"tenant missing", inst.mint(t, v1Admin), "tasks:read", map[string]any{"type": "task"}, false, "tenant_missing"},
		{"tenant mismatch", inst.mint(t, v1Admin), "tasks:read", map[string]any{"org_id": "org_B"}, false, "tenant_mismatch"},
		{"slug mismatch", inst.mint(t, v1Admin), "tasks:read", map[string]any{"org_id": "org_A", "org_slug": "evil"}, false, "tenant_mismatch"},
		{"missing role", inst.mint(t, v2Member), "billing:manage", orgA, false, "missing_role"},
		{"system permission is role-only", inst.mint(t, with(v1Admin, "org_role", "org:member", "org_permissions", []string{"org:sys_memberships:manage"})), "org:sys_memberships:manage", orgA, false, "missing_role"},
		{"missing permission", inst.mint(t, v2Member), "org:reports:delete", orgA, false, "missing_permission"},
		{"missing feature", inst.mint(t, with(v1Admin, "org_role", "org:member", "org_permissions", []string{"org:reports:export"})), "reports:export", orgA, false, "missing_feature"},
		{"reverification required", inst.mint(t, with(v1Admin, "fva", []int{30, 30})), "organization:delete", orgA, false, "reverification_required"},
		{"fresh reverification", inst.mint(t, with(v1Admin, "fva", []int{3, 2})), "organization:delete", orgA, true, "role"},
		{"feature and permission", inst.mint(t, v2Member), "reports:export", orgA, true, "permission"},
		{"allow by role", inst.mint(t, v1Admin), "org:sys_memberships:manage", orgA, true, "role"},
		{"allow by permission", inst.mint(t, v2Member), "org:posts:publish", orgA, true, "permission"},
		{"allow by membership", inst.mint(t, v2Member), "tasks:create", orgA, true, "membership"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got decision
			status := inst.post(t, "/v1/check", map[string]any{"token": tt.token, "action": tt.action, "resource": tt.res}, &got)
			if status != http.StatusOK || got.Allow != tt.allow || got.Reason != tt.reason {
				t.Fatalf("check %s = %d allow=%v reason=%s (%s); want 200 allow=%v reason=%s",
					tt.action, status, got.Allow, got.Reason, got.Message, tt.allow, tt.reason)
			}
			if got.Message == "" || got.DecisionID == "" || !strings.HasPrefix(got.PolicyRevision, "sha256:") {
				t.Errorf("incomplete decision %+v", got)
			}
			if tt.token != "" && strings.Contains(got.Message, tt.token) {
				t.Errorf("message echoes the token")
			}
		})
	}
}

// with returns a copy of claims with key/value pairs replaced.
func with(claims map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(claims)+len(kv)/2)
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestBatch(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	before := scrape(t, inst.base)
	checks := []map[string]any{
		{"action": "tasks:read", "resource": orgA},
		{"action": "billing:manage", "resource": orgA},
		{"action": "tasks:read", "resource": map[string]any{"org_id": "org_B"}},
		{"action": "org:posts:publish", "resource": orgA},
	}
	var got struct{ Results []decision }
	if status := inst.post(t, "/v1/check/batch", map[string]any{"token": inst.mint(t, v2Member), "checks": checks}, &got); status != 200 {
		t.Fatalf("batch status %d", status)
	}
	var reasons []string
	for _, r := range got.Results {
		reasons = append(reasons, r.Reason)
	}
	want := []string{"membership", "missing_role", "tenant_mismatch", "permission"}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("batch reasons in request order (-want +got):\n%s", diff)
	}
	after := scrape(t, inst.base)
	if n := after.counter("verdict_token_verifications_total", "result", "valid") - before.counter("verdict_token_verifications_total", "result", "valid"); n != 1 {
		t.Errorf("a batch of %d checks verified the token %v times, want 1", len(checks), n)
	}

	tooMany := make([]map[string]any, 101)
	for i := range tooMany {
		tooMany[i] = map[string]any{"action": "tasks:read"}
	}
	for name, body := range map[string]any{
		"empty":          map[string]any{"checks": []any{}},
		"absent":         map[string]any{"token": ""},
		"over the limit": map[string]any{"checks": tooMany},
		"missing action": map[string]any{"checks": []any{map[string]any{"action": "tasks:read"}, map[string]any{}}},
	} {
		var e apiError
		if status := inst.post(t, "/v1/check/batch", body, &e); status != 400 || e.Error.Code != "bad_request" {
			t.Errorf("batch %s = %d %+v, want 400 bad_request", name, status, e)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	exp := time.Now().Add(5 * time.Minute).Unix()
	tests := []struct {
		name  string
		token string
		want  map[string]any
	}{
		{"v1", inst.mint(t, with(v1Admin, "org_role", "admin", "org_permissions", []string{"org:reports:export"}, "exp", exp)), map[string]any{
			"authenticated": true, "principal": map[string]any{
				"user_id": "user_admin", "session_id": "sess_1", "org_id": "org_A", "org_role": "org:admin", "org_slug": "acme",
				"org_permissions": []any{"org:reports:export"}, "token_version": float64(1),
				"expires_at": time.Unix(exp, 0).UTC().Format(time.RFC3339),
			}}},
		{"v2", inst.mint(t, with(v2Member, "exp", exp, "fva", []int{3, -1}, "sts", "active", "pla", "o:pro")), map[string]any{
			"authenticated": true, "principal": map[string]any{
				"user_id": "user_member", "session_id": "sess_2", "org_id": "org_A", "org_role": "org:member", "org_slug": "acme",
				"org_permissions": []any{"org:posts:publish", "org:reports:export"}, "token_version": float64(2),
				"features": []any{"o:posts", "o:reports"}, "plans": []any{"o:pro"}, "factor_verification_age": []any{float64(3), float64(-1)},
				"session_status": "active", "expires_at": time.Unix(exp, 0).UTC().Format(time.RFC3339),
			}}},
		{"expired", inst.mint(t, with(v1Admin, "exp", time.Now().Unix()-60)), map[string]any{"authenticated": false, "reason": "token_expired"}},
		{"pending", inst.mint(t, with(v1Admin, "sts", "pending")), map[string]any{"authenticated": false, "reason": "session_pending"}},
		{"no token", "", map[string]any{"authenticated": false, "reason": "unauthenticated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got map[string]any
			if status := inst.post(t, "/v1/authenticate", map[string]any{"token": tt.token}, &got); status != 200 {
				t.Fatalf("status %d", status)
			}
			if got["authenticated"] == false {
				if msg, _ := got["message"].(string); msg == "" {
					t.Errorf("rejection without a message: %v", got)
				}
				delete(got, "message")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("authenticate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrors covers the contract's error table: statuses and envelope codes.
func TestErrors(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	big := `{"action":"tasks:read","context":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		code                                  string
	}{
		{"malformed JSON", "POST", "/v1/check", "application/json", `{"action":`, 400, "bad_request"},
		{"unknown field", "POST", "/v1/check", "application/json", `{"action":"tasks:read","subject":"x"}`, 400, "bad_request"},
		{"missing action", "POST", "/v1/check", "application/json", `{"token":""}`, 400, "bad_request"},
		{"wrong type", "POST", "/v1/check", "application/json", `{"action":"tasks:read","resource":[]}`, 400, "bad_request"},
		{"too large", "POST", "/v1/check", "application/json", big, 413, "payload_too_large"},
		{"not JSON", "POST", "/v1/check", "text/plain", `{"action":"tasks:read"}`, 415, "unsupported_media_type"},
		{"authenticate not JSON", "POST", "/v1/authenticate", "application/x-www-form-urlencoded", `token=x`, 415, "unsupported_media_type"},
		{"no such path", "GET", "/v2/check", "", "", 404, "not_found"},
		{"wrong method", "GET", "/v1/check", "", "", 405, "method_not_allowed"},
		{"wrong method on healthz", "POST", "/healthz", "application/json", "{}", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, inst.base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apiError
			if err := decodeBody(resp, &e); err != nil {
				t.Fatalf("%s %s: body is not the JSON error envelope: %v", tt.method, tt.path, err)
			}
			if resp.StatusCode != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("%s %s = %d %+v, want %d %s with a message", tt.method, tt.path, resp.StatusCode, e, tt.status, tt.code)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(inst.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestShutdownTurnsReadinessOffFirst: on SIGTERM-equivalent cancellation,
// /readyz answers 503 while requests are still served during the delay.
func TestShutdownTurnsReadinessOffFirst(t *testing.T) {
	t.Parallel()
	inst := startServe(t, "--shutdown-delay", "1s")
	inst.stop()
	deadline := time.Now().Add(900 * time.Millisecond)
	for time.Now().Before(deadline) {
		resp, err := http.Get(inst.base + "/readyz")
		if err != nil {
			t.Fatalf("readyz during the drain delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			var got decision
			if status := inst.post(t, "/v1/check", map[string]any{"action": "tasks:read"}, &got); status != 200 || got.Reason != "unauthenticated" {
				t.Errorf("check during drain = %d %+v, want a decision", status, got)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("/readyz never turned 503 during shutdown")
}

func TestStartupErrors(t *testing.T) {
	t.Parallel()
	broken := t.TempDir()
	writeTestFile(t, broken, "authz.rego", "package verdict.authz\n\ndecision := {\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no key source", []string{"serve"}, nil, "no key source"},
		{"two key sources", []string{"serve", "--jwks-url", "https://x.example/jwks", "--jwks-file", "jwks.json"}, nil, "more than one key source (--jwks-url, --jwks-file)"},
		{"flag and Clerk env", []string{"serve", "--jwks-url", "https://x.example/jwks"}, map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, "more than one key source"},
		{"env from VERDICT_", []string{"serve"}, map[string]string{"VERDICT_JWKS_URL": "https://x.example/jwks", "VERDICT_JWKS_FILE": "j.json"}, "more than one key source"},
		{"bad env value", []string{"serve"}, map[string]string{"VERDICT_CLOCK_SKEW": "5"}, `invalid value "5" in environment variable VERDICT_CLOCK_SKEW (--clock-skew): want a duration with its unit`},
		{"bad flag value", []string{"serve", "--eval-timeout", "fast"}, nil, `invalid value "fast" for flag -eval-timeout: want a duration`},
		{"bad number", []string{"serve", "--token-cache-size", "10k"}, nil, `invalid value "10k" for flag -token-cache-size: want a whole number`},
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, `invalid value "loud" for flag -log-level: want debug, info, warn or error`},
		{"bad boolean in env", []string{"dev"}, map[string]string{"VERDICT_EXPLAIN": "yes please"}, `invalid value "yes please" in environment variable VERDICT_EXPLAIN (--explain): want true or false`},
		{"plain http JWKS", []string{"serve", "--jwks-url", "http://clerk.example.com/.well-known/jwks.json"}, nil, "plain http to a host other than loopback"},
		{"policies and a bundle", []string{"serve", "--jwks-url", "https://x.example/jwks", "--policies", "p", "--bundle-url", "https://b.example/bundle.tar.gz"}, nil, "--policies and a bundle"},
		{"a bundle from the environment beside --policies", []string{"serve", "--jwks-url", "https://x.example/jwks", "--bundle-file", "b.tar.gz"}, map[string]string{"VERDICT_POLICIES": "p"}, "--policies and a bundle"},
		{"two bundles", []string{"serve", "--jwks-url", "https://x.example/jwks", "--bundle-url", "https://b.example/b.tar.gz", "--bundle-file", "b.tar.gz"}, nil, "two policy sources"},
		{"a bundle cache without a URL", []string{"serve", "--jwks-url", "https://x.example/jwks", "--bundle-file", "b.tar.gz", "--bundle-cache-dir", "c"}, nil, "--bundle-cache-dir keeps what --bundle-url serves"},
		{"a bundle key without a bundle", []string{"serve", "--jwks-url", "https://x.example/jwks", "--bundle-verification-key", "k.pem"}, nil, "need a bundle"},
		{"a bundle over plain http", []string{"serve", "--jwks-url", "https://x.example/jwks", "--bundle-url", "http://b.example/b.tar.gz"}, nil, "could be anybody's policies"},
		{"a password in a URL is never repeated", []string{"serve", "--jwks-url", "http://svc:hunter2@clerk.example.com/jwks.json"}, nil, `"http://svc:xxxxx@clerk.example.com/jwks.json" is plain http`},
		{"TLS without its key", []string{"serve", "--jwks-url", "https://x.example/jwks", "--tls-cert-file", "c.pem"}, nil, "go together"},
		{"mutual TLS without TLS", []string{"serve", "--jwks-url", "https://x.example/jwks", "--client-ca-file", "ca.pem"}, nil, "--client-ca-file needs TLS"},
		{"an API keys file that is not there", []string{"serve", "--jwks-url", "https://x.example/jwks", "--policies", "../../policies", "--api-keys-file", "/nonexistent/keys"}, nil, "--api-keys-file"},
		{"policies do not compile", []string{"serve", "--jwks-url", "https://x.example/jwks", "--policies", broken}, nil, broken + "/authz.rego:4: rego_parse_error"},
		{"no such policy dir", []string{"serve", "--jwks-url", "https://x.example/jwks", "--policies", broken + "/nope"}, nil, "load policies"},
		{"unknown command", []string{"launch"}, nil, "unknown command"},
		{"secret over cleartext", []string{"serve", "--clerk-secret-key", "sk_test_x", "--clerk-api-url", "http://api.example.com"}, nil, "cleartext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tt.env[k] }
			var out lockedBuffer
			err := run(context.Background(), append([]string{"verdict"}, tt.args...), getenv, &out)
			if code := exitCode(err); code != 2 || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("run(%v) = %v (exit %d), want exit 2 with %q", tt.args, err, code, tt.want)
			}
		})
	}
}

// TestPprofOnlyWhenEnabled: profiling endpoints are served on their own
// listener when --pprof-addr is set, and never on the API port.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	inst := startServe(t, "--pprof-addr", "127.0.0.1:0")
	resp, err := http.Get(inst.base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("API port /debug/pprof/ = %d, want 404", resp.StatusCode)
	}
	var addr string
	for _, rec := range inst.out.logLines() {
		if rec["msg"] == "pprof listening" {
			addr, _ = rec["addr"].(string)
		}
	}
	if addr == "" {
		t.Fatalf("no pprof listener logged:\n%s", inst.out)
	}
	for path, want := range map[string]int{"/debug/pprof/heap": 200, "/debug/pprof/cmdline": 404} {
		resp, err = http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("pprof listener %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestDebugLogs: at debug level every request and decision is logged with
// its ids, and no log line ever holds the token.
func TestDebugLogs(t *testing.T) {
	t.Parallel()
	inst := startServe(t, "--log-level", "debug")
	token := inst.mint(t, v1Admin)
	req, err := http.NewRequest(http.MethodPost, inst.base+"/v1/check", strings.NewReader(`{"token":"`+token+`","action":"tasks:read","resource":{"org_id":"org_A"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var d decision
	if err := decodeBody(resp, &d); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "req-42" {
		t.Errorf("X-Request-Id = %q, want the caller's", got)
	}
	var sawRequest, sawDecision bool
	// The access log line is written once the response is on its way.
	for deadline := time.Now().Add(2 * time.Second); !(sawRequest && sawDecision) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, rec := range inst.out.logLines() {
			sawRequest = sawRequest || rec["msg"] == "request" && rec["request_id"] == "req-42" && rec["status"] == float64(200)
			sawDecision = sawDecision || rec["msg"] == "decision" && rec["decision_id"] == d.DecisionID && rec["reason"] == "membership"
		}
	}
	if !sawRequest || !sawDecision {
		t.Errorf("request logged %v, decision logged %v; want both:\n%s", sawRequest, sawDecision, inst.out)
	}
	if strings.Contains(inst.out.String(), token) {
		t.Error("a log line holds the token")
	}
}
