package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/verdict-pdp/verdict/internal/bundle"
	"github.com/verdict-pdp/verdict/internal/metrics"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// bundleSource feeds the engine from an OPA bundle: a server polled over
// HTTP(S), or a local file.
type bundleSource interface {
	// First activates the first bundle it can get (from the cache when
	// the server is down), or says why there is none.
	First(ctx context.Context) (*bundle.Bundle, error)
	// Run follows the source until ctx ends.
	Run(ctx context.Context)
}

// bundleResults are the results of a poll, as verdict_bundle_requests_total
// labels them.
var bundleResults = []string{
	string(bundle.ResultActivated), string(bundle.ResultNotModified), string(bundle.ResultRefused), string(bundle.ResultError),
}

// openBundles makes the configured bundle source feed engine, and tries
// to activate a first bundle. Without one the service starts all the same,
// and serving says so (false) until one activates: /readyz answers 503
// meanwhile, and the source keeps trying when it Runs.
func openBundles(ctx context.Context, c bundleConfig, engine *policy.Engine, logger *slog.Logger, m *metrics.Metrics, serving *atomic.Bool) (bundleSource, error) {
	var read bundle.ReadOptions
	if c.VerificationKey != "" {
		pem, err := os.ReadFile(c.VerificationKey)
		if err != nil {
			return nil, fmt.Errorf("--bundle-verification-key: %w", err)
		}
		if read.Key, err = bundle.ParseVerificationKey(pem); err != nil {
			return nil, fmt.Errorf("--bundle-verification-key %s: %w", c.VerificationKey, err)
		}
	}
	activate := func(ctx context.Context, b *bundle.Bundle) error {
		if err := engine.Activate(ctx, b.FS()); err != nil {
			return err
		}
		serving.Store(true)
		return nil
	}
	m.InitBundleRequests(bundleResults...)
	onResult := func(r bundle.Result) { m.ObserveBundleRequest(string(r)) }
	var src bundleSource
	var err error
	if c.URL != "" {
		if err := checkBundleURL(c.URL); err != nil {
			return nil, fmt.Errorf("--bundle-url: %w", err)
		}
		src, err = bundle.NewHTTPSource(bundle.HTTPOptions{
			URL: c.URL, Interval: c.Poll, CacheDir: c.CacheDir, Read: read,
			Activate: activate, OnResult: onResult, Logger: logger,
		})
	} else {
		src, err = bundle.NewFileSource(bundle.FileOptions{
			Path: c.File, Read: read, Activate: activate, OnResult: onResult, Logger: logger,
		})
	}
	if err != nil {
		return nil, err
	}
	if _, err := src.First(ctx); err != nil {
		logger.Warn("no policy bundle serving yet; /readyz answers 503 until one activates", "error", err)
	}
	return src, nil
}

// checkBundleURL accepts https, and plain http to a loopback host only: a
// bundle fetched in the clear could be anybody's policies, or, signed, an
// older set replayed (redirects are held to the same rule).
func checkBundleURL(raw string) error {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q is plain http to a host other than loopback: a bundle fetched in the clear could be anybody's policies, or an older signed set replayed; use https", u.Redacted())
	}
	return nil
}
