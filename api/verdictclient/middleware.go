package verdictclient

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the Options fields left zero.
const (
	DefaultAttemptTimeout = time.Second
	DefaultTimeout        = 3 * time.Second
	DefaultMaxAttempts    = 3
	DefaultBackoff        = 50 * time.Millisecond
	DefaultMaxRetryAfter  = time.Second
)

// Options configures an Authorizer. The zero value is usable: a zero field
// takes the default named in its comment.
type Options struct {
	// APIKey is sent to Verdict as "Authorization: Bearer <APIKey>", as a
	// Verdict run with --api-keys-file requires. Empty sends none.
	APIKey string

	// HTTPClient sends the requests to Verdict (TLS settings, client
	// certificates, tracing). Nil uses a plain http.Client.
	HTTPClient HttpRequestDoer

	// AttemptTimeout bounds one request to Verdict (DefaultAttemptTimeout).
	AttemptTimeout time.Duration

	// Timeout bounds one decision, retries and the waits between them
	// included (DefaultTimeout). The incoming request's context bounds it
	// too.
	Timeout time.Duration

	// MaxAttempts is how many requests one decision may take
	// (DefaultMaxAttempts); 1 never retries.
	MaxAttempts int

	// Backoff is the wait before the first retry, doubled before each next
	// one, with jitter (DefaultBackoff).
	Backoff time.Duration

	// MaxRetryAfter caps the wait a Retry-After header asks for
	// (DefaultMaxRetryAfter); it replaces Backoff when Verdict sends one.
	MaxRetryAfter time.Duration

	// DenyHandler answers a request that Verdict denied
	// (DefaultDenyHandler).
	DenyHandler func(w http.ResponseWriter, r *http.Request, d *Decision)

	// ErrorHandler answers a request that got no decision: the CheckFunc
	// failed, or Verdict gave no decision (the error wraps ErrNoDecision).
	// It must not call the protected handler (DefaultErrorHandler).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// CheckFunc derives from an incoming request what to ask Verdict: the
// action, and the resource and context it is about. The middleware sets
// Token itself. An error refuses the request through the ErrorHandler
// without asking Verdict.
type CheckFunc func(r *http.Request) (CheckRequest, error)

// Authorizer asks a Verdict service for decisions. It is safe for
// concurrent use; one Authorizer serves any number of middlewares.
type Authorizer struct {
	client *Client
	opts   Options
}

// NewAuthorizer returns an Authorizer for the Verdict service at server
// (its base URL, such as "http://verdict:8080").
func NewAuthorizer(server string, opts Options) (*Authorizer, error) {
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("verdict server %q: want an http(s) base URL", server)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	client, err := NewClient(server, WithHTTPClient(noRedirects(opts.HTTPClient)))
	if err != nil {
		return nil, fmt.Errorf("verdict client: %w", err)
	}
	return &Authorizer{client: client, opts: opts}, nil
}

// noRedirects is doer, or a default client, that never follows a
// redirect: a check carries the end user's session token and the caller's
// API key, which must reach Verdict and nothing else, and an answer from
// wherever a redirect points is not Verdict's. A redirect is then answered
// as what it is, a status that is no decision. A doer that is not an
// *http.Client is taken as it is.
func noRedirects(doer HttpRequestDoer) HttpRequestDoer {
	var c http.Client
	switch d := doer.(type) {
	case nil:
	case *http.Client:
		c = *d
	default:
		return doer
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func (o *Options) setDefaults() error {
	if o.AttemptTimeout < 0 || o.Timeout < 0 || o.MaxAttempts < 0 || o.Backoff < 0 || o.MaxRetryAfter < 0 {
		return errors.New("verdict options: timeouts, attempts and waits must not be negative")
	}
	o.AttemptTimeout = cmp.Or(o.AttemptTimeout, DefaultAttemptTimeout)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.MaxAttempts = cmp.Or(o.MaxAttempts, DefaultMaxAttempts)
	o.Backoff = cmp.Or(o.Backoff, DefaultBackoff)
	o.MaxRetryAfter = cmp.Or(o.MaxRetryAfter, DefaultMaxRetryAfter)
	if o.DenyHandler == nil {
		o.DenyHandler = DefaultDenyHandler
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = DefaultErrorHandler
	}
	return nil
}

// Middleware returns a middleware that lets a request through to the next
// handler only when Verdict allows what check derives from it; the Decision
// is then in the request's context (DecisionFrom). A denial goes to the
// DenyHandler, a request that got no decision to the ErrorHandler.
func (a *Authorizer) Middleware(check CheckFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, err := check(r)
			if err != nil {
				a.opts.ErrorHandler(w, r, fmt.Errorf("derive the check: %w", err))
				return
			}
			req.Token = sessionToken(r)
			d, err := a.decide(r.Context(), req, r.Header.Get("X-Request-Id"))
			switch {
			case err != nil:
				a.opts.ErrorHandler(w, r, err)
			case !d.Allow:
				a.opts.DenyHandler(w, r, d)
			default:
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
			}
		})
	}
}

// sessionToken finds the Clerk session token of r where Clerk's backend SDK
// looks (authenticateRequest in @clerk/backend): an Authorization header,
// when present, wins over the __session cookie, and its "Bearer " prefix is
// removed. Like Clerk, a header without that prefix is taken as the token
// (and refused by Verdict as token_invalid) rather than falling back to the
// cookie. Clerk's suffixed multi-app cookies (__session_<suffix>) are not
// read.
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			return h[len("Bearer "):]
		}
		return h
	}
	if c, err := r.Cookie("__session"); err == nil {
		return c.Value
	}
	return ""
}

type decisionKey struct{}

// DecisionFrom returns the decision that let the request through, when the
// context is that of a request the middleware allowed.
func DecisionFrom(ctx context.Context) (*Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	return d, ok
}

// DenyStatus is the HTTP status for a denial with this reason: 401 when the
// session token kept the user from being signed in (no token, an expired,
// invalid, pending or revoked one: Clerk treats such a request as signed
// out), else 403.
func DenyStatus(reason Reason) int {
	switch reason {
	case "unauthenticated", "token_expired", "token_invalid", "session_pending", "session_revoked":
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// DefaultDenyHandler answers DenyStatus(d.Reason) with a JSON error whose
// code is the reason and which carries the decision id (to find the
// decision in Verdict's logs). Verdict's message is not sent: it may name
// roles and organizations that are not the end user's business.
func DefaultDenyHandler(w http.ResponseWriter, _ *http.Request, d *Decision) {
	status := DenyStatus(d.Reason)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeError(w, status, errorBody{Code: d.Reason, Message: http.StatusText(status), DecisionID: d.DecisionId.String()})
}

// DefaultErrorHandler answers 503 when Verdict gave no decision (err wraps
// ErrNoDecision), else 403; nothing is allowed either way.
func DefaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	if errors.Is(err, ErrNoDecision) {
		writeError(w, http.StatusServiceUnavailable, errorBody{Code: "authorization_unavailable", Message: "no authorization decision could be made; nothing was allowed"})
		return
	}
	writeError(w, http.StatusForbidden, errorBody{Code: "forbidden", Message: http.StatusText(http.StatusForbidden)})
}

type errorBody struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	DecisionID string `json:"decision_id,omitempty"`
}

// writeError writes Verdict's own error envelope, {"error": {...}}.
func writeError(w http.ResponseWriter, status int, body errorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]errorBody{"error": body})
}
