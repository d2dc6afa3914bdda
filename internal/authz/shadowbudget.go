package authz

import (
	"runtime"
	"time"
)

// MinShadowShare is the share of a core the shadow may always spend
// evaluating, however busy the process is: on a saturated core it is
// about what the shadow takes from the answers (a few hundred decisions a
// second, a sample), and what it leaves them.
const MinShadowShare = 0.01

// shadowBurst is the most evaluating time the budget saves while the
// shadow has nothing to do, and the most it may owe after an evaluation
// that ran long: a burst of decisions on a quiet service is shadowed
// whole, and one slow evaluation pauses the shadow for at most
// shadowBurst divided by the share.
const shadowBurst = 50 * time.Millisecond

// shareRefresh is how often the share follows the runtime's CPU
// accounting.
const shareRefresh = 100 * time.Millisecond

// cpuBudget is a token bucket of evaluating time, refilled at a share of
// the CPU that follows how busy the process is: half of what it left idle
// of its cores (GOMAXPROCS) since the last reading, at least
// MinShadowShare of a core. On a core with room to spare the shadow keeps
// up with every decision; on a saturated one it spends its floor, spread
// out (an evaluation whenever the bucket is in credit), not in bursts that
// would hold up answers. Only the shadow's worker uses it.
type cpuBudget struct {
	credit time.Duration
	last   time.Time // when credit was last refilled
	share  float64   // of a core
	// processCPU returns the CPU time the process has used (false where
	// the platform does not say: the share stays at its floor).
	processCPU func() (time.Duration, bool)
	readAt     time.Time // the last reading, zero before the first
	used       time.Duration
}

func newCPUBudget(now time.Time) *cpuBudget {
	return &cpuBudget{credit: shadowBurst, last: now, share: MinShadowShare, processCPU: processCPU}
}

// take reports whether the budget is in credit at now for one more
// evaluation, and when not, the time it will be.
func (b *cpuBudget) take(now time.Time) (resume time.Time, ok bool) {
	if now.Sub(b.readAt) >= shareRefresh {
		b.readShare(now)
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.credit = min(shadowBurst, b.credit+time.Duration(b.share*float64(elapsed)))
		b.last = now
	}
	if b.credit >= 0 {
		return time.Time{}, true
	}
	return now.Add(time.Duration(float64(-b.credit) / b.share)), false
}

// spend pays for an evaluation that took d.
func (b *cpuBudget) spend(d time.Duration) {
	b.credit = max(-shadowBurst, b.credit-d)
}

// readShare sets the share from the CPU the process used since the last
// reading. The process's own CPU time, not the Go scheduler's idle time:
// a thread in a system call holds a core that the scheduler counts idle.
func (b *cpuBudget) readShare(now time.Time) {
	used, ok := b.processCPU()
	if !ok {
		return
	}
	if wall := now.Sub(b.readAt); !b.readAt.IsZero() && wall > 0 {
		b.share = shadowShare(runtime.GOMAXPROCS(0), float64(used-b.used)/float64(wall))
	}
	b.readAt, b.used = now, used
}

// shadowShare is the share of a core the shadow may spend when the
// process has procs cores and kept busy of them busy: half the idle ones,
// at least MinShadowShare.
func shadowShare(procs int, busy float64) float64 {
	return max(MinShadowShare, (float64(procs)-busy)/2)
}
