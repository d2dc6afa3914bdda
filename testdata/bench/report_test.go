package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"median of five", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p99 of 4 is the max", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.samples, tt.p); got != tt.want {
			t.Errorf("%s: percentile(p%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestStatsAndSummary(t *testing.T) {
	lat := []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	r := roundResult{requests: 4, elapsed: 2 * time.Second, latencies: lat, serverCPU: 40 * time.Millisecond, selfCPU: 200 * time.Millisecond}
	s := statsOf(r)
	if s.throughput != 2 || s.cpuPerReq != 10*time.Millisecond || s.p50 != 2*time.Millisecond || s.max != 4*time.Millisecond {
		t.Errorf("statsOf() = %+v, want 2 req/s, 10ms CPU/req, p50 2ms, max 4ms", s)
	}
	if s.serverUtil != 0.02 || s.selfUtil != 0.1 {
		t.Errorf("statsOf() utilisation = %v/%v, want 0.02/0.1", s.serverUtil, s.selfUtil)
	}
	sum := summarize("verdict", 16, []roundStats{{throughput: 100, p99: 3}, {throughput: 300, p99: 1}, {throughput: 200, p99: 2}})
	if sum.throughput != 200 || sum.p99 != 2 {
		t.Errorf("summarize() = %v req/s, p99 %v; want the medians 200, 2", sum.throughput, sum.p99)
	}
}

func TestReportPasses(t *testing.T) {
	newPass := func(title string, verdictTput float64, cache cacheLookups) pass {
		return pass{title: title, cache: cache, summaries: []summary{
			{server: "verdict", concurrency: 16, roundStats: roundStats{throughput: verdictTput, p99: time.Millisecond}},
			{server: "opa (jwt cache)", concurrency: 16, roundStats: roundStats{throughput: 1000, p99: 5 * time.Millisecond}},
		}}
	}
	rep := report{rounds: 3, passes: []pass{
		newPass("unique", 2000, cacheLookups{misses: 500}),
		newPass("repeat", 3000, cacheLookups{hits: 990, misses: 10}),
	}, memory: []memory{{server: "verdict", idle: 20 << 20, after: 30 << 20, startup: 50 * time.Millisecond}}}
	var b strings.Builder
	if err := rep.write(&b); err != nil {
		t.Fatalf("write() error = %v", err)
	}
	// In the order the report must show them: the unique pass first.
	wants := []string{
		"unique:",
		"req/s (median of 3)",
		"ratio verdict/opa (jwt cache): throughput ×2.0 at c=16; p99 opa (jwt cache)/verdict ×5.0 at c=16",
		"verdict decision cache during these rounds: 0.0% hits (0 of 500 lookups)",
		"repeat:",
		"ratio verdict/opa (jwt cache): throughput ×3.0 at c=16",
		"verdict decision cache during these rounds: 99.0% hits (990 of 1000 lookups)",
		"RSS: verdict idle 20.0 MiB, after 30.0 MiB",
		"start-up to ready: verdict 50 ms",
	}
	out := b.String()
	for _, want := range wants {
		i := strings.Index(out, want)
		if i < 0 {
			t.Fatalf("report lacks %q after the lines before it:\n%s", want, b.String())
		}
		out = out[i+len(want):]
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Microsecond, "850µs"},
		{1234 * time.Microsecond, "1.23ms"},
		{45600 * time.Microsecond, "45.6ms"},
		{2500 * time.Millisecond, "2.50s"},
		{5 * time.Microsecond, "5.00µs"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestProcParsers(t *testing.T) {
	stat := []byte("4242 (verdict (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 9 0 1000 1000000 2000 18446744073709551615\n")
	if got, err := parseStatCPU(stat); err != nil || got != 1750*time.Millisecond {
		t.Errorf("parseStatCPU() = %v, %v; want 1.75s", got, err)
	}
	status := []byte("Name:\tverdict\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\nThreads:\t5\n")
	if got, err := parseVmRSS(status); err != nil || got != 2<<20 {
		t.Errorf("parseVmRSS() = %v, %v; want 2 MiB", got, err)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("parseVmRSS() without VmRSS: want an error")
	}
}
