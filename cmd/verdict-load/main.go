// Command verdict-load measures Verdict against the alternative its users
// would pick: a plain OPA server running the same rules in Rego, verifying
// the token with io.jwt.decode_verify (testdata/bench/opa).
//
// It generates a corpus (an RSA-2048 key, its JWKS, Clerk v1 and v2 session
// tokens for many users and a mix of /v1/check requests, each with the
// decision the contract requires, derived from how the request was built),
// starts both servers pinned to core 0, checks every answer of both, then
// alternates timed rounds between them from core 1 and prints throughput,
// exact latency percentiles, server CPU per request, memory and start-up
// time. It exits non-zero if Verdict answered anything wrong.
//
// Usage (make load builds both binaries first):
//
//	go run ./cmd/verdict-load -verdict bin/verdict -opa bin/opa [-rounds 3 -duration 10s -concurrency 16,64]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "verdict-load:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	verdictBin  string
	opaBin      string
	policies    string
	benchRego   string
	rounds      int
	duration    time.Duration
	concurrency []int
	requests    int
	users       int
	opaDefaults bool
	quick       bool
	verdictArgs []string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("verdict-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.verdictBin, "verdict", "bin/verdict", "Verdict binary")
	fs.StringVar(&o.opaBin, "opa", "bin/opa", "OPA binary")
	fs.StringVar(&o.policies, "policies", "policies", "Verdict's policy directory (its data.json is given to OPA too)")
	fs.StringVar(&o.benchRego, "bench-rego", "testdata/bench/opa", "the same rules in Rego for a plain OPA server")
	fs.IntVar(&o.rounds, "rounds", 3, "timed rounds per server and concurrency")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one round")
	conc := fs.String("concurrency", "16,64", "comma-separated numbers of concurrent connections")
	fs.IntVar(&o.requests, "requests", 20000, "requests in the corpus")
	fs.IntVar(&o.users, "users", 2000, "users (one session token each) in the corpus")
	fs.Func("verdict-args", "extra flags for verdict serve, space-separated (e.g. --decision-cache-size=0)", func(v string) error {
		o.verdictArgs = strings.Fields(v)
		return nil
	})
	fs.BoolVar(&o.opaDefaults, "opa-defaults", false, "also measure OPA with its default configuration (no JWT cache)")
	fs.BoolVar(&o.quick, "quick", false, "a smoke run: 1 round of 1s, 500 requests, 100 users")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.concurrency, err = parseInts(*conc); err != nil {
		return o, fmt.Errorf("-concurrency: %w", err)
	}
	if o.quick {
		o.rounds, o.duration, o.requests, o.users = 1, time.Second, 500, 100
	}
	switch {
	case o.rounds < 1, o.duration <= 0:
		return o, errors.New("-rounds and -duration must be positive")
	case o.users < 2 || o.requests < 1:
		return o, errors.New("-users must be at least 2 and -requests at least 1")
	}
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// run is the whole program; args include the program name.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	opts, err := parseOptions(args[1:], stdout)
	if err != nil {
		return err
	}
	serverCore, restore, err := pin(ctx, stdout)
	if err != nil {
		return err
	}
	defer restore()

	dir, err := os.MkdirTemp("", "verdict-load-")
	if err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	defer os.RemoveAll(dir)

	c, err := generate(opts, stdout)
	if err != nil {
		return err
	}
	servers, err := startAll(ctx, opts, c, dir, serverCore, stdout)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if err != nil {
		return err
	}
	return measure(ctx, opts, c, servers, stdout)
}

// pin puts this process on core 1 and returns the core for the servers
// (-1 on a single-core machine, where nothing is pinned) and a function
// that restores this process's affinity.
func pin(ctx context.Context, stdout io.Writer) (int, func(), error) {
	if runtime.NumCPU() < 2 {
		fmt.Fprintln(stdout, "warning: one CPU: servers and load generator share it, nothing is pinned")
		return -1, func() {}, nil
	}
	before, err := pinSelf(ctx, 1)
	if err != nil {
		return 0, nil, err
	}
	procs := runtime.GOMAXPROCS(1)
	fmt.Fprintln(stdout, "pinning: servers on core 0 (taskset -c 0), load generator on core 1")
	return 0, func() {
		runtime.GOMAXPROCS(procs)
		_ = setAffinity(context.Background(), before)
	}, nil
}

// generate mints the tokens and draws the requests.
func generate(opts options, stdout io.Writer) (*corpus, error) {
	r, err := loadRules(opts.policies + "/data.json")
	if err != nil {
		return nil, err
	}
	iss, err := devtoken.NewIssuer()
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	forger, err := devtoken.NewIssuer()
	if err != nil {
		return nil, fmt.Errorf("forging issuer: %w", err)
	}
	begin := time.Now()
	c, err := buildCorpus(corpusOptions{users: opts.users, requests: opts.requests, seed: 1, now: time.Now()}, r, iss, forger)
	if err != nil {
		return nil, err
	}
	writeCorpusSummary(stdout, c, r, time.Since(begin))
	return c, nil
}

// startAll writes the key files and starts Verdict, OPA with its JWT cache
// and, when asked, OPA with its defaults. The servers started so far are
// returned even on error, for the caller to stop.
func startAll(ctx context.Context, opts options, c *corpus, dir string, core int, stdout io.Writer) ([]*server, error) {
	jwksPath, keyData, err := c.writeKeys(dir)
	if err != nil {
		return nil, err
	}
	configPath, err := writeOPAConfig(dir)
	if err != nil {
		return nil, err
	}
	policyData := opts.policies + "/data.json"
	specs := []serverSpec{
		verdictSpec(opts.verdictBin, jwksPath, opts.policies, opts.verdictArgs),
		opaSpec("opa (jwt cache)", opts.opaBin, configPath, opts.benchRego, policyData, keyData),
	}
	if opts.opaDefaults {
		specs = append(specs, opaSpec("opa (defaults)", opts.opaBin, "", opts.benchRego, policyData, keyData))
	}
	var servers []*server
	for _, spec := range specs {
		s, err := startServer(ctx, spec, core, dir)
		if err != nil {
			return servers, err
		}
		fmt.Fprintf(stdout, "started %s on %s (pid %d) in %d ms\n", s.name, s.addr, s.pid(), s.startup.Milliseconds())
		servers = append(servers, s)
	}
	return servers, nil
}

// measure checks every answer, then runs the timed rounds and prints the
// report. Verdict must answer everything right before it is timed.
func measure(ctx context.Context, opts options, c *corpus, servers []*server, stdout io.Writer) error {
	rep := report{rounds: opts.rounds}
	wire := make([][][]byte, len(servers))
	for i, s := range servers {
		idle, err := rss(s.pid())
		if err != nil {
			return err
		}
		rep.memory = append(rep.memory, memory{server: s.name, idle: idle, startup: s.startup})
		if wire[i], err = encodeRequests(s, c.requests); err != nil {
			return err
		}
	}
	if err := checkAnswers(ctx, c, servers, wire, stdout); err != nil {
		return err
	}
	for _, conc := range opts.concurrency {
		sums, err := timeRounds(ctx, opts, conc, servers, wire, stdout)
		if err != nil {
			return err
		}
		rep.summaries = append(rep.summaries, sums...)
	}
	for i, s := range servers {
		after, err := rss(s.pid())
		if err != nil {
			return err
		}
		rep.memory[i].after = after
	}
	fmt.Fprintln(stdout)
	return rep.write(stdout)
}

// checkAnswers sends every request once to every server and prints the
// wrong answers; any wrong answer from Verdict is an error.
func checkAnswers(ctx context.Context, c *corpus, servers []*server, wire [][][]byte, stdout io.Writer) error {
	verdictWrong := 0
	for i, s := range servers {
		res, err := verifyAnswers(ctx, s, wire[i], c.requests, 8)
		if err != nil {
			return errors.Join(err, s.exited())
		}
		writeVerification(stdout, s.name, res, len(c.requests))
		if res.wrong > 0 {
			fmt.Fprintf(stdout, "  %s log (last lines): %s\n", s.name, tail(s.logPath))
		}
		if s.name == "verdict" {
			verdictWrong = res.wrong
		}
	}
	if verdictWrong > 0 {
		return fmt.Errorf("verdict answered %d of %d requests wrong; not timing it", verdictWrong, len(c.requests))
	}
	return nil
}

// timeRounds alternates the servers round by round (A B A B ...) at one
// concurrency and returns each server's medians.
func timeRounds(ctx context.Context, opts options, conc int, servers []*server, wire [][][]byte, stdout io.Writer) ([]summary, error) {
	perServer := make([][]roundStats, len(servers))
	for round := range opts.rounds {
		for i, s := range servers {
			res, err := runRound(ctx, s, wire[i], conc, opts.duration)
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

// writeCorpusSummary prints what the corpus holds.
func writeCorpusSummary(w io.Writer, c *corpus, r *rules, took time.Duration) {
	fmt.Fprintf(w, "corpus: %d users (tokens: %d valid, %d forged signature, %d expired), %d requests, minted in %v\n",
		len(c.users), c.tokens["valid"], c.tokens["forged"], c.tokens["expired"], len(c.requests), took.Round(time.Millisecond))
	counts := map[string]int{}
	allows := 0
	for _, req := range c.requests {
		counts[req.want.String()]++
		if req.want.Allow {
			allows++
		}
	}
	fmt.Fprintf(w, "expected: %d allow, %d deny: %s\n", allows, len(c.requests)-allows, formatCounts(counts))
	if len(r.skipped) > 0 {
		fmt.Fprintf(w, "catalog actions left out of the corpus (not modelled): %s\n", strings.Join(r.skipped, ", "))
	}
}

// writeVerification prints one server's wrong-answer count and examples.
func writeVerification(w io.Writer, name string, res verifyResult, total int) {
	fmt.Fprintf(w, "answers checked: %s %d wrong of %d\n", name, res.wrong, total)
	if res.wrong == 0 {
		return
	}
	fmt.Fprintf(w, "  wrong by expected decision: %s\n", formatCounts(res.byWant))
	for _, e := range res.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}
