package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// percentile returns the exact nearest-rank percentile p (0 < p <= 100) of
// sorted samples: the smallest sample with at least p% of the samples at or
// below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// roundStats is what the table shows of one round.
type roundStats struct {
	throughput float64 // requests per second
	p50, p99   time.Duration
	max        time.Duration
	cpuPerReq  time.Duration // server CPU time per request
	serverUtil float64       // server CPU time / wall time
	selfUtil   float64       // load generator CPU time / wall time
	failures   int
}

func statsOf(r roundResult) roundStats {
	s := roundStats{failures: r.failures}
	if r.elapsed > 0 {
		s.throughput = float64(r.requests) / r.elapsed.Seconds()
		s.serverUtil = r.serverCPU.Seconds() / r.elapsed.Seconds()
		s.selfUtil = r.selfCPU.Seconds() / r.elapsed.Seconds()
	}
	if r.requests > 0 {
		s.p50 = percentile(r.latencies, 50)
		s.p99 = percentile(r.latencies, 99)
		s.max = r.latencies[len(r.latencies)-1]
		s.cpuPerReq = r.serverCPU / time.Duration(r.requests)
	}
	return s
}

// summary is the median over rounds of one server at one concurrency.
type summary struct {
	server      string
	concurrency int
	rounds      int
	roundStats
}

func summarize(server string, c int, rounds []roundStats) summary {
	pick := func(f func(roundStats) float64) float64 {
		xs := make([]float64, len(rounds))
		for i, r := range rounds {
			xs[i] = f(r)
		}
		return median(xs)
	}
	dur := func(f func(roundStats) time.Duration) time.Duration {
		return time.Duration(pick(func(r roundStats) float64 { return float64(f(r)) }))
	}
	s := summary{server: server, concurrency: c, rounds: len(rounds)}
	s.throughput = pick(func(r roundStats) float64 { return r.throughput })
	s.p50 = dur(func(r roundStats) time.Duration { return r.p50 })
	s.p99 = dur(func(r roundStats) time.Duration { return r.p99 })
	s.max = dur(func(r roundStats) time.Duration { return r.max })
	s.cpuPerReq = dur(func(r roundStats) time.Duration { return r.cpuPerReq })
	s.serverUtil = pick(func(r roundStats) float64 { return r.serverUtil })
	s.selfUtil = pick(func(r roundStats) float64 { return r.selfUtil })
	for _, r := range rounds {
		s.failures += r.failures
	}
	return s
}

// memory is a server's resident set size idle and after the load.
type memory struct {
	server      string
	idle, after int64
	startup     time.Duration
}

// pass is one timed pass: its summaries and Verdict's decision-cache
// lookups during it.
type pass struct {
	title     string
	summaries []summary
	cache     cacheLookups
}

// report is everything the final tables show.
type report struct {
	passes []pass
	memory []memory
	rounds int
}

// write prints each pass (table, ratios, Verdict's cache hits) in the
// order run, then memory and start-up times.
func (r report) write(w io.Writer) error {
	for _, p := range r.passes {
		if err := p.write(w, r.rounds); err != nil {
			return err
		}
	}
	var rss, startup []string
	for _, m := range r.memory {
		rss = append(rss, fmt.Sprintf("%s idle %.1f MiB, after %.1f MiB", m.server, mib(m.idle), mib(m.after)))
		startup = append(startup, fmt.Sprintf("%s %d ms", m.server, m.startup.Milliseconds()))
	}
	fmt.Fprintf(w, "RSS: %s\n", strings.Join(rss, "; "))
	_, err := fmt.Fprintf(w, "start-up to ready: %s\n", strings.Join(startup, ", "))
	return err
}

// write prints the pass's title, table, ratios and cache line.
func (p pass) write(w io.Writer, rounds int) error {
	fmt.Fprintf(w, "%s:\n", p.title)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "server\tc\treq/s (median of %d)\tp50\tp99\tmax\tCPU/req\tserver core\tloadgen core\terrors\n", rounds)
	for _, s := range p.summaries {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.0f%%\t%.0f%%\t%d\n", s.server, s.concurrency, s.throughput,
			formatDuration(s.p50), formatDuration(s.p99), formatDuration(s.max), formatDuration(s.cpuPerReq),
			100*s.serverUtil, 100*s.selfUtil, s.failures)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	for _, other := range p.others() {
		if line := p.ratioLine(other); line != "" {
			fmt.Fprintln(w, line)
		}
	}
	_, err := fmt.Fprintf(w, "verdict decision cache during these rounds: %s\n\n", p.cache)
	return err
}

// others lists the servers Verdict is compared with, in table order.
func (p pass) others() []string {
	var names []string
	for _, s := range p.summaries {
		if s.server != "verdict" && !slices.Contains(names, s.server) {
			names = append(names, s.server)
		}
	}
	return names
}

// ratioLine compares Verdict with other at every concurrency both ran.
func (p pass) ratioLine(other string) string {
	var tput, p99 []string
	for _, v := range p.summaries {
		if v.server != "verdict" {
			continue
		}
		o, ok := p.find(other, v.concurrency)
		if !ok || o.throughput == 0 || v.p99 == 0 {
			continue
		}
		tput = append(tput, fmt.Sprintf("×%.1f at c=%d", v.throughput/o.throughput, v.concurrency))
		p99 = append(p99, fmt.Sprintf("×%.1f at c=%d", float64(o.p99)/float64(v.p99), v.concurrency))
	}
	if len(tput) == 0 {
		return ""
	}
	return fmt.Sprintf("ratio verdict/%s: throughput %s; p99 %s/verdict %s",
		other, strings.Join(tput, ", "), other, strings.Join(p99, ", "))
}

func (p pass) find(server string, c int) (summary, bool) {
	for _, s := range p.summaries {
		if s.server == server && s.concurrency == c {
			return s, true
		}
	}
	return summary{}, false
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// formatDuration prints three significant digits in µs, ms or s.
func formatDuration(d time.Duration) string {
	switch us := float64(d) / float64(time.Microsecond); {
	case us < 1000:
		return trimDigits(us) + "µs"
	case us < 1e6:
		return trimDigits(us/1e3) + "ms"
	default:
		return trimDigits(us/1e6) + "s"
	}
}

func trimDigits(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// formatCounts prints counts as "key n" pairs, largest first.
func formatCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
