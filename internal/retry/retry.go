// Package retry holds the waits of a client that polls or retries a
// server shared by a fleet: exponential backoff, jitter so that replicas
// do not call in step, and a sleep that ends with its context.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the wait after the n-th failure in a row (n ≥ 1): minimum
// doubled n-1 times, at most maximum.
func Backoff(n int, minimum, maximum time.Duration) time.Duration {
	d := minimum
	for i := 1; i < n && d < maximum; i++ {
		d *= 2
	}
	return min(d, maximum)
}

// Below spreads a retry over [d/2, d): never later than d.
func Below(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// Around spreads a poll over d ± 10 %.
func Around(d time.Duration) time.Duration {
	spread := d / 5
	if spread <= 0 {
		return d
	}
	return d - spread/2 + rand.N(spread)
}

// Sleep waits for d and reports false if ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
