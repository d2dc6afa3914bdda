// Package httpapi is Verdict's HTTP surface: the routes of the wire
// contract, strict request decoding, the JSON error envelope and the single
// place where errors become statuses. It decides nothing itself; decisions
// come from an authz.Decider.
package httpapi

import (
	"cmp"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// Limits bound what one request may ask.
type Limits struct {
	MaxBodyBytes int64 // request body limit; larger bodies get 413
	MaxBatch     int   // most checks in one /v1/check/batch request
	// MaxInflightBytes bounds the bodies the decision routes decode and
	// evaluate at once, each counted at its size (at least 4 KiB); bodies
	// still arriving may hold readingFactor times it. A request beyond
	// either gets 503 with Retry-After. Decoding and evaluating a body costs
	// about a hundred times its size (testdata/memattack/run.sh: one 1 MiB
	// body of numbers peaks near 100 MB), so the default admits one body of
	// the largest size, or some 250 small ones, at a time.
	MaxInflightBytes int64
}

// DefaultLimits are the contract's defaults.
var DefaultLimits = Limits{MaxBodyBytes: 1 << 20, MaxBatch: 100, MaxInflightBytes: 1 << 20}

// Route is an extra endpoint mounted beside the API, such as the dev-mode
// token minter.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Deps are what the API needs. Decider, Ready, Metrics and Logger are required.
type Deps struct {
	Decider *authz.Decider
	// Ready reports whether the service can decide: nil when it can, else
	// the reason it cannot (shown on /readyz).
	Ready   func() error
	Metrics http.Handler
	Logger  *slog.Logger
	Limits  Limits
	Extra   []Route
	// Explain lets a check ask for an explanation ("explain": true); when
	// false such a check is refused with explain_disabled.
	Explain bool
	// Callers, when set, admits to the decision routes only requests
	// that carry a listed caller's API key; /healthz, /readyz, /metrics
	// and the Extra routes stay open.
	Callers Callers
	// RequireClientCert admits to the decision routes only connections
	// that presented a verified client certificate (mutual TLS).
	RequireClientCert bool
	// Requests, when set, counts every request answered.
	Requests RequestRecorder
	// PoliciesServing, when set, reports whether a policy set serves: the
	// decision routes answer 503 until one does (a bundle source may
	// start without one).
	PoliciesServing func() bool
	// PublicURL is the URL callers reach the service at
	// ("https://pdp.example.com"), which the AuthZEN metadata document
	// names; empty, each request's scheme and Host make it.
	PublicURL string
	// Webhooks, when set, takes Clerk's webhooks at /v1/webhooks/clerk
	// (signed, so no caller key is asked of them); the path is 404 without.
	Webhooks Webhooks
}

type server struct {
	decider *authz.Decider
	ready   func() error
	logger  *slog.Logger
	limits  Limits
	explain bool
}

// New returns the API handler.
func New(d Deps) http.Handler {
	// A zero field takes its default.
	d.Limits.MaxBodyBytes = cmp.Or(d.Limits.MaxBodyBytes, DefaultLimits.MaxBodyBytes)
	d.Limits.MaxBatch = cmp.Or(d.Limits.MaxBatch, DefaultLimits.MaxBatch)
	d.Limits.MaxInflightBytes = cmp.Or(d.Limits.MaxInflightBytes, DefaultLimits.MaxInflightBytes)
	s := &server{decider: d.Decider, ready: d.Ready, logger: d.Logger, limits: d.Limits, explain: d.Explain}

	r := chi.NewRouter()
	// noStoreNoSniff goes first so that every answer carries its headers:
	// 404s, 405s, the recoverer's 500s, /metrics and the Extra routes too.
	// observe is outside the recoverer, so that a panic's 500 is counted.
	r.Use(noStoreNoSniff, observe(d.Logger, d.Requests), recoverer(d.Logger))
	r.NotFound(s.handleNotFound())
	r.MethodNotAllowed(s.handleMethodNotAllowed())

	// The decision routes are admitted by body weight; health, readiness
	// and metrics never are, so that probes keep answering under load.
	admit := newAdmission(d.Limits.MaxInflightBytes, d.Limits.MaxBodyBytes)
	r.Group(func(r chi.Router) {
		// Before admission: a request from nobody is refused unread.
		if d.RequireClientCert {
			r.Use(requireClientCert(s))
		}
		if d.Callers != nil {
			r.Use(requireCaller(s, d.Callers))
		}
		if d.PoliciesServing != nil {
			r.Use(requirePolicies(s, d.PoliciesServing))
		}
		r.Use(admit.middleware(s))
		for _, route := range s.decisionRoutes() {
			r.Method(http.MethodPost, route.path, route.handler)
		}
		r.Method(http.MethodPost, pathSearchSubject, s.handleSearchUnsupported("subject"))
		r.Method(http.MethodPost, pathSearchResource, s.handleSearchUnsupported("resource"))
	})
	for _, path := range authzenConfigPaths(d.PublicURL) {
		r.Method(http.MethodGet, path, s.handleAuthZENConfiguration(d.PublicURL))
	}
	if d.Webhooks != nil {
		hooks := newAdmission(maxWebhookInflightBytes, maxWebhookBodyBytes)
		r.With(hooks.middleware(s)).Method(http.MethodPost, "/v1/webhooks/clerk", s.handleClerkWebhook(d.Webhooks))
	}
	r.Method(http.MethodGet, "/healthz", s.handleHealthz())
	r.Method(http.MethodGet, "/readyz", s.handleReadyz())
	r.Method(http.MethodGet, "/metrics", d.Metrics)
	for _, e := range d.Extra {
		r.Method(e.Method, e.Path, e.Handler)
	}
	return r
}

type decisionRoute struct {
	path    string
	handler http.Handler
}

// decisionRoutes are the routes that answer for a token (each a POST):
// the routes callers wait on, which the latency SLO and the 5xx alerts
// watch (DecisionPaths).
func (s *server) decisionRoutes() []decisionRoute {
	return []decisionRoute{
		{"/v1/check", s.handleCheck()},
		{"/v1/check/batch", s.handleBatch()},
		{"/v1/authenticate", s.handleAuthenticate()},
		{"/v1/has", s.handleHas()},
		{"/v1/allowed-actions", s.handleAllowedActions()},
		{pathEvaluation, s.handleEvaluation()},
		{pathEvaluations, s.handleEvaluations()},
		{pathSearchAction, s.handleActionSearch()},
	}
}

// DecisionPaths are the paths of the routes that answer for a token, as
// the request metrics' route label names them: what dashboards and alerts
// call the decision routes.
func DecisionPaths() []string {
	var s server
	var paths []string
	for _, r := range s.decisionRoutes() {
		paths = append(paths, r.path)
	}
	return paths
}

// noStoreNoSniff marks every response as neither to be stored nor sniffed.
// Answers carry principals, decisions and, in dev mode, minted tokens: no
// shared cache or proxy may keep them, and no browser may read a JSON body
// as HTML. /metrics gets the same headers: scrapers ignore them, and a
// stored copy of live figures is only ever stale.
func noStoreNoSniff(next http.Handler) http.Handler {
	// The values are set as slices made once (the keys are canonical):
	// Header.Set makes a slice per call, on every response. net/http only
	// reads them, and an Add would append to a copy (the capacity is 1).
	noStore, noSniff := []string{"no-store"}, []string{"nosniff"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = noStore
		h["X-Content-Type-Options"] = noSniff
		next.ServeHTTP(w, r)
	})
}

// endpoint adapts a handler that returns an error to http.Handler, rendering
// the error through writeError.
func (s *server) endpoint(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, s.logger, err)
		}
	})
}
