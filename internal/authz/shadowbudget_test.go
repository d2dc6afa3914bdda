package authz

import (
	"runtime"
	"testing"
	"time"
)

func TestShadowShare(t *testing.T) {
	for _, c := range []struct {
		name        string
		procs       int
		busy, share float64
	}{
		{"saturated: the floor", 1, 1, MinShadowShare},
		{"busier than its cores (runtime threads): the floor", 1, 1.3, MinShadowShare},
		{"all but a sliver busy: the floor", 1, 0.99, MinShadowShare},
		{"half idle: half of it", 1, 0.5, 0.25},
		{"four idle cores: two", 4, 0, 2},
		{"one of four cores idle", 4, 3, 0.5},
	} {
		if got := shadowShare(c.procs, c.busy); got != c.share {
			t.Errorf("%s: shadowShare(%d, %v) = %v, want %v", c.name, c.procs, c.busy, got, c.share)
		}
	}
}

// fixedShareBudget is a budget on a platform that does not say what CPU
// the process used: its share stays at the floor.
func fixedShareBudget(now time.Time) *cpuBudget {
	b := newCPUBudget(now)
	b.processCPU = func() (time.Duration, bool) { return 0, false }
	return b
}

func TestCPUBudget(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	b := fixedShareBudget(t0)
	step := func(at time.Duration, spend time.Duration, wantOK bool, wantResume time.Duration) {
		t.Helper()
		resume, ok := b.take(t0.Add(at))
		if ok != wantOK || (!ok && !resume.Equal(t0.Add(wantResume))) {
			t.Fatalf("take at %v: ok %v, resume %v; want %v, %v", at, ok, resume.Sub(t0), wantOK, wantResume)
		}
		if ok {
			b.spend(spend)
		}
	}
	// A burst is paid from what the budget saved.
	step(0, 30*time.Millisecond, true, 0)
	step(0, 30*time.Millisecond, true, 0)
	// 10 ms owed at 1% of a core: a second until the next evaluation.
	step(0, 0, false, time.Second)
	step(500*time.Millisecond, 0, false, time.Second)
	step(time.Second, 200*time.Microsecond, true, 0)
	step(time.Second, 0, false, time.Second+20*time.Millisecond)
	// What an evaluation that ran long owes is bounded.
	step(2*time.Second, 10*time.Second, true, 0)
	step(2*time.Second, 0, false, 2*time.Second+time.Duration(float64(shadowBurst)/MinShadowShare))
	// An hour idle saves no more than a burst.
	step(time.Hour, shadowBurst, true, 0)
	step(time.Hour, time.Microsecond, true, 0)
	step(time.Hour, 0, false, time.Hour+100*time.Microsecond)
}

// TestCPUBudgetFollowsTheProcess: the share follows the CPU the process
// used between readings, and this process's CPU time is read for real.
func TestCPUBudgetFollowsTheProcess(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var used time.Duration
	b := newCPUBudget(t0)
	b.processCPU = func() (time.Duration, bool) { return used, true }
	b.readShare(t0) // the first reading only starts counting
	if b.share != MinShadowShare {
		t.Fatalf("share %v after the first reading, want the floor", b.share)
	}
	procs := float64(runtime.GOMAXPROCS(0))
	for _, c := range []struct {
		busy, share float64 // cores used until the next reading
	}{
		{procs, MinShadowShare},
		{procs - 0.5, 0.25},
		{0, procs / 2},
		{procs + 1, MinShadowShare},
	} {
		used += time.Duration(c.busy * float64(time.Second))
		t0 = t0.Add(time.Second)
		b.readShare(t0)
		if b.share != c.share {
			t.Errorf("%v of %v cores busy: share %v, want %v", c.busy, procs, b.share, c.share)
		}
	}

	before, ok := processCPU()
	if !ok {
		t.Skip("this platform does not report the process's CPU time")
	}
	for end := time.Now().Add(20 * time.Millisecond); time.Now().Before(end); {
	}
	if after, _ := processCPU(); after <= before {
		t.Errorf("process CPU time %v after spinning, %v before", after, before)
	}
}
