// Package metrics owns Verdict's Prometheus collectors on a private registry:
// the four series the contract pins (decisions, decision latency, token
// verifications, policy reloads) plus the Go and process collectors.
//
// Label values are bounded by construction: a reason label is one of the
// contract's codes or one of at most 32 further well-formed codes the
// policies produce, else "other"; no label ever carries a user,
// organization or token.
package metrics

import (
	"net/http"
	"regexp"
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
	reasons       reasonLabels
}

// New creates the collectors and registers them, with the Go and process
// collectors, on a fresh private registry.
//
// knownReasons are the reason codes that always get a label value of their
// own (the domain's, authz.KnownReasons, which main passes): any other is
// labelled only while the policies have produced few enough of them.
func New(knownReasons ...string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		gatherer: reg,
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
			Help: "Session tokens verified, by result (valid, expired, invalid).",
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
	}
	reg.MustRegister(
		m.decisions, m.duration, m.verifications, m.reloads, m.tokenCache, m.decisionCache, m.evalTimeouts,
		m.logWritten, m.logDropped, m.shadow, m.divergences, m.shadowSkipped,
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
	for _, r := range []string{"valid", "expired", "invalid"} {
		m.verifications.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"hit", "miss"} {
		m.tokenCache.WithLabelValues(r)
		m.decisionCache.WithLabelValues(r)
	}
	return m
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
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.reloads.WithLabelValues(result).Inc()
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
