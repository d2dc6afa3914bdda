// Command bench (the load harness, run by make load) measures Verdict
// against the alternative its users would pick: a plain OPA server running
// the same rules in Rego, verifying the token with io.jwt.decode_verify
// (opa/). It is a module of its own so that Verdict's go.mod never carries
// OPA's command and what only benchmarks need.
//
// It generates a corpus (an RSA-2048 key, its JWKS, Clerk v1 and v2 session
// tokens for many users and a mix of /v1/check requests, each with the
// decision the contract requires, derived from how the request was built),
// starts both servers pinned to core 0, checks every answer of both, then
// alternates timed rounds between them from core 1: first with a resource
// id never sent before on every request, then with the corpus replayed as
// generated. It prints throughput, exact latency percentiles, server CPU
// per request, Verdict's decision-cache hit ratio, memory and start-up
// time, and exits non-zero if Verdict answered anything wrong.
//
// Usage, from this directory (make load builds both binaries first; the
// default paths are relative to here):
//
//	go run . [-verdict ../../bin/verdict -opa ../../bin/opa -rounds 3 -duration 10s -concurrency 16,64]
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
	"slices"
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
		fmt.Fprintln(os.Stderr, "bench:", err)
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
	// repeatCorpus also times the corpus replayed with its own ids.
	repeatCorpus bool
	quick        bool
	verdictArgs  []string
	// variants are more Verdict servers, each with flags of its own,
	// timed beside the others in the same rounds.
	variants []variant
}

// variant is a Verdict server with extra flags: name=flags.
type variant struct {
	name string
	args []string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.verdictBin, "verdict", "../../bin/verdict", "Verdict binary")
	fs.StringVar(&o.opaBin, "opa", "../../bin/opa", "OPA binary")
	fs.StringVar(&o.policies, "policies", "../../policies", "Verdict's policy directory (its data.json is given to OPA too)")
	fs.StringVar(&o.benchRego, "bench-rego", "opa", "the same rules in Rego for a plain OPA server")
	fs.IntVar(&o.rounds, "rounds", 3, "timed rounds per server and concurrency")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one round")
	conc := fs.String("concurrency", "16,64", "comma-separated numbers of concurrent connections")
	fs.IntVar(&o.requests, "requests", 20000, "requests in the corpus")
	fs.IntVar(&o.users, "users", 2000, "users (one session token each) in the corpus")
	fs.Func("verdict-args", "extra flags for verdict serve, space-separated (e.g. --decision-cache-size=0)", func(v string) error {
		o.verdictArgs = strings.Fields(v)
		return nil
	})
	fs.Func("verdict-variant", "also time Verdict with these flags, as name=flags (repeatable; %DIR% is the run's directory), e.g. \"log=--decision-log=%DIR%/decisions.jsonl\"", func(v string) error {
		name, flags, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q: want name=flags", v)
		}
		o.variants = append(o.variants, variant{name: name, args: strings.Fields(flags)})
		return nil
	})
	fs.BoolVar(&o.opaDefaults, "opa-defaults", false, "also measure OPA with its default configuration (no JWT cache)")
	fs.BoolVar(&o.repeatCorpus, "repeat-corpus", true,
		"after the unique-resource rounds, time the same rounds on the corpus replayed with its own ids (the decision cache's best case); false halves the run")
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

	dir, err := os.MkdirTemp("", "verdict-bench-")
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
	for _, v := range opts.variants {
		args := make([]string, len(v.args))
		for i, a := range v.args {
			args[i] = strings.ReplaceAll(a, "%DIR%", dir)
		}
		spec := verdictSpec(opts.verdictBin, jwksPath, opts.policies, append(slices.Clone(opts.verdictArgs), args...))
		spec.name = "verdict (" + v.name + ")"
		specs = append(specs[:1], append([]serverSpec{spec}, specs[1:]...)...)
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
