package verdictclient_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verdict-pdp/verdict/api/verdictclient"
)

// outcome is what one request through the middleware came to.
type outcome struct {
	Status int
	Reason string // the allow's reason (DecisionFrom), else the answer's error code
	Next   bool   // the protected handler ran
}

var orgA = verdictclient.Resource{Type: "task", Id: "t1", OrgId: "org_A"}

// checkFor derives the same check from every request.
func checkFor(action string, res verdictclient.Resource) verdictclient.CheckFunc {
	return func(*http.Request) (verdictclient.CheckRequest, error) {
		return verdictclient.CheckRequest{Action: action, Resource: res}, nil
	}
}

// through sends r through a's middleware, in front of a handler that
// answers the reason of the decision that let it through.
func through(t *testing.T, a *verdictclient.Authorizer, check verdictclient.CheckFunc, r *http.Request) outcome {
	t.Helper()
	var got outcome
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Next = true
		d, ok := verdictclient.DecisionFrom(r.Context())
		if !ok {
			t.Error("DecisionFrom(allowed request) = false, want the decision")
			return
		}
		_, _ = w.Write([]byte(d.Reason))
	})
	rec := httptest.NewRecorder()
	a.Middleware(check)(protected).ServeHTTP(rec, r)
	got.Status = rec.Code
	if got.Next {
		got.Reason = rec.Body.String()
		return got
	}
	var env struct{ Error struct{ Code string } }
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Errorf("refusal body %q: %v", rec.Body, err)
	}
	got.Reason = env.Error.Code
	return got
}

func newAuthorizer(t *testing.T, server string, opts verdictclient.Options) *verdictclient.Authorizer {
	t.Helper()
	a, err := verdictclient.NewAuthorizer(server, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// withToken puts a session token on a request as a browser (the
// __session cookie) or an API client (Authorization: Bearer) sends it.
type withToken func(r *http.Request)

func cookie(token string) withToken {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "__session", Value: token}) }
}

func bearer(token string) withToken {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func request(send ...withToken) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/tasks/t1", nil)
	for _, s := range send {
		s(r)
	}
	return r
}

// TestMiddleware asks a real `verdict serve` (the shipped policies) about
// tokens minted by a real `verdict dev`.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	member := memberToken(t)
	admin := mint(t, tokenRequest{UserID: "user_admin", OrgID: "org_A", OrgRole: "org:admin", OrgSlug: "acme"})
	expired, exp, err := mintToken(tokenRequest{UserID: "user_member", OrgID: "org_A", OrgRole: "org:member", TTLSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(t, keyedVerdict.url, verdictclient.Options{APIKey: testAPIKey})
	tests := []struct {
		name     string
		action   string
		resource verdictclient.Resource
		send     []withToken
		after    time.Time // send no earlier
		want     outcome
	}{
		{"session cookie", "tasks:read", orgA, []withToken{cookie(member)}, time.Time{}, outcome{200, "membership", true}},
		{"Authorization header", "tasks:read", orgA, []withToken{bearer(member)}, time.Time{}, outcome{200, "membership", true}},
		{"the header wins over the cookie, as in Clerk's SDK", "tasks:read", orgA, []withToken{bearer("not-a-token"), cookie(member)}, time.Time{}, outcome{401, "token_invalid", false}},
		{"no token", "tasks:read", orgA, nil, time.Time{}, outcome{401, "unauthenticated", false}},
		{"a member may not manage billing", "billing:manage", orgA, []withToken{cookie(member)}, time.Time{}, outcome{403, "missing_role", false}},
		{"an admin may", "billing:manage", orgA, []withToken{bearer(admin)}, time.Time{}, outcome{200, "role", true}},
		{"another tenant's task", "tasks:read", verdictclient.Resource{Type: "task", Id: "t9", OrgId: "org_B"}, []withToken{cookie(member)}, time.Time{}, outcome{403, "tenant_mismatch", false}},
		{"expired token", "tasks:read", orgA, []withToken{cookie(expired)}, exp.Add(time.Second), outcome{401, "token_expired", false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			time.Sleep(time.Until(tc.after))
			got := through(t, a, checkFor(tc.action, tc.resource), request(tc.send...))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s on %+v: outcome (-want +got):\n%s", tc.action, tc.resource, diff)
			}
		})
	}
}

// errorRecorder is an ErrorHandler that keeps the error and answers as the
// default one does.
type errorRecorder struct {
	mu  sync.Mutex
	err error
}

func (e *errorRecorder) handle(w http.ResponseWriter, r *http.Request, err error) {
	e.mu.Lock()
	e.err = err
	e.mu.Unlock()
	verdictclient.DefaultErrorHandler(w, r, err)
}

func (e *errorRecorder) last() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// TestMiddlewareFailsClosed: whatever keeps a decision from arriving, the
// request is refused (503) and the protected handler never runs; only the
// failures that may pass are retried.
// allowBody is a decision that allows, as Verdict would write it.
const allowBody = `{"decision_id":"0193a8c2-7d4e-4b1a-9c2f-3e5d6a7b8c90","allow":true,"reason":"role","message":"m","policy_revision":"sha256:x"}`

// allowingServer is a server that allows everything, and fails the test
// when asked: nothing may follow Verdict's redirect to it.
func allowingServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the check followed a redirect to %s (Authorization %q)", r.URL, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(allowBody))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMiddlewareFailsClosed(t *testing.T) {
	t.Parallel()
	member := memberToken(t)
	fast := verdictclient.Options{Backoff: time.Millisecond}
	tests := []struct {
		name         string
		down         bool                    // no Verdict at all: a closed port
		script       script                  // else a proxy before devVerdict
		check        verdictclient.CheckFunc // nil: tasks:read on orgA
		opts         verdictclient.Options
		wantAttempts int           // at the proxy
		wantStatus   int           // of the StatusError, 0 for none
		within       time.Duration // the refusal comes this fast (0: not checked)
	}{
		{name: "Verdict down", down: true, opts: fast},
		{name: "Verdict slower than the attempt timeout", script: slowFirst(99, 2*time.Second),
			opts: verdictclient.Options{AttemptTimeout: 50 * time.Millisecond, MaxAttempts: 2, Backoff: time.Millisecond}, wantAttempts: 2},
		{name: "the overall timeout ends the retries", script: slowFirst(99, 2*time.Second),
			opts: verdictclient.Options{Timeout: 100 * time.Millisecond}, wantAttempts: 1, within: time.Second},
		{name: "a 400 is not retried", check: checkFor("", orgA), opts: fast, wantAttempts: 1, wantStatus: 400},
		{name: "a 500 is not retried", script: answer(500, `{"error":{"code":"internal","message":"boom"}}`), opts: fast, wantAttempts: 1, wantStatus: 500},
		{name: "retries run out", script: failFirst(99, 503, "0"), opts: fast, wantAttempts: 3, wantStatus: 503},
		{name: "a 200 that is not a decision", script: answer(200, `{"allow":true}`), opts: fast, wantAttempts: 1},
		{name: "a 200 that does not decode", script: answer(200, `{"allow":true,"reason":`), opts: fast, wantAttempts: 1},
		{name: "a 200 that is not JSON", script: answerAs("text/json", 200, allowBody), opts: fast, wantAttempts: 1},
		{name: "a redirect is not followed", script: redirectTo(allowingServer(t)), opts: fast, wantAttempts: 1, wantStatus: 307},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			server, p := closedURL(t), (*proxy)(nil)
			if !tc.down {
				p = newProxy(t, devVerdict.url, tc.script)
				server = p.url
			}
			var rec errorRecorder
			tc.opts.ErrorHandler = rec.handle
			a := newAuthorizer(t, server, tc.opts)
			check := tc.check
			if check == nil {
				check = checkFor("tasks:read", orgA)
			}
			start := time.Now()
			got := through(t, a, check, request(cookie(member)))
			elapsed := time.Since(start)

			if want := (outcome{503, "authorization_unavailable", false}); got != want {
				t.Errorf("outcome = %+v, want %+v", got, want)
			}
			err := rec.last()
			if !errors.Is(err, verdictclient.ErrNoDecision) {
				t.Errorf("error = %v, want one wrapping ErrNoDecision", err)
			}
			gotStatus := 0
			if se := (*verdictclient.StatusError)(nil); errors.As(err, &se) {
				gotStatus = se.StatusCode
			}
			if gotStatus != tc.wantStatus {
				t.Errorf("error = %v, want a StatusError %d (0: none)", err, tc.wantStatus)
			}
			if p != nil {
				if n, _, _ := p.seen(); n != tc.wantAttempts {
					t.Errorf("attempts = %d, want %d", n, tc.wantAttempts)
				}
			}
			if tc.within != 0 && elapsed > tc.within {
				t.Errorf("refused after %v, want within %v", elapsed, tc.within)
			}
		})
	}
}

// TestMiddlewareRetries: a failure that may pass is asked again, and the
// decision that follows is the answer.
func TestMiddlewareRetries(t *testing.T) {
	t.Parallel()
	member := memberToken(t)
	tests := []struct {
		name         string
		script       script
		opts         verdictclient.Options
		wantAttempts int
		within       time.Duration
	}{
		{"503 with Retry-After: 0 twice", failFirst(2, 503, "0"), verdictclient.Options{}, 3, time.Second},
		{"429, 502 and 504", statuses(429, 502, 504), verdictclient.Options{MaxAttempts: 4}, 4, time.Second},
		{"a connection closed without an answer", hangUpFirst, verdictclient.Options{Backoff: time.Millisecond}, 2, time.Second},
		{"an attempt that timed out", slowFirst(1, 2*time.Second), verdictclient.Options{AttemptTimeout: 100 * time.Millisecond, Backoff: time.Millisecond}, 2, time.Second},
		{"a Retry-After beyond the cap waits the cap", failFirst(1, 503, "3600"), verdictclient.Options{MaxRetryAfter: 20 * time.Millisecond}, 2, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, devVerdict.url, tc.script)
			a := newAuthorizer(t, p.url, tc.opts)
			start := time.Now()
			got := through(t, a, checkFor("tasks:read", orgA), request(cookie(member)))
			elapsed := time.Since(start)
			if want := (outcome{200, "membership", true}); got != want {
				t.Errorf("outcome = %+v, want %+v", got, want)
			}
			if n, _, _ := p.seen(); n != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", n, tc.wantAttempts)
			}
			if elapsed > tc.within {
				t.Errorf("allowed after %v, want within %v", elapsed, tc.within)
			}
		})
	}
}

// TestMiddlewareRequestID: the incoming request's X-Request-Id reaches
// Verdict, which echoes it, so both logs name the same request.
func TestMiddlewareRequestID(t *testing.T) {
	t.Parallel()
	member := memberToken(t)
	for _, id := range []string{"req-7f3a9c", ""} {
		t.Run("id "+id, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, devVerdict.url, nil)
			r := request(cookie(member))
			if id != "" {
				r.Header.Set("X-Request-Id", id)
			}
			through(t, newAuthorizer(t, p.url, verdictclient.Options{}), checkFor("tasks:read", orgA), r)
			_, sent, echoed := p.seen()
			if got := sent.Get("X-Request-Id"); got != id {
				t.Errorf("X-Request-Id sent to Verdict = %q, want %q", got, id)
			}
			if len(echoed) != 1 || echoed[0] == "" || id != "" && echoed[0] != id {
				t.Errorf("X-Request-Id echoed by Verdict = %q, want [%q] (any id when none was sent)", echoed, id)
			}
		})
	}
}

// TestMiddlewareAPIKey asks a `verdict serve --api-keys-file`, which
// decides only for a listed caller's key; a refused key is not retried.
func TestMiddlewareAPIKey(t *testing.T) {
	t.Parallel()
	member := memberToken(t)
	tests := []struct {
		name       string
		key        string
		want       outcome
		wantHeader string // Authorization as Verdict received it
	}{
		{"the caller's key", testAPIKey, outcome{200, "membership", true}, "Bearer " + testAPIKey},
		{"no key", "", outcome{503, "authorization_unavailable", false}, ""},
		{"an unknown key", "not-the-key", outcome{503, "authorization_unavailable", false}, "Bearer not-the-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, keyedVerdict.url, nil)
			a := newAuthorizer(t, p.url, verdictclient.Options{APIKey: tc.key})
			// The session token rides in the user's Authorization header; it
			// must not be taken for the caller's key.
			got := through(t, a, checkFor("tasks:read", orgA), request(bearer(member)))
			if got != tc.want {
				t.Errorf("outcome = %+v, want %+v", got, tc.want)
			}
			n, sent, _ := p.seen()
			if n != 1 {
				t.Errorf("attempts = %d, want 1", n)
			}
			if h := sent.Get("Authorization"); h != tc.wantHeader {
				t.Errorf("Authorization sent to Verdict = %q, want %q", h, tc.wantHeader)
			}
		})
	}
}

// TestMiddlewareCheckFuncError: when the integrator's CheckFunc fails,
// Verdict is not asked and the request is refused.
func TestMiddlewareCheckFuncError(t *testing.T) {
	t.Parallel()
	p := newProxy(t, devVerdict.url, nil)
	failing := func(*http.Request) (verdictclient.CheckRequest, error) {
		return verdictclient.CheckRequest{}, errors.New("no such task")
	}
	got := through(t, newAuthorizer(t, p.url, verdictclient.Options{}), failing, request())
	if want := (outcome{403, "forbidden", false}); got != want {
		t.Errorf("outcome = %+v, want %+v", got, want)
	}
	if n, _, _ := p.seen(); n != 0 {
		t.Errorf("attempts = %d, want 0", n)
	}
}

func TestNewAuthorizerRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server string
		opts   verdictclient.Options
	}{
		{"no scheme", "verdict:8080", verdictclient.Options{}},
		{"not http", "ftp://verdict", verdictclient.Options{}},
		{"no host", "http://", verdictclient.Options{}},
		{"negative timeout", "http://verdict", verdictclient.Options{Timeout: -time.Second}},
		{"negative attempts", "http://verdict", verdictclient.Options{MaxAttempts: -1}},
	}
	for _, tc := range tests {
		if _, err := verdictclient.NewAuthorizer(tc.server, tc.opts); err == nil {
			t.Errorf("%s: NewAuthorizer(%q, %+v) = nil error, want one", tc.name, tc.server, tc.opts)
		}
	}
}
