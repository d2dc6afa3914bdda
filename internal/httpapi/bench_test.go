package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/devtoken"
	"github.com/verdict-pdp/verdict/internal/httpapi"
	"github.com/verdict-pdp/verdict/internal/metrics"
	"github.com/verdict-pdp/verdict/internal/policy"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// benchService is the real decision path: verifier, the Decider's session cache,
// the shipped policies, metrics, and the HTTP handler over them.
type benchService struct {
	decider *authz.Decider
	handler http.Handler
	token   string
	// issuer signs the tokens the service trusts; deps built handler, for
	// tests that need the same service with another logger or routes.
	issuer *devtoken.Issuer
	deps   httpapi.Deps
}

// newBenchService builds the service with the decision cache off: the
// figures are those of evaluating the policies every time.
func newBenchService(b testing.TB) *benchService {
	return newBenchServiceWith(b, authz.Options{})
}

func newBenchServiceWith(b testing.TB, opts authz.Options) *benchService {
	b.Helper()
	issuer, err := devtoken.NewIssuer()
	if err != nil {
		b.Fatal(err)
	}
	keys, err := authn.ParseJWKS(issuer.JWKS())
	if err != nil {
		b.Fatal(err)
	}
	engine, err := policy.Load(context.Background(), os.DirFS("../../policies"), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(metrics.BuildInfo{})
	verifier := authn.NewVerifier(authn.Config{Keys: keys, ClockSkew: 5 * time.Second})
	if opts.SessionCacheSize == 0 {
		opts.SessionCacheSize = 1000
	}
	decider := authz.NewDecider(verifier, engine, m, opts)
	token, err := issuer.Mint(devtoken.TokenRequest{
		UserID: "user_1", OrgID: "org_1", OrgRole: "org:member", OrgSlug: "acme",
		Permissions: []string{"org:posts:publish", "org:reports:export"}, Format: "v2",
	}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	deps := httpapi.Deps{
		Decider: decider, Ready: func() error { return nil }, Metrics: m.Handler(),
		Logger: slog.New(slog.DiscardHandler), Requests: m, // as serve wires it
	}
	return &benchService{decider: decider, handler: httpapi.New(deps), token: token, issuer: issuer, deps: deps}
}

var benchCheck = authz.Check{Action: "tasks:read", Resource: &authz.Resource{Type: "task", ID: "t1", OrgID: "org_1", OrgSlug: "acme"}}

// BenchmarkDecision is the whole in-process decision with a warm token
// cache: token → principal → evaluation → decision.
func BenchmarkDecision(b *testing.B) {
	s := newBenchService(b)
	ctx := context.Background()
	if _, err := s.decider.Check(ctx, s.token, benchCheck); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.decider.Check(ctx, s.token, benchCheck); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecisionCached is BenchmarkDecision with the exact-decision
// cache on: the same check again is answered without evaluation.
func BenchmarkDecisionCached(b *testing.B) {
	s := newBenchServiceWith(b, authz.Options{DecisionCacheSize: 1000})
	ctx := context.Background()
	if _, err := s.decider.Check(ctx, s.token, benchCheck); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.decider.Check(ctx, s.token, benchCheck); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHas is Clerk's has() for a session with a warm token cache,
// in process, the session having asked before.
func BenchmarkHas(b *testing.B) {
	s := newBenchService(b)
	ctx := context.Background()
	check := map[string]any{"permission": "org:posts:publish", "feature": "o:posts"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.decider.Has(ctx, s.token, check); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerHas is POST /v1/has through the router, in process.
func BenchmarkHandlerHas(b *testing.B) {
	s := newBenchService(b)
	body := fmt.Sprintf(`{"token":%q,"check":{"permission":"org:posts:publish","feature":"o:posts"}}`, s.token)
	serve(b, s.handler, "/v1/has", body)
	b.ReportAllocs()
	for b.Loop() {
		serve(b, s.handler, "/v1/has", body)
	}
}

// BenchmarkHandlerCheck is POST /v1/check through the router, in process.
func BenchmarkHandlerCheck(b *testing.B) {
	s := newBenchService(b)
	body := fmt.Sprintf(`{"token":%q,"action":"tasks:read","resource":{"type":"task","id":"t1","org_id":"org_1","org_slug":"acme"}}`, s.token)
	serve(b, s.handler, "/v1/check", body) // warm the cache
	b.ReportAllocs()
	for b.Loop() {
		serve(b, s.handler, "/v1/check", body)
	}
}

// BenchmarkHandlerBatch is POST /v1/check/batch with 1, 10 and 100 checks.
func BenchmarkHandlerBatch(b *testing.B) {
	s := newBenchService(b)
	for _, n := range []int{1, 10, 100} {
		checks := make([]string, n)
		for i := range checks {
			checks[i] = `{"action":"tasks:read","resource":{"org_id":"org_1","org_slug":"acme"}}`
		}
		body := fmt.Sprintf(`{"token":%q,"checks":[%s]}`, s.token, strings.Join(checks, ","))
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			serve(b, s.handler, "/v1/check/batch", body)
			b.ReportAllocs()
			for b.Loop() {
				serve(b, s.handler, "/v1/check/batch", body)
			}
		})
	}
}

func serve(b *testing.B, h http.Handler, path, body string) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		b.Fatalf("POST %s = %d %s", path, rec.Code, rec.Body)
	}
}

// BenchmarkHandlerCheckCached is BenchmarkHandlerCheck with the decision
// cache on: what is left is the HTTP, JSON and caching work around a
// decision.
func BenchmarkHandlerCheckCached(b *testing.B) {
	s := newBenchServiceWith(b, authz.Options{DecisionCacheSize: 1000})
	body := fmt.Sprintf(`{"token":%q,"action":"tasks:read","resource":{"type":"task","id":"t1","org_id":"org_1","org_slug":"acme"}}`, s.token)
	serve(b, s.handler, "/v1/check", body)
	b.ReportAllocs()
	for b.Loop() {
		serve(b, s.handler, "/v1/check", body)
	}
}

// serveJSON sends a request with a JSON body through h and records the
// answer.
func serveJSON(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkDecisionUniqueResources is the whole in-process decision when
// every check names a resource never seen before, as real traffic does,
// with the decision cache on (its default size) and off: a cache that
// never hits must cost next to nothing.
func BenchmarkDecisionUniqueResources(b *testing.B) {
	for _, c := range []struct {
		name string
		opts authz.Options
	}{
		{"cache-on", authz.Options{DecisionCacheSize: 50000}},
		{"cache-off", authz.Options{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			checkUniqueResources(b, newBenchServiceWith(b, c.opts))
		})
	}
}

// BenchmarkDecisionRevocations is BenchmarkDecisionUniqueResources with
// revocations checked: none kept, and 100,000 kept (none covering the
// token), against revocation off.
func BenchmarkDecisionRevocations(b *testing.B) {
	now := time.Now()
	full := revocation.NewLocal(0)
	for i := range 100_000 {
		r := revocation.Revocation{Kind: revocation.Session, Key: "sess_" + strconv.Itoa(i), At: now, Until: now.Add(time.Hour)}
		if i%2 == 1 {
			r.Kind, r.Key = revocation.Membership, revocation.MembershipKey("org_1", "user_"+strconv.Itoa(i+10))
		}
		if err := full.Revoke(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		opts authz.Options
	}{
		{"off", authz.Options{}},
		{"none-kept", authz.Options{Revocations: revocation.NewLocal(0)}},
		{"100k-kept", authz.Options{Revocations: full}},
	} {
		b.Run(c.name, func(b *testing.B) {
			checkUniqueResources(b, newBenchServiceWith(b, c.opts))
		})
	}
}

// checkUniqueResources is b's loop of decisions by s, each naming a
// resource never sent before, as real traffic does.
func checkUniqueResources(b *testing.B, s *benchService) {
	ctx := context.Background()
	check := benchCheck
	res := *benchCheck.Resource
	check.Resource = &res
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		res.ID = "t" + strconv.Itoa(i)
		if _, err := s.decider.Check(ctx, s.token, check); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowedActionsCost sets POST /v1/allowed-actions for the
// shipped catalog (18 actions) beside one POST /v1/check, both for a warm
// session and a resource never sent before, in process ("handler") and
// over a real loopback connection as a caller pays for it ("loopback").
// The goal: the catalog in at most 3 times one check.
func BenchmarkAllowedActionsCost(b *testing.B) {
	s := newBenchService(b)
	srv := httptest.NewServer(s.handler)
	b.Cleanup(srv.Close)
	bodies := map[string]func(i int) string{
		"check": func(i int) string {
			return fmt.Sprintf(`{"token":%q,"action":"tasks:read","resource":{"type":"task","id":"t%d","org_id":"org_1","org_slug":"acme"}}`, s.token, i)
		},
		"allowed-actions": func(i int) string {
			return fmt.Sprintf(`{"token":%q,"resource":{"type":"task","id":"t%d","org_id":"org_1","org_slug":"acme"}}`, s.token, i)
		},
	}
	for _, transport := range []string{"handler", "loopback"} {
		for _, route := range []string{"check", "allowed-actions"} {
			b.Run(transport+"/"+route, func(b *testing.B) {
				body, path := bodies[route], "/v1/"+route
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if transport == "handler" {
						serve(b, s.handler, path, body(i))
						continue
					}
					resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body(i)))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("POST %s = %d, %v", path, resp.StatusCode, err)
					}
					resp.Body.Close()
				}
			})
		}
	}
}
