package authz

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ShadowOutcome is what a candidate policy set answered for a decision it
// did not make.
type ShadowOutcome struct {
	Allow          bool   `json:"allow"`
	Reason         Reason `json:"reason"`
	PolicyRevision string `json:"policy_revision"`
}

// ShadowRecorder counts what the shadow set answered.
type ShadowRecorder interface {
	// ObserveShadow counts one decision evaluated by the shadow set: the
	// same answer, or a different one (from the serving reason to the
	// shadow's).
	ObserveShadow(same bool, from, to string)
	// ObserveShadowSkipped counts a decision the shadow set could not
	// take (its queue was full, or it failed to evaluate).
	ObserveShadowSkipped()
}

// ShadowOptions configure a Shadow.
type ShadowOptions struct {
	// Policies returns the candidate set to evaluate, nil while there is
	// none (it has not compiled yet). Its Evaluate must accept the serving
	// Evaluator's subjects (both are policy engines).
	Policies func() Evaluator
	// Log, when set, receives every decision after the shadow set has
	// looked at it, with Shadow set when the answers differ.
	Log      DecisionLog
	Recorder ShadowRecorder
	// Buffer is how many decisions may wait; 0 means DefaultShadowBuffer.
	Buffer int
}

// ReasonEvaluationError is what the shadow set and replay answer for a
// decision the candidate policies fail to make (served, a 500). It is
// never a decision's reason.
const ReasonEvaluationError Reason = "evaluation_error"

// DefaultShadowBuffer is how many decisions may wait for the shadow set.
const DefaultShadowBuffer = 1 << 12

// Shadow evaluates a candidate policy set beside the serving one, off the
// response's path: each decision is queued after it is answered, and a
// goroutine of its own evaluates it again, counts whether the answers
// agree and hands the decision to the decision log, with the shadow's
// answer when it differs. What it spends evaluating is paid from a
// cpuBudget: on a core with room to spare it evaluates every decision, on
// a saturated one it samples, so that it takes little from the answers.
// Past its budget, or with its queue full, it skips decisions (counted;
// they still reach the log). The answer is never changed or held up. It
// implements DecisionLog, so the Decider hands it every decision.
type Shadow struct {
	opts   ShadowOptions
	queue  chan shadowJob
	queued atomic.Int64 // what the waiting decisions hold, in bytes
	// pausedUntil (Unix nanoseconds) is when the budget is back in
	// credit: decisions before it are skipped on the request's side,
	// without a queue or a wake-up.
	pausedUntil atomic.Int64
	budget      *cpuBudget // the worker's own
	stop        chan struct{}
	stopOnce    sync.Once
	finished    chan struct{}
}

type shadowJob struct {
	record  DecisionRecord
	subject Subject
	bytes   int64 // record.ApproxBytes
}

// maxShadowQueuedBytes bounds what the decisions waiting for the shadow
// hold: a decision keeps its request's resource and context alive.
const maxShadowQueuedBytes = 32 << 20

// NewShadow starts a Shadow; Close stops it.
func NewShadow(opts ShadowOptions) *Shadow {
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultShadowBuffer
	}
	s := &Shadow{
		opts: opts, queue: make(chan shadowJob, opts.Buffer), budget: newCPUBudget(time.Now()),
		stop: make(chan struct{}), finished: make(chan struct{}),
	}
	go s.run()
	return s
}

// evaluate queues a decision the serving policies made for subject.
func (s *Shadow) evaluate(r DecisionRecord, subject Subject) {
	if r.Time.UnixNano() < s.pausedUntil.Load() {
		s.opts.Recorder.ObserveShadowSkipped()
		s.log(r)
		return
	}
	size := int64(r.ApproxBytes(maxShadowQueuedBytes))
	if s.queued.Add(size) <= maxShadowQueuedBytes {
		select {
		case s.queue <- shadowJob{r, subject, size}:
			return
		default:
		}
	}
	s.queued.Add(-size)
	s.opts.Recorder.ObserveShadowSkipped()
	s.log(r)
}

// Record implements DecisionLog for decisions the policies did not make
// (a refused token): they go to the log as they are.
func (s *Shadow) Record(r DecisionRecord) { s.log(r) }

func (s *Shadow) log(r DecisionRecord) {
	if s.opts.Log != nil {
		s.opts.Log.Record(r)
	}
}

// Close shadows every decision queued (as its budget allows), hands them
// to the log, and stops.
func (s *Shadow) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.finished
}

func (s *Shadow) run() {
	defer close(s.finished)
	for {
		select {
		case job := <-s.queue:
			// A goroutine woken by a channel send runs next, ahead of the
			// requests waiting for a CPU: yield first, so that the shadow
			// takes its turn behind them and no answer waits for it.
			runtime.Gosched()
			s.shadow(job)
		case <-s.stop:
			s.drain()
			return
		}
	}
}

// drain evaluates what is queued, at shutdown.
func (s *Shadow) drain() {
	for {
		select {
		case job := <-s.queue:
			s.shadow(job)
		default:
			return
		}
	}
}

// shadow evaluates one decision with the candidate set, or skips it.
func (s *Shadow) shadow(job shadowJob) {
	defer s.queued.Add(-job.bytes)
	r := job.record
	defer func() { s.log(r) }()
	policies := s.opts.Policies()
	start := time.Now()
	if policies == nil {
		s.opts.Recorder.ObserveShadowSkipped()
		return
	}
	if resume, ok := s.budget.take(start); !ok {
		s.pausedUntil.Store(resume.UnixNano())
		s.opts.Recorder.ObserveShadowSkipped()
		return
	}
	c := r.Check
	c.Explain = false
	out, revision, err := policies.Evaluate(context.Background(), Input{Subject: job.subject, Check: c})
	s.budget.spend(time.Since(start))
	if err != nil { // served, this would have been a 500: a difference
		out = Outcome{Reason: ReasonEvaluationError}
	}
	same := out.Allow == r.Decision.Allow && out.Reason == r.Decision.Reason
	s.opts.Recorder.ObserveShadow(same, string(r.Decision.Reason), string(out.Reason))
	if !same {
		r.Shadow = &ShadowOutcome{Allow: out.Allow, Reason: out.Reason, PolicyRevision: revision}
	}
}
