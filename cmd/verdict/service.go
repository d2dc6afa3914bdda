package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing/fstest"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/callers"
	"github.com/verdict-pdp/verdict/internal/decisionlog"
	"github.com/verdict-pdp/verdict/internal/httpapi"
	"github.com/verdict-pdp/verdict/internal/metrics"
	"github.com/verdict-pdp/verdict/internal/policy"
	"github.com/verdict-pdp/verdict/internal/tlsfiles"
)

// policyPollInterval is how often the policy directory is checked for
// edits; the contract wants an edit live within 2 seconds.
const policyPollInterval = 500 * time.Millisecond

// service is the decision service as serve and dev run it: the wiring of
// policies, keys, verifier, decider, metrics and the HTTP API.
type service struct {
	logger  *slog.Logger
	metrics *metrics.Metrics
	engine  *policy.Engine
	keys    authn.KeySet
	decider *authz.Decider
	log     *decisionlog.Writer // nil when --decision-log is off
	shadow  *authz.Shadow       // nil when --shadow-policies is off
	// shadowPolicies is the shadow's candidate set, nil when off.
	shadowPolicies *shadowPolicies
	draining       atomic.Bool
	// watchPolicies is false for policies that cannot change (embedded)
	// or that come from a bundle.
	watchPolicies bool
	// servingPolicies is false until a policy set serves: a bundle source
	// may start without one.
	servingPolicies atomic.Bool
	// bundles feeds the engine from a bundle, nil with a directory.
	bundles bundleSource
	// revocations, nil when off, are the revocations in force and the
	// webhooks that bring them.
	revocations *revocations
	// callers are the API keys allowed on the decision routes, nil when
	// the routes are open.
	callers *callers.File
	// tls is what HTTPS is served with, nil for plain HTTP.
	tls *tlsfiles.Files
	// background runs beside the server until ctx ends (key refresh).
	background []func(ctx context.Context)
}

// filePollInterval is how often the API keys and TLS files are checked
// for changes: a rotation is in force within a few seconds.
const filePollInterval = time.Second

// policySource names the policies to load and whether to watch them, or
// the bundle they come from.
type policySource struct {
	fsys   fs.FS
	dir    string // shown in errors: "policies"
	watch  bool
	bundle bundleConfig // when enabled, instead of fsys
}

// newMetrics returns the service's metrics: this build's, labelling the
// domain's reason codes.
func newMetrics() *metrics.Metrics {
	return metrics.New(currentBuild(), reasonCodes()...)
}

// newService wires the service; stdout is where --decision-log - writes.
func newService(ctx context.Context, logger *slog.Logger, stdout io.Writer, src policySource, keys authn.KeySet, m *metrics.Metrics, cfg serviceConfig) (*service, error) {
	v := cfg.Verify
	fsys, dir := src.fsys, src.dir
	if src.bundle.enabled() {
		// Nothing serves until a bundle activates: the built-in layer
		// alone stands in, and the decision routes answer 503 meanwhile
		// (it would decide without the team's rules and data).
		fsys, dir = fstest.MapFS{}, "bundle"
	}
	var engine *policy.Engine
	engine, err := policy.Load(ctx, fsys, policy.Options{
		Logger: logger,
		OnReload: func(err error) {
			m.ObservePolicyReload(err)
			if err == nil && engine != nil {
				m.ObservePolicyRevision(engine.Revision())
			}
		},
		Dir:         dir,
		EvalTimeout: cfg.EvalTimeout,
		OnTimeout:   m.ObserveEvaluationTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("load policies from %s: %w", src.dir, err)
	}
	svc := &service{logger: logger, metrics: m, engine: engine, keys: keys, watchPolicies: src.watch}
	if src.bundle.enabled() {
		if svc.bundles, err = openBundles(ctx, src.bundle, engine, logger, m, &svc.servingPolicies); err != nil {
			return nil, err
		}
	} else {
		svc.servingPolicies.Store(true)
	}
	m.ObservePolicyRevision(engine.Revision())
	var decisions authz.DecisionLog
	if cfg.DecisionLog != "" {
		svc.log, err = decisionlog.Open(cfg.DecisionLog, decisionlog.Options{
			Mask: engine.DecisionLogMask, OnWritten: m.ObserveDecisionLogWritten, OnDropped: m.ObserveDecisionLogDropped,
			Logger: logger, Stdout: stdout,
		})
		if err != nil {
			return nil, err
		}
		decisions = svc.log
	}
	if cfg.APIKeysFile != "" {
		if svc.callers, err = callers.Open(cfg.APIKeysFile, callers.Options{Logger: logger, OnReload: m.ObserveAPIKeysReload}); err != nil {
			return nil, fmt.Errorf("--api-keys-file: %w", err)
		}
	}
	if cfg.TLS.enabled() {
		svc.tls, err = tlsfiles.Load(tlsfiles.Options{
			CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, ClientCAFile: cfg.TLS.ClientCAFile, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.Revocation.enabled() {
		if svc.revocations, err = openRevocations(ctx, cfg.Revocation, logger, m); err != nil {
			return nil, err
		}
	}
	if cfg.ShadowPolicies != "" {
		svc.shadowPolicies = &shadowPolicies{dir: cfg.ShadowPolicies, logger: logger, timeout: cfg.EvalTimeout}
		svc.shadowPolicies.load(ctx)
		svc.shadow = authz.NewShadow(authz.ShadowOptions{Policies: svc.shadowPolicies.evaluator, Log: decisions, Recorder: m})
	}
	verifier := authn.NewVerifier(authn.Config{
		Keys:              keys,
		Issuer:            v.Issuer,
		AuthorizedParties: v.AuthorizedParties,
		ClockSkew:         v.ClockSkew,
	})
	opts := authz.Options{SessionCacheSize: v.TokenCacheSize, DecisionCacheSize: v.DecisionCacheSize, Log: decisions, Shadow: svc.shadow}
	if svc.revocations != nil {
		opts.Revocations = svc.revocations.store
	}
	svc.decider = authz.NewDecider(verifier, engine, m, opts)
	return svc, nil
}

// ready reports whether the service can decide, for /readyz.
func (s *service) ready() error {
	switch {
	case s.draining.Load():
		return errors.New("shutting down")
	case !s.keys.Ready():
		return errors.New("no verification key loaded yet")
	case !s.servingPolicies.Load():
		return errors.New("no policy set serving yet: waiting for the first bundle")
	}
	return nil
}

// serve listens on cfg.Addr and serves until ctx ends, with the policy watcher
// and background tasks running beside it; it returns once all have stopped.
func (s *service) serve(ctx context.Context, cfg serviceConfig, extra []httpapi.Route, onListen func(net.Addr)) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	profiler, err := listenPprof(cfg.PprofAddr, s.logger)
	if err != nil {
		ln.Close()
		return err
	}
	deps := httpapi.Deps{
		Decider:   s.decider,
		Ready:     s.ready,
		Metrics:   s.metrics.Handler(),
		Logger:    s.logger,
		Limits:    httpapi.Limits{MaxInflightBytes: cfg.MaxInflightBytes},
		Extra:     extra,
		Explain:   cfg.Explain,
		Requests:  s.metrics,
		PublicURL: cfg.PublicURL,
		// The kubelet's probes present no certificate: only the decision
		// routes require one.
		RequireClientCert: cfg.TLS.ClientCAFile != "",
		PoliciesServing:   s.servingPolicies.Load,
	}
	if s.callers != nil {
		deps.Callers = s.callers
	}
	if s.revocations != nil && s.revocations.receiver != nil {
		deps.Webhooks = s.revocations.receiver
	}
	h := httpapi.New(deps)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Stop the background tasks whichever way serving ends, then wait.
	defer func() {
		cancel()
		wg.Wait()
		if s.revocations != nil {
			s.revocations.close() // once nothing follows the store
		}
	}()
	if s.watchPolicies {
		wg.Go(func() { s.engine.Watch(ctx, policyPollInterval) })
	}
	for _, task := range s.background {
		wg.Go(func() { task(ctx) })
	}
	if profiler != nil {
		wg.Go(func() { profiler.run(ctx) })
	}
	if s.callers != nil {
		wg.Go(func() { s.callers.Watch(ctx, filePollInterval) })
	}
	var tlsConfig *tls.Config
	if s.tls != nil {
		tlsConfig = s.tls.Config()
		wg.Go(func() { s.tls.Watch(ctx, filePollInterval) })
	}
	// SIGHUP reopens the log from now until the log is closed, shutdown
	// included (SIGHUP's default would end the process mid-drain).
	logClosed := make(chan struct{})
	if s.log != nil {
		hangups := make(chan os.Signal, 1)
		signal.Notify(hangups, syscall.SIGHUP)
		defer signal.Stop(hangups)
		wg.Go(func() { s.reopenLogOnHangup(hangups, logClosed) })
	}
	if s.shadowPolicies != nil {
		wg.Go(func() { s.shadowPolicies.run(ctx, policyPollInterval) })
	}
	if s.bundles != nil {
		wg.Go(func() { s.bundles.Run(ctx) })
	}
	if s.revocations != nil {
		wg.Go(func() { s.revocations.run(ctx) })
	}

	s.logger.Info("listening", "addr", ln.Addr().String(), "tls", s.tls != nil, "api_keys", s.callers != nil, "policy_revision", s.engine.Revision())
	if onListen != nil {
		onListen(ln.Addr())
	}
	err = httpapi.Serve(ctx, ln, h, httpapi.ServeOptions{
		BeforeShutdown: func() { s.draining.Store(true) },
		DrainDelay:     cfg.ShutdownDelay,
		Logger:         s.logger,
		TLSConfig:      tlsConfig,
	})
	// Every request has been answered: what they decided is shadowed and
	// written before the process ends.
	if s.shadow != nil {
		s.shadow.Close()
	}
	if s.log != nil {
		if cerr := s.log.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close the decision log: %w", cerr))
		}
	}
	close(logClosed)
	return err
}

// reopenLogOnHangup reopens the decision log on every SIGHUP until the log
// is closed, as logrotate expects of a daemon after it moves the file
// away.
func (s *service) reopenLogOnHangup(hangups <-chan os.Signal, logClosed <-chan struct{}) {
	for {
		select {
		case <-logClosed:
			return
		case <-hangups:
			if err := s.log.Reopen(); err != nil {
				s.logger.Error("decision log: reopen failed", "error", err)
			} else {
				s.logger.Info("decision log reopened")
			}
		}
	}
}

// reasonCodes are the domain's reason codes as the metrics label them.
func reasonCodes() []string {
	var codes []string
	for _, r := range authz.KnownReasons() {
		codes = append(codes, string(r))
	}
	return codes
}

// syncWriter serializes the writes to w: the service's log and a decision
// log to standard output share it, each writing whole lines per call, so
// that their lines never mix.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
