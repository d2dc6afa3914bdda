package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/retry"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 8: time.Minute, 1000: time.Minute} {
		if got := retry.Backoff(n, time.Second, time.Minute); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestJitterStaysInItsRange(t *testing.T) {
	t.Parallel()
	for range 1000 {
		if d := retry.Below(time.Second); d < 500*time.Millisecond || d >= time.Second {
			t.Fatalf("Below(1s) = %s", d)
		}
		if d := retry.Around(10 * time.Second); d < 9*time.Second || d >= 11*time.Second {
			t.Fatalf("Around(10s) = %s", d)
		}
	}
	if retry.Below(1) != 1 || retry.Around(4) != 4 {
		t.Error("a wait too short to spread changed")
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if retry.Sleep(ctx, time.Hour) {
		t.Error("Sleep waited out an hour on an ended context")
	}
	if !retry.Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep reported an end that did not happen")
	}
}
