package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// clerkJWKSMaxAge is how long keys fetched from Clerk's Backend API are
// trusted before a refetch, as Clerk's own SDK does.
const clerkJWKSMaxAge = 5 * time.Minute

// clerkAPIVersion is the Backend API version Clerk's JavaScript SDK sends
// (@clerk/backend 3.16).
const clerkAPIVersion = "2026-05-12"

// runServe implements `verdict serve`.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseServeConfig(args, getenv, stdout)
	if err != nil {
		return err
	}

	stdout = &syncWriter{w: stdout} // the log and a decision log to "-" share it
	logger := newJSONLogger(stdout, cfg.LogLevel)
	followCgroupMemoryLimit(getenv, logger)
	m := newMetrics()
	keys, background, err := loadKeys(cfg.Keys, logger, m.ObserveJWKSRefresh)
	if err != nil {
		return err
	}
	src := policySource{fsys: policy.Dir(cfg.Policies), dir: cfg.Policies, watch: true}
	if cfg.Bundle.enabled() {
		src = policySource{bundle: cfg.Bundle}
	}
	svc, err := newService(ctx, logger, stdout, src, keys, m, cfg)
	if err != nil {
		return err
	}
	if background != nil {
		svc.background = append(svc.background, background)
	}
	return svc.serve(ctx, cfg, nil, nil)
}

// serveFlags returns serve's flags, set into cfg (usage to out).
func serveFlags(cfg *serviceConfig, out io.Writer) *flag.FlagSet {
	fs := flagSet("serve", out)
	addServerFlags(fs, cfg)
	addBundleFlags(fs, cfg)
	addKeyFlags(fs, cfg)
	return fs
}

// parseServeConfig parses and validates serve's flags (usage to out),
// everything runServe checks before it starts anything.
func parseServeConfig(args []string, getenv func(string) string, out io.Writer) (serviceConfig, error) {
	var cfg serviceConfig
	fs := serveFlags(&cfg, out)
	if err := parseFlags(fs, args, getenv); err != nil {
		return cfg, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	applyClerkEnv(&cfg.Keys, getenv)
	applyClerkWebhookEnv(&cfg.Revocation, getenv)
	return cfg, errors.Join(cfg.validateServer(), cfg.Bundle.validate(given["policies"]), cfg.Keys.validate(), cfg.Verify.validate())
}

// loadKeys builds the configured key source. Remote sources come with a
// background task that fetches and refreshes them; start-up does not wait
// for the first fetch (readiness does).
//
// onRefresh, when set, is told the outcome of every fetch of a remote JWKS.
func loadKeys(c keyConfig, logger *slog.Logger, onRefresh func(error)) (authn.KeySet, func(context.Context), error) {
	switch {
	case c.JWKSFile != "":
		keys, err := authn.LoadJWKSFile(c.JWKSFile)
		if err != nil {
			return nil, nil, fmt.Errorf("load --jwks-file: %w", err)
		}
		return keys, nil, nil
	case c.JWTKeyFile != "":
		pem, err := os.ReadFile(c.JWTKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read --jwt-key-file: %w", err)
		}
		keys, err := authn.ParsePEM(pem)
		if err != nil {
			return nil, nil, fmt.Errorf("parse --jwt-key-file %s: %w", c.JWTKeyFile, err)
		}
		return keys, nil, nil
	case c.JWTKeyPEM != "":
		keys, err := authn.ParsePEM([]byte(c.JWTKeyPEM))
		if err != nil {
			return nil, nil, fmt.Errorf("parse CLERK_JWT_KEY: %w", err)
		}
		return keys, nil, nil
	case c.JWKSURL != "":
		if err := checkJWKSURL(c.JWKSURL, c.AllowInsecureJWKSURL); err != nil {
			return nil, nil, fmt.Errorf("--jwks-url: %w", err)
		}
		r := authn.NewRemoteJWKS(authn.RemoteOptions{URL: c.JWKSURL, Logger: logger, OnRefresh: onRefresh})
		return r, r.Run, nil
	default:
		base := strings.TrimRight(c.ClerkAPIURL, "/")
		if err := checkSecretURL(base); err != nil {
			return nil, nil, fmt.Errorf("--clerk-api-url: %w", err)
		}
		r := authn.NewRemoteJWKS(authn.RemoteOptions{
			URL: base + "/v1/jwks",
			Header: http.Header{
				"Authorization":     {"Bearer " + c.ClerkSecretKey},
				"Clerk-Api-Version": {clerkAPIVersion},
			},
			MaxAge:    clerkJWKSMaxAge,
			Logger:    logger,
			OnRefresh: onRefresh,
		})
		return r, r.Run, nil
	}
}

// parseHTTPURL parses raw as an http or https URL with a host. Its errors
// never repeat a password the URL holds.
func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("invalid URL") // url.Parse's error quotes all of it
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", u.Redacted())
	}
	return u, nil
}

// checkJWKSURL accepts https, plain http to a loopback host (a local JWKS
// server), and plain http elsewhere only when allowed: whoever is on the
// path could serve keys of their own and forge tokens with them.
func checkJWKSURL(raw string, allowInsecure bool) error {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q is plain http to a host other than loopback, and keys fetched in the clear can be replaced on the way: use https, or --allow-insecure-jwks-url", u.Redacted())
	}
	return nil
}

// checkSecretURL accepts https, or plain http to a loopback host only (a
// local stand-in for the Backend API): the secret key travels in a header.
func checkSecretURL(raw string) error {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q would send the secret key in cleartext: use https", u.Redacted())
	}
	return nil
}

// isLoopback reports whether host names this machine: localhost or a
// loopback address.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
