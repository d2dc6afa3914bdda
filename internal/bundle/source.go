package bundle

import (
	"context"
	"log/slog"
	"time"
)

// Result is what one poll of a bundle source came to. Its values label
// verdict_bundle_requests_total{result}.
type Result string

// The results of a poll.
const (
	// ResultActivated: a new bundle was verified and activated.
	ResultActivated Result = "activated"
	// ResultNotModified: the bundle is the one serving (304 Not Modified,
	// or the same bytes), or the one last refused; nothing changes.
	ResultNotModified Result = "not_modified"
	// ResultRefused: a new bundle was refused (too large, malformed,
	// unsigned or tampered, or rejected by the activation callback); the
	// current policies keep serving, and the same bundle is not tried
	// again until it changes.
	ResultRefused Result = "refused"
	// ResultError: no bundle was obtained (the server unreachable or
	// answering an error, the file unreadable); retried.
	ResultError Result = "error"
)

// ActivateFunc puts a bundle's policy set in service, typically by
// compiling b.FS() and swapping it in. An error refuses the bundle, and
// the policies serving before keep serving.
type ActivateFunc func(ctx context.Context, b *Bundle) error

// DefaultInterval is how often an HTTPSource polls its server.
const DefaultInterval = 30 * time.Second

// logOutcome logs what a poll came to; the caller counts it.
func logOutcome(ctx context.Context, logger *slog.Logger, res Result, err error, b *Bundle, from string) {
	switch res {
	case ResultActivated:
		logger.InfoContext(ctx, "policy bundle activated", "from", from, "bundle_revision", b.Revision(), "digest", b.Digest())
	case ResultNotModified:
		logger.DebugContext(ctx, "policy bundle not modified", "from", from)
	case ResultRefused:
		logger.ErrorContext(ctx, "policy bundle refused; the current policies keep serving", "from", from, "err", err)
	case ResultError:
		logger.WarnContext(ctx, "policy bundle unavailable; retrying", "from", from, "err", err)
	}
}
