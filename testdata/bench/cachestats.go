package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// decisionCacheMetric is the counter Verdict keeps of its exact-decision
// cache lookups, labelled result="hit" or "miss" (internal/metrics).
const decisionCacheMetric = "verdict_decision_cache_lookups_total"

// cacheLookups are decision-cache lookups counted so far, or over a pass
// once one sample is subtracted from another.
type cacheLookups struct {
	hits, misses float64
}

func (l cacheLookups) minus(before cacheLookups) cacheLookups {
	return cacheLookups{hits: l.hits - before.hits, misses: l.misses - before.misses}
}

// hitRatio is hits over lookups; ok is false when there were none (the
// cache is off, or the pass never reached Verdict).
func (l cacheLookups) hitRatio() (ratio float64, ok bool) {
	total := l.hits + l.misses
	if total <= 0 {
		return 0, false
	}
	return l.hits / total, true
}

// String is how the report shows a pass's lookups.
func (l cacheLookups) String() string {
	ratio, ok := l.hitRatio()
	if !ok {
		return "no lookups (cache off?)"
	}
	return fmt.Sprintf("%.1f%% hits (%.0f of %.0f lookups)", 100*ratio, l.hits, l.hits+l.misses)
}

// scrapeDecisionCache reads the decision-cache counters from Verdict's
// /metrics at addr.
func scrapeDecisionCache(ctx context.Context, addr string) (cacheLookups, error) {
	body, err := getMetrics(ctx, addr)
	if err != nil {
		return cacheLookups{}, err
	}
	defer body.Close()
	return parseDecisionCache(body)
}

// getMetrics fetches a server's /metrics in the text format; the caller
// closes the body.
func getMetrics(ctx context.Context, addr string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("metrics request: %w", err)
	}
	req.Header.Set("Accept", "text/plain")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("scrape metrics: HTTP %d", resp.StatusCode)
	}
	return resp.Body, nil
}

// parseDecisionCache reads the decision-cache counters from the text
// exposition format. A missing counter is an error: the report would
// otherwise claim a cache that was never measured.
func parseDecisionCache(r io.Reader) (cacheLookups, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return cacheLookups{}, fmt.Errorf("parse metrics: %w", err)
	}
	mf, ok := families[decisionCacheMetric]
	if !ok {
		return cacheLookups{}, fmt.Errorf("metrics have no %s", decisionCacheMetric)
	}
	var l cacheLookups
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() != "result" {
				continue
			}
			switch lp.GetValue() {
			case "hit":
				l.hits += m.GetCounter().GetValue()
			case "miss":
				l.misses += m.GetCounter().GetValue()
			}
		}
	}
	return l, nil
}

// variantCounters are the counters a variant's report names: what its
// decision log and shadow set did over the whole run.
var variantCounters = []string{
	"verdict_decision_log_entries_total", "verdict_decision_log_dropped_total",
	"verdict_shadow_decisions_total", "verdict_shadow_skipped_total",
}

// writeVariantCounters prints, for each Verdict variant, the counters of
// variantCounters it exposes (summed over their labels).
func writeVariantCounters(ctx context.Context, servers []*server, w io.Writer) error {
	for _, s := range servers {
		if !strings.HasPrefix(s.name, "verdict (") {
			continue
		}
		counts, err := scrapeCounters(ctx, s.addr, variantCounters)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		var parts []string
		for _, name := range variantCounters {
			if v, ok := counts[name]; ok {
				parts = append(parts, fmt.Sprintf("%s %.0f", name, v))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s: %s\n", s.name, strings.Join(parts, ", "))
		}
	}
	return nil
}

// scrapeCounters reads the named counters from a server's /metrics, each
// summed over its labels; a counter the server does not expose is absent.
func scrapeCounters(ctx context.Context, addr string, names []string) (map[string]float64, error) {
	body, err := getMetrics(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(body)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := map[string]float64{}
	for _, name := range names {
		mf, ok := families[name]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[name] += m.GetCounter().GetValue()
		}
	}
	return out, nil
}
