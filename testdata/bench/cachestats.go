package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return cacheLookups{}, fmt.Errorf("metrics request: %w", err)
	}
	req.Header.Set("Accept", "text/plain")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return cacheLookups{}, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cacheLookups{}, fmt.Errorf("scrape metrics: HTTP %d", resp.StatusCode)
	}
	return parseDecisionCache(resp.Body)
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
