// Package metrics owns Verdict's Prometheus collectors on a private registry:
// the four series the contract pins (decisions, decision latency, token
// verifications, policy reloads), what an operator watches beside them
// (requests by caller, route and status with their latency, caches, JWKS
// refreshes, the serving revision, the decision log, the shadow, bundles,
// the build) and the Go and process collectors.
//
// Label values are bounded by construction: a reason label is one of the
// contract's codes or one of at most 32 further well-formed codes the
// policies produce, else "other"; no label ever carries a user,
// organization or token.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records Verdict's operational series. Its methods are safe for
// concurrent use.
type Metrics struct {
	gatherer      prometheus.Gatherer
	decisions     *prometheus.CounterVec
	duration      prometheus.Histogram
	verifications *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	tokenCache    *prometheus.CounterVec
	decisionCache *prometheus.CounterVec
	evalTimeouts  prometheus.Counter
	logWritten    prometheus.Counter
	logDropped    prometheus.Counter
	shadow        *prometheus.CounterVec
	divergences   *prometheus.CounterVec
	shadowSkipped prometheus.Counter
	// The HTTP surface, whole requests: by caller, route and status, and
	// their latency, token verification included.
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	jwksRefreshes   *prometheus.CounterVec
	jwksLastSuccess prometheus.Gauge
	revision        *prometheus.GaugeVec
	lastReload      prometheus.Gauge
	bundleRequests  *prometheus.CounterVec
	apiKeysReloads  *prometheus.CounterVec
	revocations     *prometheus.CounterVec
	revocationErrs  prometheus.Counter
	reasons         reasonLabels
	now             func() time.Time
}

// BuildInfo is what verdict_build_info labels.
type BuildInfo struct {
	Version, Commit, GoVersion, OPAVersion string
}

// New creates the collectors and registers them, with the Go and process
// collectors, on a fresh private registry.
//
// knownReasons are the reason codes that always get a label value of their
// own (the domain's, authz.KnownReasons, which main passes): any other is
// labelled only while the policies have produced few enough of them.
func New(build BuildInfo, knownReasons ...string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		gatherer: reg,
		now:      time.Now,
		reasons:  newReasonLabels(knownReasons),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_decisions_total",
			Help: "Decisions answered, by outcome and reason code.",
		}, []string{"decision", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "verdict_decision_duration_seconds",
			Help: "Time to decide one check, from verified session to decision.",
			// Decisions take microseconds; the default buckets start at 5 ms.
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1},
		}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_token_verifications_total",
			Help: "Session tokens verified, by result (valid, expired, invalid; revoked: valid, but a revocation from a Clerk webhook covers it).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_policy_reloads_total",
			Help: "Policy reload attempts after a change, by result (success, failure).",
		}, []string{"result"}),
		tokenCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_token_cache_lookups_total",
			Help: "Verified-token cache lookups, by result (hit, miss).",
		}, []string{"result"}),
		decisionCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_decision_cache_lookups_total",
			Help: "Exact-decision cache lookups, by result (hit, miss).",
		}, []string{"result"}),
		evalTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verdict_policy_evaluation_timeouts_total",
			Help: "Policy evaluations stopped at the evaluation deadline (answered 500, never an allow).",
		}),
		logWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verdict_decision_log_entries_total",
			Help: "Decisions written to the decision log.",
		}),
		logDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verdict_decision_log_dropped_total",
			Help: "Decisions not written to the decision log: its buffer was full, or the write failed.",
		}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_shadow_decisions_total",
			Help: "Decisions the shadow policy set evaluated, by result (same, different answer).",
		}, []string{"result"}),
		divergences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_shadow_divergences_total",
			Help: "Decisions the shadow policy set answered differently, by the serving reason and the shadow's.",
		}, []string{"from_reason", "to_reason"}),
		shadowSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verdict_shadow_skipped_total",
			Help: "Decisions the shadow policy set did not evaluate: its queue was full, or it has not compiled yet.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_requests_total",
			Help: "HTTP requests answered, by caller (the API key's name; empty when keys are off or none matched), route pattern and status code.",
		}, []string{"caller", "route", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "verdict_request_duration_seconds",
			Help:    "Time to answer an HTTP request, from its first byte read to its answer written: decoding, token verification and the decision included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		jwksRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_jwks_refreshes_total",
			Help: "Fetches of a remote JWKS, by result (success, failure; a failure keeps the cached keys).",
		}, []string{"result"}),
		jwksLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verdict_jwks_last_success_timestamp_seconds",
			Help: "When a remote JWKS was last fetched successfully (Unix time; 0 before the first, or with keys from a file).",
		}),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "verdict_policy_revision_info",
			Help: "The policy revision serving (1), by its name.",
		}, []string{"revision"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "verdict_policy_last_reload_success_timestamp_seconds",
			Help: "When the serving policy set was loaded (Unix time).",
		}),
		bundleRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_bundle_requests_total",
			Help: "Policy bundle polls, by result (activated, not_modified, refused, error).",
		}, []string{"result"}),
		apiKeysReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_api_keys_reloads_total",
			Help: "Changes to the API keys file, by result (success; failure keeps the keys in force).",
		}, []string{"result"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verdict_revocations_total",
			Help: "Clerk webhook events taken, by event type (ignored: a type that revokes nothing).",
		}, []string{"event"}),
		revocationErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "verdict_revocation_store_errors_total",
			Help: "Failures of the shared revocation store (Redis unreachable, a message unreadable); the replica keeps serving with what it knows.",
		}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "verdict_build_info",
		Help: "The running build (1), by version, commit, Go and OPA versions.",
	}, []string{"version", "commit", "go_version", "opa_version"})
	buildInfo.WithLabelValues(build.Version, build.Commit, build.GoVersion, build.OPAVersion).Set(1)
	reg.MustRegister(
		m.decisions, m.duration, m.verifications, m.reloads, m.tokenCache, m.decisionCache, m.evalTimeouts,
		m.logWritten, m.logDropped, m.shadow, m.divergences, m.shadowSkipped,
		m.requests, m.requestDuration, m.jwksRefreshes, m.jwksLastSuccess, m.revision, m.lastReload,
		m.bundleRequests, m.apiKeysReloads, m.revocations, m.revocationErrs, buildInfo,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			// How long ready goroutines wait for a CPU, and how long the
			// collector stops the world: where a latency tail comes from
			// when the service runs short of CPU.
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`)},
		)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Pre-create the fixed series so dashboards and alerts see zeros rather
	// than missing data before the first event.
	for _, r := range []string{"valid", "expired", "invalid", "revoked"} {
		m.verifications.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
		m.jwksRefreshes.WithLabelValues(r)
	}
	for _, r := range []string{"hit", "miss"} {
		m.tokenCache.WithLabelValues(r)
		m.decisionCache.WithLabelValues(r)
	}
	return m
}

// ObserveRequest counts one HTTP request answered: caller is the API key's
// name (bounded by the keys file), route the pattern it matched ("" for
// none), status what was written.
func (m *Metrics) ObserveRequest(caller, route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(caller, route, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route).Observe(elapsed.Seconds())
}

// ObserveJWKSRefresh counts one fetch of a remote JWKS.
func (m *Metrics) ObserveJWKSRefresh(err error) {
	if err != nil {
		m.jwksRefreshes.WithLabelValues("failure").Inc()
		return
	}
	m.jwksRefreshes.WithLabelValues("success").Inc()
	m.jwksLastSuccess.Set(float64(m.now().UnixNano()) / 1e9)
}

// ObservePolicyRevision records the revision now serving and when it
// started to.
func (m *Metrics) ObservePolicyRevision(revision string) {
	m.revision.Reset()
	m.revision.WithLabelValues(revision).Set(1)
	m.lastReload.Set(float64(m.now().UnixNano()) / 1e9)
}

// InitBundleRequests creates the bundle poll series at zero, for a service
// that takes its policies from a bundle: a rate over them then sees the
// first of each.
func (m *Metrics) InitBundleRequests(results ...string) {
	for _, r := range results {
		m.bundleRequests.WithLabelValues(r)
	}
}

// ObserveBundleRequest counts one bundle poll by its result.
func (m *Metrics) ObserveBundleRequest(result string) {
	m.bundleRequests.WithLabelValues(result).Inc()
}

// InitRevocations creates the revocation series at zero, one per event
// type, for a service that takes Clerk's webhooks.
func (m *Metrics) InitRevocations(eventTypes ...string) {
	for _, e := range eventTypes {
		m.revocations.WithLabelValues(e)
	}
}

// ObserveRevocation counts one webhook event taken (eventType is one of
// the types InitRevocations created).
func (m *Metrics) ObserveRevocation(eventType string) { m.revocations.WithLabelValues(eventType).Inc() }

// ObserveRevocationStoreError counts one failure of the shared
// revocation store.
func (m *Metrics) ObserveRevocationStoreError(error) { m.revocationErrs.Inc() }

// ObserveAPIKeysReload counts one change to the API keys file.
func (m *Metrics) ObserveAPIKeysReload(err error) {
	m.apiKeysReloads.WithLabelValues(successOrFailure(err)).Inc()
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Gatherer exposes the private registry, for tests and embedding.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.gatherer }

// ObserveDecision counts one decision and its latency.
func (m *Metrics) ObserveDecision(allow bool, reason string, elapsed time.Duration) {
	decision := "deny"
	if allow {
		decision = "allow"
	}
	m.decisions.WithLabelValues(decision, m.reasons.label(reason)).Inc()
	m.duration.Observe(elapsed.Seconds())
}

// ObserveTokenVerification counts one verified token by result.
func (m *Metrics) ObserveTokenVerification(result string) {
	m.verifications.WithLabelValues(result).Inc()
}

// ObservePolicyReload counts one reload attempt; err is nil on success.
func (m *Metrics) ObservePolicyReload(err error) {
	m.reloads.WithLabelValues(successOrFailure(err)).Inc()
}

func successOrFailure(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// ObserveEvaluationTimeout counts one evaluation stopped at its deadline.
func (m *Metrics) ObserveEvaluationTimeout() { m.evalTimeouts.Inc() }

// ObserveShadow counts a decision the shadow set evaluated, and a
// difference by its reasons (bounded as the decisions' reason label is).
func (m *Metrics) ObserveShadow(same bool, from, to string) {
	if same {
		m.shadow.WithLabelValues("same").Inc()
		return
	}
	m.shadow.WithLabelValues("different").Inc()
	m.divergences.WithLabelValues(m.reasons.label(from), m.reasons.label(to)).Inc()
}

// ObserveShadowSkipped counts a decision the shadow set did not evaluate.
func (m *Metrics) ObserveShadowSkipped() { m.shadowSkipped.Inc() }

// ObserveDecisionLogWritten counts a decision written to the decision log.
func (m *Metrics) ObserveDecisionLogWritten() { m.logWritten.Inc() }

// ObserveDecisionLogDropped counts a decision the decision log dropped.
func (m *Metrics) ObserveDecisionLogDropped() { m.logDropped.Inc() }

// ObserveTokenCacheLookup counts one verified-token cache lookup.
func (m *Metrics) ObserveTokenCacheLookup(hit bool) {
	m.tokenCache.WithLabelValues(hitOrMiss(hit)).Inc()
}

// ObserveDecisionCacheLookup counts one exact-decision cache lookup.
func (m *Metrics) ObserveDecisionCacheLookup(hit bool) {
	m.decisionCache.WithLabelValues(hitOrMiss(hit)).Inc()
}

func hitOrMiss(hit bool) string {
	if hit {
		return "hit"
	}
	return "miss"
}

// maxReasonLen bounds a reason label. Reason codes are short snake_case
// words; anything else (a policy echoing input into its reason, say) is
// folded to "other".
const maxReasonLen = 40

// maxCustomReasons bounds how many codes beyond the contract's a policy
// set may add to the reason label before further ones count as "other".
const maxCustomReasons = 32

// reasonLabels keeps the reason label bounded: the contract's codes, plus
// the first maxCustomReasons well-formed codes the policies produce; any
// other value is "other", so no policy can mint a label per user or request.
type reasonLabels struct {
	known  map[string]bool // Verdict's own codes: always their own label
	mu     sync.Mutex
	custom map[string]bool
}

func newReasonLabels(knownReasons []string) reasonLabels {
	known := map[string]bool{}
	for _, r := range knownReasons {
		known[r] = true
	}
	return reasonLabels{known: known, custom: map[string]bool{}}
}

func (l *reasonLabels) label(reason string) string {
	if l.known[reason] {
		return reason
	}
	if !wellFormedReason(reason) {
		return "other"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.custom[reason] {
		return reason
	}
	if len(l.custom) < maxCustomReasons {
		l.custom[reason] = true
		return reason
	}
	return "other"
}

func wellFormedReason(reason string) bool {
	if reason == "" || len(reason) > maxReasonLen {
		return false
	}
	for _, c := range reason {
		if (c < 'a' || c > 'z') && c != '_' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
