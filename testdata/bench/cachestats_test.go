package main

import (
	"math"
	"strings"
	"testing"
)

// exposition is Verdict's decision-cache counter as /metrics writes it,
// among others.
func exposition(hits, misses string) string {
	return `# HELP verdict_token_cache_lookups_total Verified-token cache lookups, by result (hit, miss).
# TYPE verdict_token_cache_lookups_total counter
verdict_token_cache_lookups_total{result="hit"} 777
verdict_token_cache_lookups_total{result="miss"} 3
# HELP verdict_decision_cache_lookups_total Exact-decision cache lookups, by result (hit, miss).
# TYPE verdict_decision_cache_lookups_total counter
verdict_decision_cache_lookups_total{result="hit"} ` + hits + `
verdict_decision_cache_lookups_total{result="miss"} ` + misses + `
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 12
`
}

func TestParseDecisionCache(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    cacheLookups
		wantErr bool
	}{
		{"fresh server", exposition("0", "0"), cacheLookups{}, false},
		{"after load", exposition("1.234567e+06", "20000"), cacheLookups{hits: 1234567, misses: 20000}, false},
		{"counter missing", "# TYPE go_goroutines gauge\ngo_goroutines 12\n", cacheLookups{}, true},
		{"malformed", "verdict_decision_cache_lookups_total{result=\"hit\" 12\n", cacheLookups{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDecisionCache(strings.NewReader(tt.text))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseDecisionCache() = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHitRatio(t *testing.T) {
	tests := []struct {
		name          string
		before, after cacheLookups
		want          float64
		wantOK        bool
		wantText      string
	}{
		{"unique resources miss", cacheLookups{hits: 10, misses: 100}, cacheLookups{hits: 10, misses: 5100},
			0, true, "0.0% hits (0 of 5000 lookups)"},
		{"repeat corpus hits", cacheLookups{hits: 10, misses: 5100}, cacheLookups{hits: 99010, misses: 6100},
			0.99, true, "99.0% hits (99000 of 100000 lookups)"},
		{"one in three", cacheLookups{}, cacheLookups{hits: 1, misses: 2}, 1.0 / 3, true, "33.3% hits (1 of 3 lookups)"},
		{"cache off", cacheLookups{}, cacheLookups{}, 0, false, "no lookups (cache off?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.after.minus(tt.before)
			got, ok := d.hitRatio()
			if ok != tt.wantOK || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("hitRatio() = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
			if s := d.String(); s != tt.wantText {
				t.Errorf("String() = %q, want %q", s, tt.wantText)
			}
		})
	}
}
