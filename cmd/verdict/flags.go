package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/verdict-pdp/verdict/internal/bundle"
	"github.com/verdict-pdp/verdict/internal/httpapi"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// Defaults of the serve flags, as the contract pins them.
const (
	defaultAddr        = ":8080"
	defaultPolicies    = "policies"
	defaultClerkAPIURL = "https://api.clerk.com"
	defaultClockSkew   = 5 * time.Second
	// defaultTokenCacheSize holds the tokens of some ten thousand active
	// sessions (about 5 MiB).
	defaultTokenCacheSize = 10000
	// defaultDecisionCacheSize holds some fifty thousand recent exact
	// decisions (about 15 MiB).
	defaultDecisionCacheSize = 50000
)

// serviceConfig is the configuration shared by serve, dev and check.
type serviceConfig struct {
	Addr     string
	Policies string
	// ShutdownDelay keeps serving after /readyz turns 503 on shutdown, so
	// load balancers stop routing here before connections drain.
	ShutdownDelay time.Duration
	// PprofAddr, when set, serves /debug/pprof on its own listener.
	PprofAddr string
	// LogLevel is the least severe level logged; debug adds a line per
	// request and per decision.
	LogLevel slog.Level
	// Explain lets checks ask what decided ("explain": true).
	Explain bool
	// PublicURL is the URL callers reach the service at, named by the
	// AuthZEN metadata document; empty, each request's makes it.
	PublicURL string
	// EvalTimeout bounds one policy evaluation.
	EvalTimeout time.Duration
	// MaxInflightBytes bounds the request bodies the decision routes work
	// on at once; beyond it requests get 503 with Retry-After.
	MaxInflightBytes int64
	// DecisionLog is where every decision is logged: "" off, "-" stdout,
	// else a file appended to and reopened on SIGHUP.
	DecisionLog string
	// ShadowPolicies, when set, is a candidate policy directory evaluated
	// beside the serving one, off the response's path.
	ShadowPolicies string
	// APIKeysFile, when set, names the callers allowed on the decision
	// routes, by the hashes of their API keys.
	APIKeysFile string
	TLS         tlsConfig
	Revocation  revocationConfig
	// Bundle, when enabled, is where the policies come from instead of
	// the Policies directory (serve only).
	Bundle bundleConfig
	Keys   keyConfig
	Verify verifyConfig
}

// revocationConfig says where revocations come from and are kept.
type revocationConfig struct {
	// WebhookSecret is Clerk's signing secret ("whsec_..."); empty leaves
	// /v1/webhooks/clerk off.
	WebhookSecret string
	// RedisURL, when set, shares revocations between replicas through
	// Redis; empty keeps them in the process.
	RedisURL string
	// TTL is how long a revocation is kept: at least the longest a
	// session token lives.
	TTL time.Duration
}

// enabled reports whether tokens are checked against revocations: this
// replica takes webhooks, or others share theirs with it.
func (c revocationConfig) enabled() bool { return c.WebhookSecret != "" || c.RedisURL != "" }

// defaultRevocationTTL outlives Clerk's longest session token lifetimes
// short of a custom one over an hour.
const defaultRevocationTTL = time.Hour

// tlsConfig names the files to serve HTTPS with; all empty means plain
// HTTP.
type tlsConfig struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, requires client certificates signed by its
	// CAs (mutual TLS).
	ClientCAFile string
}

func (c tlsConfig) enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

func (c tlsConfig) validate() error {
	switch {
	case c.enabled() && (c.CertFile == "" || c.KeyFile == ""):
		return errors.New("--tls-cert-file and --tls-key-file go together: give both, or neither for plain HTTP")
	case c.ClientCAFile != "" && !c.enabled():
		return errors.New("--client-ca-file needs TLS: give --tls-cert-file and --tls-key-file too")
	}
	return nil
}

// bundleConfig names an OPA bundle to take the policies from.
type bundleConfig struct {
	URL  string // polled over HTTP(S)
	File string // a local bundle file, watched
	// Poll is the time between two polls of URL (jittered).
	Poll time.Duration
	// VerificationKey, when set, is a PEM public key every bundle must
	// be signed with.
	VerificationKey string
	// CacheDir keeps the last activated bundle, to start from when the
	// server cannot be reached.
	CacheDir string
}

func (c bundleConfig) enabled() bool { return c.URL != "" || c.File != "" }

// validate checks the bundle flags; policiesGiven is whether --policies
// (or VERDICT_POLICIES) was given.
func (c bundleConfig) validate(policiesGiven bool) error {
	switch {
	case c.URL != "" && c.File != "":
		return errors.New("--bundle-url and --bundle-file are two policy sources: give one")
	case c.enabled() && policiesGiven:
		return errors.New("--policies and a bundle (--bundle-url, --bundle-file) are two policy sources: give one")
	case !c.enabled() && (c.VerificationKey != "" || c.CacheDir != ""):
		return errors.New("--bundle-verification-key and --bundle-cache-dir need a bundle: give --bundle-url or --bundle-file")
	case c.CacheDir != "" && c.URL == "":
		return errors.New("--bundle-cache-dir keeps what --bundle-url serves: give --bundle-url")
	case c.Poll <= 0:
		return fmt.Errorf("--bundle-poll must be positive, got %s", c.Poll)
	}
	return nil
}

// keyConfig names where verification keys come from; exactly one is set.
type keyConfig struct {
	JWKSURL        string
	JWKSFile       string
	JWTKeyFile     string
	JWTKeyPEM      string // CLERK_JWT_KEY: the PEM text itself
	ClerkSecretKey string
	ClerkAPIURL    string
	// AllowInsecureJWKSURL lets --jwks-url be plain http to a host other
	// than loopback.
	AllowInsecureJWKSURL bool
}

// verifyConfig holds the token rules beyond the signature.
type verifyConfig struct {
	Issuer            string
	AuthorizedParties []string
	ClockSkew         time.Duration
	// TokenCacheSize bounds the Decider's session cache (verified tokens);
	// 0 disables it.
	TokenCacheSize int
	// DecisionCacheSize bounds the exact-decision cache; 0 disables it.
	DecisionCacheSize int
}

// flagSet returns a FlagSet whose errors are returned, not printed-and-exited.
// Its usage (-h, --help) lists every flag with the environment variable
// that stands in for it.
func flagSet(name string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("verdict "+name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() { printFlags(fs) }
	return fs
}

// printFlags writes the usage of a command whose flags parseFlags reads.
func printFlags(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: %s [flags]\n\nEvery flag may be given as the environment variable shown beside it;\na flag on the command line wins.\n\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		plain := *f
		if d, ok := f.Value.(describedValue); ok {
			plain.Value = d.Value // for its type's name
		}
		typ, usage := flag.UnquoteUsage(&plain)
		if typ != "" {
			typ = " " + typ
		}
		fmt.Fprintf(w, "  --%s%s  (%s)\n        %s", f.Name, typ, envName(f.Name), usage)
		switch f.DefValue {
		case "", "false", "0", "0s":
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// expectedValue says what a flag of value v takes, for the error on a bad
// value; "" where any value is taken or the flag explains its own errors.
func expectedValue(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration with its unit, such as 5s, 250ms or 1m30s"
	case bool:
		return "true or false"
	case int, int64, uint, uint64:
		return "a whole number"
	case float64:
		return "a number"
	case *slog.Level: // a TextVar's value
		return "debug, info, warn or error"
	}
	return ""
}

// describedValue is a flag value whose parse error says what is expected
// (the flag package adds the flag's name and the value given).
type describedValue struct {
	flag.Value
	expected string
}

func (v describedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("want %s", v.expected)
	}
	return nil
}

// IsBoolFlag keeps --flag meaning --flag=true for a boolean flag.
func (v describedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// describeValues makes every flag's parse error say what it expects.
func describeValues(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if want := expectedValue(f.Value); want != "" {
			f.Value = describedValue{Value: f.Value, expected: want}
		}
	})
}

func addServerFlags(fs *flag.FlagSet, c *serviceConfig) {
	fs.StringVar(&c.Addr, "addr", cmp.Or(c.Addr, defaultAddr), "listen address") // the command's preset wins: dev stays on loopback
	fs.StringVar(&c.Policies, "policies", defaultPolicies, "directory of .rego and data files, watched for changes")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", 0, "on shutdown, keep serving this long after /readyz turns 503")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve /debug/pprof on this separate address (off when empty)")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error; debug logs every request and decision (never tokens)")
	fs.DurationVar(&c.EvalTimeout, "eval-timeout", policy.DefaultEvalTimeout, "longest one policy evaluation may run; a longer one is answered 500 and counted")
	fs.Int64Var(&c.MaxInflightBytes, "max-inflight-bytes", httpapi.DefaultLimits.MaxInflightBytes, "most request-body bytes the decision routes decode and evaluate at once (bodies still arriving get a budget in proportion); more gets 503 with Retry-After")
	fs.StringVar(&c.ShadowPolicies, "shadow-policies", "", "a candidate policy directory evaluated beside --policies for every decision, watched like it; never changes an answer (divergences in verdict_shadow_divergences_total and the decision log)")
	fs.StringVar(&c.APIKeysFile, "api-keys-file", "", "callers allowed on /v1/*: a file of NAME sha256:HEX lines (HEX the SHA-256 of the key), re-read on change; requests must send Authorization: Bearer <key>; empty leaves the routes open")
	fs.StringVar(&c.Revocation.WebhookSecret, "clerk-webhook-secret", "", "Clerk's webhook signing secret (whsec_..., also CLERK_WEBHOOK_SIGNING_SECRET): POST /v1/webhooks/clerk takes signed events that revoke sessions, users, memberships and organizations before their tokens expire")
	fs.StringVar(&c.Revocation.RedisURL, "revocation-redis-url", "", "share revocations between replicas through this Redis (redis:// or rediss://); empty keeps them in the process")
	fs.DurationVar(&c.Revocation.TTL, "revocation-ttl", defaultRevocationTTL, "how long a revocation is kept: at least the longest a session token lives")
	fs.StringVar(&c.TLS.CertFile, "tls-cert-file", "", "serve HTTPS with this PEM certificate (chain), re-read on change; needs --tls-key-file")
	fs.StringVar(&c.TLS.KeyFile, "tls-key-file", "", "the PEM private key of --tls-cert-file, re-read on change")
	fs.StringVar(&c.TLS.ClientCAFile, "client-ca-file", "", "require client certificates signed by these PEM CAs (mutual TLS), re-read on change; needs TLS")
	fs.StringVar(&c.PublicURL, "public-url", "", "the URL callers reach this service at (https://pdp.example.com), as the AuthZEN metadata document (/.well-known/authzen-configuration) names it; empty takes each request's scheme and Host")
	fs.StringVar(&c.DecisionLog, "decision-log", "", "log every decision as a JSON line (never the token): - for stdout, else a file appended to and reopened on SIGHUP; empty is off")
	// The default is c.Explain as the command set it: off for serve, on for dev.
	fs.BoolVar(&c.Explain, "explain", c.Explain, "let a check ask with \"explain\": true for the rules and expressions that decided")
}

// addBundleFlags adds serve's bundle flags (a policy source beside
// --policies).
func addBundleFlags(fs *flag.FlagSet, c *serviceConfig) {
	fs.StringVar(&c.Bundle.URL, "bundle-url", "", "take the policies from an OPA bundle (.tar.gz) at this http(s) URL, polled with If-None-Match; instead of --policies")
	fs.StringVar(&c.Bundle.File, "bundle-file", "", "take the policies from this local OPA bundle file, watched for changes; instead of --policies")
	fs.DurationVar(&c.Bundle.Poll, "bundle-poll", bundle.DefaultInterval, "time between two polls of --bundle-url (jittered by ±10%)")
	fs.StringVar(&c.Bundle.VerificationKey, "bundle-verification-key", "", "PEM public key (RSA for RS256, P-256 for ES256); every bundle must carry a .signatures.json by it covering every file, or it is refused")
	fs.StringVar(&c.Bundle.CacheDir, "bundle-cache-dir", "", "keep the last activated bundle here, and start from it when --bundle-url cannot be reached")
}

func addKeyFlags(fs *flag.FlagSet, c *serviceConfig) {
	fs.StringVar(&c.Keys.JWKSURL, "jwks-url", "", "remote JWKS URL (Clerk: https://<frontend-api>/.well-known/jwks.json)")
	fs.StringVar(&c.Keys.JWKSFile, "jwks-file", "", "local JWKS file")
	fs.StringVar(&c.Keys.JWTKeyFile, "jwt-key-file", "", "PEM public key file (Clerk's JWT public key); CLERK_JWT_KEY may hold the PEM text instead")
	fs.StringVar(&c.Keys.ClerkSecretKey, "clerk-secret-key", "", "Clerk secret key: fetch the JWKS from the Backend API (also CLERK_SECRET_KEY)")
	fs.StringVar(&c.Keys.ClerkAPIURL, "clerk-api-url", defaultClerkAPIURL, "Backend API base for --clerk-secret-key")
	fs.BoolVar(&c.Keys.AllowInsecureJWKSURL, "allow-insecure-jwks-url", false, "accept a plain http:// --jwks-url to a host other than loopback (keys fetched in the clear can be replaced on the way, and tokens forged with them)")
	fs.StringVar(&c.Verify.Issuer, "issuer", "", "required iss value; empty means not checked")
	fs.Func("authorized-parties", "comma-separated allowed azp `origins`; empty means not checked", func(v string) error {
		c.Verify.AuthorizedParties = splitList(v)
		return nil
	})
	fs.DurationVar(&c.Verify.ClockSkew, "clock-skew", defaultClockSkew, "leeway for exp, nbf and iat")
	fs.IntVar(&c.Verify.TokenCacheSize, "token-cache-size", defaultTokenCacheSize, "verified tokens remembered (keyed by a hash of the whole token); 0 disables the cache")
	fs.IntVar(&c.Verify.DecisionCacheSize, "decision-cache-size", defaultDecisionCacheSize, "exact decisions remembered (same token, action, resource, context and policy revision; deterministic policies only; admitted when evaluated a second time); 0 disables the cache")
}

// parseFlags parses args with each flag's VERDICT_<FLAG> environment variable
// as its default, so an explicit flag wins over the environment.
// -h or --help prints the usage and returns flag.ErrHelp (exit status 0).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	describeValues(fs)
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q in environment variable %s (--%s): %w", v, name, f.Name, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The error is returned, and printed once by main; the usage only
	// when asked for.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
	}
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// envName maps a flag name to its environment variable: clock-skew → VERDICT_CLOCK_SKEW.
func envName(flagName string) string {
	return "VERDICT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyClerkEnv reads Clerk's own variables, which stand in for a flag that
// was not given.
func applyClerkEnv(c *keyConfig, getenv func(string) string) {
	if c.JWTKeyFile == "" {
		c.JWTKeyPEM = getenv("CLERK_JWT_KEY")
	}
	if c.ClerkSecretKey == "" {
		c.ClerkSecretKey = getenv("CLERK_SECRET_KEY")
	}
}

// applyClerkWebhookEnv reads CLERK_WEBHOOK_SIGNING_SECRET, the name Clerk's
// own SDKs read the webhook secret from, when the flag was not given.
func applyClerkWebhookEnv(c *revocationConfig, getenv func(string) string) {
	if c.WebhookSecret == "" {
		c.WebhookSecret = getenv("CLERK_WEBHOOK_SIGNING_SECRET")
	}
}

// validate checks that exactly one key source is configured.
func (c keyConfig) validate() error {
	var given []string
	for _, s := range []struct{ name, value string }{
		{"--jwks-url", c.JWKSURL},
		{"--jwks-file", c.JWKSFile},
		{"--jwt-key-file", c.JWTKeyFile},
		{"CLERK_JWT_KEY", c.JWTKeyPEM},
		{"--clerk-secret-key/CLERK_SECRET_KEY", c.ClerkSecretKey},
	} {
		if s.value != "" {
			given = append(given, s.name)
		}
	}
	switch len(given) {
	case 1:
		return nil
	case 0:
		return errors.New("no key source: give exactly one of --jwks-url, --jwks-file, --jwt-key-file (or CLERK_JWT_KEY), --clerk-secret-key (or CLERK_SECRET_KEY)")
	}
	return fmt.Errorf("more than one key source (%s): give exactly one", strings.Join(given, ", "))
}

// validateServer checks the flags serve and dev share.
func (c serviceConfig) validateServer() error {
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if c.Revocation.TTL <= 0 {
		return fmt.Errorf("--revocation-ttl must be positive, got %s", c.Revocation.TTL)
	}
	if c.EvalTimeout < 0 {
		return fmt.Errorf("--eval-timeout must not be negative, got %s", c.EvalTimeout)
	}
	if c.MaxInflightBytes <= 0 {
		return fmt.Errorf("--max-inflight-bytes must be positive, got %d", c.MaxInflightBytes)
	}
	return validatePublicURL(c.PublicURL)
}

// validatePublicURL accepts an absolute http(s) URL without a query or a
// fragment, as AuthZEN's PDP identifier must be (https in production).
func validatePublicURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--public-url must be an absolute http(s) URL without user, query or fragment (https://pdp.example.com), got %q", s)
	}
	return nil
}

func (c verifyConfig) validate() error {
	if c.ClockSkew < 0 {
		return fmt.Errorf("--clock-skew must not be negative, got %s", c.ClockSkew)
	}
	if c.TokenCacheSize < 0 || c.DecisionCacheSize < 0 {
		return fmt.Errorf("--token-cache-size and --decision-cache-size must not be negative, got %d and %d", c.TokenCacheSize, c.DecisionCacheSize)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
