package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
	"github.com/verdict-pdp/verdict/internal/devtoken"
	"github.com/verdict-pdp/verdict/internal/httpapi"
	"github.com/verdict-pdp/verdict/internal/policy"
	"github.com/verdict-pdp/verdict/policies"
)

// defaultDevAddr is dev mode's listen address: this machine only. serve
// keeps defaultAddr, all interfaces.
const defaultDevAddr = "127.0.0.1:8080"

// runDev implements `verdict dev`: the service with an ephemeral signing
// key, its JWKS, a token minter at POST /dev/tokens, and the policies from
// ./policies (watched) or, when there is no such directory, the copy built
// into the binary.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	// Dev mode is for trying policies out: explanations are on. It listens
	// on loopback unless told otherwise, since anyone who reaches it can
	// mint tokens for its key.
	cfg := serviceConfig{Addr: defaultDevAddr, Explain: true}
	fs := flagSet("dev", stdout)
	addServerFlags(fs, &cfg)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if err := cfg.validateServer(); err != nil {
		return err
	}
	explicit := isSet(fs, "policies") || getenv(envName("policies")) != ""
	src, err := devPolicies(cfg.Policies, explicit)
	if err != nil {
		return err
	}

	issuer, err := devtoken.NewIssuer()
	if err != nil {
		return fmt.Errorf("create dev signing key: %w", err)
	}
	keys, err := authn.ParseJWKS(issuer.JWKS())
	if err != nil {
		return fmt.Errorf("load dev JWKS: %w", err)
	}
	stdout = &syncWriter{w: stdout} // the log and a decision log to "-" share it
	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	followCgroupMemoryLimit(getenv, logger)
	cfg.Verify = verifyConfig{ClockSkew: defaultClockSkew, TokenCacheSize: defaultTokenCacheSize, DecisionCacheSize: defaultDecisionCacheSize}
	applyClerkWebhookEnv(&cfg.Revocation, getenv)
	if cfg.Revocation.WebhookSecret == "" { // dev signs its own webhooks
		if cfg.Revocation.WebhookSecret, err = newDevWebhookSecret(); err != nil {
			return fmt.Errorf("create dev webhook secret: %w", err)
		}
	}
	svc, err := newService(ctx, logger, stdout, src, keys, newMetrics(), cfg)
	if err != nil {
		return err
	}
	var base atomic.Pointer[string]
	relay, err := devWebhookRelay(cfg.Revocation.WebhookSecret, &base)
	if err != nil {
		return err
	}
	return svc.serve(ctx, cfg, devRoutes(issuer, relay), func(addr net.Addr) {
		url := "http://" + localURLHost(addr)
		base.Store(&url)
		printDevBanner(stdout, issuer, addr, src.dir, cfg.Revocation.WebhookSecret)
	})
}

// devPolicies picks the policy source for dev mode.
func devPolicies(dir string, explicit bool) (policySource, error) {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return policySource{fsys: policy.Dir(dir), dir: dir, watch: true}, nil
	} else if explicit {
		return policySource{}, fmt.Errorf("--policies %s: not a readable directory", dir)
	}
	return policySource{fsys: fs.FS(policies.Bundled), dir: "(built-in policies)"}, nil
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// devRoutes are the endpoints only dev mode serves; webhooks relays
// events to /v1/webhooks/clerk, signed (devWebhookRelay).
func devRoutes(issuer *devtoken.Issuer, webhooks http.Handler) []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodPost, Path: "/dev/tokens", Handler: issuer.Handler()},
		{Method: http.MethodGet, Path: "/dev/jwks.json", Handler: jwksHandler(issuer.JWKS())},
		{Method: http.MethodPost, Path: "/dev/webhooks/clerk", Handler: webhooks},
	}
}

func jwksHandler(jwks []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
}

// printDevBanner prints where the dev server listens and a paste-ready
// request with a freshly minted admin token.
func printDevBanner(w io.Writer, issuer *devtoken.Issuer, addr net.Addr, policyDir, webhookSecret string) {
	base := "http://" + localURLHost(addr)
	req := devtoken.TokenRequest{
		UserID: "user_dev", SessionID: "sess_dev", OrgID: "org_dev", OrgRole: "org:admin",
		OrgSlug: "acme", Format: "v2", TTLSeconds: int((time.Hour).Seconds()),
	}
	token, err := issuer.Mint(req, time.Now())
	if err != nil {
		fmt.Fprintf(w, "verdict dev: could not mint the example token: %v\n", err)
		return
	}
	body, _ := json.Marshal(map[string]any{
		"token":    token,
		"action":   "invitations:create",
		"resource": map[string]string{"type": "invitation", "org_id": "org_dev", "org_slug": "acme"},
	})
	fmt.Fprintf(w, `
Verdict dev server on %[1]s (policies: %[2]s)

Ask for a decision with a token of an admin of org_dev, valid for one hour:

  curl -s %[1]s/v1/check -H 'Content-Type: application/json' -d '%[3]s'

Mint your own token (format v1 or v2; permissions are org:<feature>:<perm>):

  curl -s %[1]s/dev/tokens -H 'Content-Type: application/json' \
    -d '{"user_id":"user_1","session_id":"sess_1","org_id":"org_dev","org_role":"org:member","org_slug":"acme","permissions":["org:posts:publish"],"format":"v2"}'

Revoke that session as Clerk's webhook would (signed with this server's dev
secret %[4]s, and delivered to /v1/webhooks/clerk):

  curl -s %[1]s/dev/webhooks/clerk -H 'Content-Type: application/json' \
    -d '{"type":"session.revoked","object":"event","data":{"id":"sess_1","user_id":"user_1"}}'

`, base, policyDir, body, webhookSecret)
}

// localURLHost turns a listen address into something a browser or curl on
// this machine can reach (":8080" listens on all interfaces).
func localURLHost(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
		return addr.String()
	}
	return tcp.String()
}
