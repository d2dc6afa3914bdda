package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// checkConfig is the configuration of `verdict check`.
type checkConfig struct {
	serviceConfig
	Token    string
	Claims   string
	Action   string
	Resource string
	Context  string
	Explain  bool
}

// runCheck implements `verdict check`: one decision, offline, printed as the
// JSON /v1/check would answer. It returns errDenied on a deny.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseCheckFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	c, err := cfg.check()
	if err != nil {
		return err
	}
	engine, err := policy.Load(ctx, policy.Dir(cfg.Policies), policy.Options{Dir: cfg.Policies})
	if err != nil {
		return fmt.Errorf("load policies from %s: %w", cfg.Policies, err)
	}
	session, err := cfg.session(ctx)
	if err != nil {
		return err
	}
	d, err := authz.NewDecider(nil, engine, nil, authz.Options{}).Decide(ctx, session, c)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return err
	}
	if !d.Allow {
		return errDenied
	}
	return nil
}

func parseCheckFlags(args []string, getenv func(string) string, stdout io.Writer) (checkConfig, error) {
	var cfg checkConfig
	fs := flagSet("check", stdout)
	fs.StringVar(&cfg.Policies, "policies", defaultPolicies, "directory of .rego and data files")
	fs.StringVar(&cfg.Token, "token", "", "session token to verify (needs one key source flag)")
	fs.StringVar(&cfg.Claims, "claims", "", "JSON file of token claims to decide for, without verifying a token")
	fs.StringVar(&cfg.Action, "action", "", "action to decide (required)")
	fs.StringVar(&cfg.Resource, "resource", "", "resource as JSON, or @file")
	fs.StringVar(&cfg.Context, "context", "", "context as JSON, or @file")
	fs.BoolVar(&cfg.Explain, "explain", false, "also print the rules and expressions that decided (\"explanation\")")
	addKeyFlags(fs, &cfg.serviceConfig)
	if err := parseFlags(fs, args, getenv); err != nil {
		return cfg, err
	}
	if cfg.Token != "" && cfg.Claims != "" {
		return cfg, errors.New("give either --token or --claims, not both")
	}
	if cfg.Token != "" {
		applyClerkEnv(&cfg.Keys, getenv)
		if err := cfg.Keys.validate(); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.Verify.validate()
}

// check builds the check from the flags.
func (cfg checkConfig) check() (authz.Check, error) {
	if cfg.Action == "" {
		return authz.Check{}, errors.New("--action is required")
	}
	c := authz.Check{Action: cfg.Action, Explain: cfg.Explain}
	if cfg.Resource != "" {
		c.Resource = new(authz.Resource)
		if err := decodeFlagJSON("resource", cfg.Resource, c.Resource); err != nil {
			return c, err
		}
	}
	if cfg.Context != "" {
		if err := decodeFlagJSON("context", cfg.Context, &c.Context); err != nil {
			return c, err
		}
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("check: %w", err)
	}
	return c, nil
}

// session verifies --token, or normalizes the --claims file without
// verification; neither gives the anonymous session.
func (cfg checkConfig) session(ctx context.Context) (authz.Session, error) {
	switch {
	case cfg.Claims != "":
		b, err := os.ReadFile(cfg.Claims)
		if err != nil {
			return authz.Session{}, fmt.Errorf("read --claims: %w", err)
		}
		p, err := authn.Normalize(b)
		if err != nil {
			return authz.Session{}, fmt.Errorf("--claims %s: %w", cfg.Claims, err)
		}
		return authz.SessionFor(p), nil
	case cfg.Token != "":
		keys, background, err := loadKeys(cfg.Keys, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			return authz.Session{}, err
		}
		if background != nil {
			if r, ok := keys.(*authn.RemoteJWKS); ok {
				if err := r.Refresh(ctx); err != nil {
					return authz.Session{}, fmt.Errorf("fetch JWKS: %w", err)
				}
			}
		}
		verifier := authn.NewVerifier(authn.Config{
			Keys: keys, Issuer: cfg.Verify.Issuer,
			AuthorizedParties: cfg.Verify.AuthorizedParties, ClockSkew: cfg.Verify.ClockSkew,
		})
		return authz.NewDecider(verifier, nil, nil, authz.Options{}).Authenticate(ctx, cfg.Token)
	}
	return authz.Session{}, nil
}

// decodeFlagJSON decodes a flag's JSON value (or the file named after an @)
// strictly into dst.
func decodeFlagJSON(name, value string, dst any) error {
	data := []byte(value)
	if path, ok := strings.CutPrefix(value, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
		data = b
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("--%s is not a valid JSON object: %w", name, err)
	}
	return nil
}
