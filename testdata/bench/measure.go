package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// The run times the same rounds twice. First every request names a
// resource never sent before, as real traffic does, so no exact decision
// is ever repeated; then, unless -repeat-corpus=false, the corpus is
// replayed as generated, the workload an exact decision cache answers
// nearly alone. Verdict's own counters say how often it did.

// Titles of the two timed passes, as the report prints them.
const (
	uniqueTitle = "unique resources (every request names a resource id never sent before)"
	repeatTitle = "repeat corpus (the corpus replayed round-robin with its own resource ids)"
)

// measure checks every answer, then runs the timed passes and prints the
// report. Verdict must answer everything right before it is timed.
func measure(ctx context.Context, opts options, c *corpus, servers []*server, stdout io.Writer) error {
	rep := report{rounds: opts.rounds}
	var err error
	if rep.memory, err = idleMemory(servers); err != nil {
		return err
	}
	var ids atomic.Uint64 // numbers the unique resources of the whole run
	unique, err := encodeAll(servers, func(s *server) (payloads, error) { return uniquePayloads(s, c.requests, &ids) })
	if err != nil {
		return err
	}
	if err := checkAnswers(ctx, c, servers, unique, stdout); err != nil {
		return err
	}
	p, err := timePass(ctx, opts, uniqueTitle, servers, unique, stdout)
	if err != nil {
		return err
	}
	rep.passes = append(rep.passes, p)
	if opts.repeatCorpus {
		repeat, err := encodeAll(servers, func(s *server) (payloads, error) { return repeatPayloads(s, c.requests) })
		if err != nil {
			return err
		}
		if p, err = timePass(ctx, opts, repeatTitle, servers, repeat, stdout); err != nil {
			return err
		}
		rep.passes = append(rep.passes, p)
	}
	if err := writeVariantCounters(ctx, servers, stdout); err != nil {
		return err
	}
	if err := afterMemory(servers, rep.memory); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	return rep.write(stdout)
}

// encodeAll serializes the corpus for every server.
func encodeAll(servers []*server, encode func(*server) (payloads, error)) ([]payloads, error) {
	out := make([]payloads, len(servers))
	for i, s := range servers {
		var err error
		if out[i], err = encode(s); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return out, nil
}

// idleMemory records each server's RSS before any request.
func idleMemory(servers []*server) ([]memory, error) {
	out := make([]memory, len(servers))
	for i, s := range servers {
		idle, err := rss(s.pid())
		if err != nil {
			return nil, err
		}
		out[i] = memory{server: s.name, idle: idle, startup: s.startup}
	}
	return out, nil
}

// afterMemory records each server's RSS after the last round.
func afterMemory(servers []*server, mem []memory) error {
	for i, s := range servers {
		after, err := rss(s.pid())
		if err != nil {
			return err
		}
		mem[i].after = after
	}
	return nil
}

// checkAnswers sends every request once to every server and prints the
// wrong answers; any wrong answer from Verdict is an error.
func checkAnswers(ctx context.Context, c *corpus, servers []*server, ps []payloads, stdout io.Writer) error {
	verdictWrong := 0
	for i, s := range servers {
		res, err := verifyAnswers(ctx, s, ps[i], c.requests, 8)
		if err != nil {
			return errors.Join(err, s.exited())
		}
		writeVerification(stdout, s.name, res, len(c.requests))
		if res.wrong > 0 {
			fmt.Fprintf(stdout, "  %s log (last lines): %s\n", s.name, tail(s.logPath))
		}
		if strings.HasPrefix(s.name, "verdict") {
			verdictWrong += res.wrong
		}
	}
	if verdictWrong > 0 {
		return fmt.Errorf("verdict answered %d of %d requests wrong; not timing it", verdictWrong, len(c.requests))
	}
	return nil
}

// timePass runs the timed rounds at every concurrency with one kind of
// payloads, and counts Verdict's decision-cache lookups around them.
func timePass(ctx context.Context, opts options, title string, servers []*server, ps []payloads, stdout io.Writer) (pass, error) {
	v, err := verdictServer(servers)
	if err != nil {
		return pass{}, err
	}
	fmt.Fprintf(stdout, "timing %s:\n", title)
	before, err := scrapeDecisionCache(ctx, v.addr)
	if err != nil {
		return pass{}, err
	}
	res := pass{title: title}
	for _, conc := range opts.concurrency {
		sums, err := timeRounds(ctx, opts, conc, servers, ps, stdout)
		if err != nil {
			return pass{}, err
		}
		res.summaries = append(res.summaries, sums...)
	}
	after, err := scrapeDecisionCache(ctx, v.addr)
	if err != nil {
		return pass{}, err
	}
	res.cache = after.minus(before)
	return res, nil
}

func verdictServer(servers []*server) (*server, error) {
	for _, s := range servers {
		if s.name == "verdict" {
			return s, nil
		}
	}
	return nil, errors.New("no verdict server")
}

// timeRounds alternates the servers round by round (A B A B ...) at one
// concurrency and returns each server's medians.
func timeRounds(ctx context.Context, opts options, conc int, servers []*server, ps []payloads, stdout io.Writer) ([]summary, error) {
	perServer := make([][]roundStats, len(servers))
	for round := range opts.rounds {
		for i, s := range servers {
			res, err := runRound(ctx, s, ps[i], conc, opts.duration)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("%s round %d at c=%d: %w", s.name, round+1, conc, err), s.exited())
			}
			st := statsOf(res)
			perServer[i] = append(perServer[i], st)
			fmt.Fprintf(stdout, "  c=%-3d round %d %-16s %8.0f req/s  p50 %-8s p99 %-8s CPU/req %s\n", conc, round+1, s.name,
				st.throughput, formatDuration(st.p50), formatDuration(st.p99), formatDuration(st.cpuPerReq))
		}
	}
	sums := make([]summary, len(servers))
	for i, s := range servers {
		sums[i] = summarize(s.name, conc, perServer[i])
	}
	return sums, nil
}
