package authz_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// blockedPolicies evaluates only once released.
type blockedPolicies struct {
	fakePolicies
	release chan struct{}
}

func (b blockedPolicies) Evaluate(ctx context.Context, in authz.Input) (authz.Outcome, string, error) {
	<-b.release
	return b.fakePolicies.Evaluate(ctx, in)
}

type shadowCounts struct {
	same, different, skipped atomic.Int64
}

func (c *shadowCounts) ObserveShadow(same bool, _, _ string) {
	if same {
		c.same.Add(1)
	} else {
		c.different.Add(1)
	}
}

func (c *shadowCounts) ObserveShadowSkipped() { c.skipped.Add(1) }

type collectedLog struct {
	mu      sync.Mutex
	records []authz.DecisionRecord
}

func (l *collectedLog) Record(r authz.DecisionRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
}

// TestShadowNeverHoldsADecision: with the shadow set stuck, decisions are
// answered at once, those the queue cannot take are logged without a
// shadow answer and counted as skipped, and Close logs every decision
// exactly once.
func TestShadowNeverHoldsADecision(t *testing.T) {
	t.Parallel()
	candidate := blockedPolicies{fakePolicies: func(authz.Input) (authz.Outcome, error) {
		return authz.Outcome{Allow: false, Reason: "lockdown"}, nil
	}, release: make(chan struct{})}
	counts, log := &shadowCounts{}, &collectedLog{}
	shadow := authz.NewShadow(authz.ShadowOptions{
		Policies: func() authz.Evaluator { return candidate }, Log: log, Recorder: counts, Buffer: 2,
	})
	d := authz.NewDecider(authnReturning(member, nil), fakePolicies(allowAll), nil, authz.Options{Shadow: shadow})
	const n = 20
	for range n {
		dec, err := d.Check(context.Background(), "t", authz.Check{Action: "tasks:read"})
		if err != nil || !dec.Allow {
			t.Fatalf("answer with a shadow set: %+v, %v", dec, err)
		}
	}
	if counts.skipped.Load() < n-3 { // the queue holds 2, the worker 1
		t.Errorf("%d skipped with the shadow set stuck, want at least %d", counts.skipped.Load(), n-3)
	}
	close(candidate.release)
	shadow.Close()
	if got := len(log.records); got != n {
		t.Fatalf("%d decisions logged, want %d", got, n)
	}
	shadowed := 0
	for _, r := range log.records {
		if r.Shadow != nil {
			shadowed++
			if r.Shadow.Reason != "lockdown" || !r.Decision.Allow {
				t.Errorf("record %+v", r)
			}
		}
	}
	if int64(shadowed) != counts.different.Load() || shadowed+int(counts.skipped.Load()) != n {
		t.Errorf("%d records carry a shadow answer, %d differences, %d skipped, of %d", shadowed, counts.different.Load(), counts.skipped.Load(), n)
	}
}

// TestFailedBatchLogsNothing: a batch that fails answers nothing, so its
// decisions made before the failure are not logged either; a batch that
// succeeds logs every item.
func TestFailedBatchLogsNothing(t *testing.T) {
	t.Parallel()
	log := &collectedLog{}
	policies := fakePolicies(func(in authz.Input) (authz.Outcome, error) {
		if in.Check.Action == "boom" {
			return authz.Outcome{}, errors.New("evaluation failed")
		}
		return allowAll(in)
	})
	d := authz.NewDecider(authnReturning(member, nil), policies, nil, authz.Options{Log: log})
	ctx := context.Background()
	if _, err := d.CheckBatch(ctx, "t", []authz.Check{{Action: "a"}, {Action: "b"}, {Action: "boom"}}); err == nil {
		t.Fatal("a failing batch succeeded")
	}
	if len(log.records) != 0 {
		t.Errorf("a failed batch logged %d decisions", len(log.records))
	}
	if _, err := d.CheckBatch(ctx, "t", []authz.Check{{Action: "a"}, {Action: "b"}}); err != nil {
		t.Fatal(err)
	}
	if len(log.records) != 2 {
		t.Errorf("a batch of 2 logged %d decisions", len(log.records))
	}
}
