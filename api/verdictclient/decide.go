package verdictclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strconv"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"
)

// ErrNoDecision is wrapped by every error of a check that Verdict did not
// decide: it could not be reached in time, or answered anything but a
// decision. Such a check is never an allow.
var ErrNoDecision = errors.New("verdict gave no decision")

// StatusError is an answer of Verdict's other than 200: the status and, when
// the body is Verdict's error envelope, its code and message.
type StatusError struct {
	StatusCode int
	Code       string
	Message    string
}

func (e *StatusError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("verdict answered %d", e.StatusCode)
	}
	return fmt.Sprintf("verdict answered %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// maxAnswerBytes bounds the body read from Verdict. A decision is a few
// hundred bytes; one cut short fails to decode, so it is refused.
const maxAnswerBytes = 1 << 20

// retryable marks the failure of an attempt that another attempt may not
// repeat: POST /v1/check has no side effects, so asking again is safe.
type retryable struct {
	err error
	// after is the wait that Verdict asked for (Retry-After), when
	// hasAfter; else the backoff applies.
	after    time.Duration
	hasAfter bool
}

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

// decide asks Verdict about req, retrying failures that may pass, until an
// answer, MaxAttempts, Timeout or the end of ctx.
func (a *Authorizer) decide(ctx context.Context, req CheckRequest, requestID string) (*Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	edit := a.headers(requestID)
	for n := 1; ; n++ {
		d, err := a.attempt(ctx, req, edit)
		if err == nil {
			return d, nil
		}
		var r *retryable
		if !errors.As(err, &r) || n == a.opts.MaxAttempts {
			return nil, fmt.Errorf("%w (%d attempts): %w", ErrNoDecision, n, err)
		}
		if werr := wait(ctx, a.delay(n, r)); werr != nil {
			return nil, fmt.Errorf("%w (%d attempts, then %w): %w", ErrNoDecision, n, werr, err)
		}
	}
}

// attempt makes one request to Verdict, bounded by AttemptTimeout.
func (a *Authorizer) attempt(ctx context.Context, req CheckRequest, edit RequestEditorFn) (*Decision, error) {
	actx, cancel := context.WithTimeout(ctx, a.opts.AttemptTimeout)
	defer cancel()
	resp, err := a.client.Check(actx, req, edit)
	if err != nil {
		return nil, a.unlessDone(ctx, err)
	}
	resp.Body = limitedBody{io.LimitReader(resp.Body, maxAnswerBytes), resp.Body}
	parsed, err := ParseCheckHTTPResponse(resp)
	switch {
	case err != nil && actx.Err() != nil: // the body was cut short by the attempt's timeout
		return nil, a.unlessDone(ctx, fmt.Errorf("read the answer: %w", err))
	case err != nil && !retryableStatus(resp.StatusCode):
		return nil, fmt.Errorf("decode the answer (status %d): %w", resp.StatusCode, err)
	case resp.StatusCode != http.StatusOK:
		return nil, statusError(resp, parsed)
	case parsed.JSON200 == nil || !isJSON(resp.Header.Get("Content-Type")):
		return nil, fmt.Errorf("answer of type %q is not a decision", resp.Header.Get("Content-Type"))
	case parsed.JSON200.Reason == "" || parsed.JSON200.DecisionId == (openapi_types.UUID{}):
		// Every decision names its reason and has an id: a 200 without them
		// comes from something that is not Verdict.
		return nil, errors.New("answer is not a decision: no reason or decision_id")
	}
	return parsed.JSON200, nil
}

// isJSON reports whether contentType is application/json, the type
// Verdict answers with.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}

// unlessDone marks err retryable, unless the whole decision's context is
// over: then no attempt may follow.
func (a *Authorizer) unlessDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return &retryable{err: err}
}

// retryableStatus reports whether Verdict (or a proxy before it) may answer
// differently soon: rate limited, a bad gateway, overloaded, a timeout.
// Anything else, a 400, 401, 413, 415 or 500 among them, would be answered
// the same again.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// statusError describes an answer other than 200, retryable when its status
// is.
func statusError(resp *http.Response, parsed *CheckHTTPResponse) error {
	err := &StatusError{StatusCode: resp.StatusCode}
	var env Error
	if parsed != nil && json.Unmarshal(parsed.Body, &env) == nil {
		err.Code, err.Message = string(env.Error.Code), env.Error.Message
	}
	if !retryableStatus(resp.StatusCode) {
		return err
	}
	after, ok := retryAfter(resp.Header.Get("Retry-After"))
	return &retryable{err: err, after: after, hasAfter: ok}
}

// retryAfter reads a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// delay is the wait before retry n (1 for the first retry): what Verdict
// asked for, up to MaxRetryAfter, else the doubled Backoff with equal
// jitter, so that callers that failed together do not retry together.
func (a *Authorizer) delay(n int, r *retryable) time.Duration {
	if r.hasAfter {
		return min(r.after, a.opts.MaxRetryAfter)
	}
	d := a.opts.Backoff
	for i := 1; i < n && d < a.opts.Timeout; i++ {
		d *= 2
	}
	return d/2 + rand.N(d/2+1)
}

// wait sleeps for d, or less when ctx ends first (then its error).
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// headers sets, on each request to Verdict, the caller's API key and the
// incoming request's id, so that Verdict's logs name the same request.
func (a *Authorizer) headers(requestID string) RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		if a.opts.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+a.opts.APIKey)
		}
		if requestID != "" {
			req.Header.Set("X-Request-Id", requestID)
		}
		return nil
	}
}

// limitedBody reads at most maxAnswerBytes and closes the whole body.
type limitedBody struct {
	io.Reader
	io.Closer
}
