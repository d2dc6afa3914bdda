package policy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ruleQuery is one rule of a compiled policy set, prepared once per revision and
// evaluated by OPA's evaluator (topdown) directly. rego.PreparedEvalQuery
// does the same work plus what a general-purpose API needs and Verdict does
// not (metrics, result conversion, a goroutine per evaluation that watches
// the context), which costs about a fifth of a decision and wakes the
// scheduler twice per request.
type ruleQuery struct {
	ref      string // the rule, as in errors: "data.verdict.authz.decision"
	compiler *ast.Compiler
	store    storage.Store
	body     ast.Body // resultVar = <ref>, compiled
	caches   ruleCaches
	// carried are the values carried between evaluations of the same
	// session (and action) (reuse.go); nil when the policies are not
	// deterministic.
	carried *carriedResults
	// actionFree reports whether a virtual-cache key names a value that
	// cannot depend on input.action (reuse.go), which the evaluations of
	// one call's actions share (runner.shareAcrossActions); nil when the
	// policies are not deterministic.
	actionFree func(ast.Ref) bool
}

// noMetrics spares each evaluation the metrics topdown would otherwise
// create and time: nothing reads them.
var noMetrics = metrics.NoOp()

// resultVar is the variable the prepared query binds to the rule's value.
var resultVar = ast.Var("__verdict_result__")

func prepareQuery(compiler *ast.Compiler, store storage.Store, ref string) (*ruleQuery, error) {
	parsed, err := ast.ParseBody(fmt.Sprintf("%s = %s", resultVar, ref))
	if err != nil {
		return nil, fmt.Errorf("parse query %s: %w", ref, err)
	}
	body, err := compiler.QueryCompiler().Compile(parsed)
	if err != nil {
		return nil, fmt.Errorf("compile query %s: %w", ref, err)
	}
	return &ruleQuery{ref: ref, compiler: compiler, store: store, body: body}, nil
}

// eval evaluates the rule for input, stopping at timeout or when ctx ends,
// whichever comes first. It returns the rule's single value; an undefined
// rule is ErrUndefined. A stop at the deadline is ErrEvalTimeout. tracer,
// when not nil, sees every step. carry, when not nil, brings values known
// before the evaluation starts and receives what it computed (reuse.go).
func (q *ruleQuery) eval(ctx context.Context, input ast.Value, timeout time.Duration, tracer topdown.QueryTracer, carry *carry) (v ast.Value, computed []cachedRule, err error) {
	r, err := q.start(ctx, timeout)
	if err != nil {
		return nil, nil, err
	}
	defer r.close()
	return r.eval(input, tracer, carry)
}

// runner evaluates a rule several times in a row, for one call (the
// actions of one resource): what does not depend on the input is set up
// once. The policies' store is only read, so one transaction sees the same
// data for every evaluation; the cancel hook on ctx, the deadline's timer
// and the rule cache are reused. Each evaluation still gets the whole
// timeout, its own clock reading (time.now_ns) and an empty rule cache, so
// it answers exactly as an evaluation of its own. A runner is used by one
// goroutine.
type runner struct {
	q       *ruleQuery
	ctx     context.Context
	timeout time.Duration
	txn     storage.Transaction
	rules   *ruleCache
	stop    atomic.Pointer[deadline] // the current evaluation's
	unhook  func() bool
	// share, when not nil, picks the values the evaluations hand on to
	// the next ones, kept in shared (shareAcrossActions).
	share  func(ast.Ref) bool
	shared []cachedRule
}

// deadline stops one evaluation: the evaluator checks its cancel flag as
// it goes; the flag is raised by a timer at the deadline, or by ctx
// ending, without a goroutine of its own.
type deadline struct {
	cancel   topdown.Cancel
	timedOut atomic.Bool
	timer    *time.Timer
}

func newDeadline(timeout time.Duration) *deadline {
	d := &deadline{cancel: topdown.NewCancel()}
	d.timer = time.AfterFunc(timeout, func() {
		d.timedOut.Store(true)
		d.cancel.Cancel()
	})
	return d
}

// start opens a runner; close must follow.
func (q *ruleQuery) start(ctx context.Context, timeout time.Duration) (*runner, error) {
	txn, err := q.store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("open store transaction: %w", err)
	}
	r := &runner{q: q, ctx: ctx, timeout: timeout, txn: txn, rules: q.caches.get()}
	r.unhook = context.AfterFunc(ctx, func() {
		if d := r.stop.Load(); d != nil {
			d.cancel.Cancel()
		} // else arm sees ctx.Err
	})
	return r, nil
}

func (r *runner) close() {
	r.unhook()
	if d := r.stop.Load(); d != nil {
		d.timer.Stop()
	}
	r.q.caches.put(r.rules)
	r.q.store.Abort(r.ctx, r.txn)
}

// shareAcrossActions declares that the evaluations to come on r differ
// only in input.action (the actions of one resource): each then starts
// knowing the values the earlier ones computed for rules that cannot
// depend on the action (reuse.go), as an evaluation of its own would
// compute them. Nothing is shared when the policies are not
// deterministic.
func (r *runner) shareAcrossActions() { r.share = r.q.actionFree }

// arm gives the next evaluation the whole timeout. The timer of the last
// one is reset when it had not fired; one that fired (its flag raised, or
// about to be) is replaced.
func (r *runner) arm() *deadline {
	d := r.stop.Load()
	if d != nil && d.timer.Stop() {
		d.timer.Reset(r.timeout)
		return d
	}
	d = newDeadline(r.timeout)
	r.stop.Store(d)
	// ctx may have ended before the new flag was in place, when the hook
	// raised the previous one.
	if r.ctx.Err() != nil {
		d.cancel.Cancel()
	}
	return d
}

// eval is one evaluation (ruleQuery.eval).
func (r *runner) eval(input ast.Value, tracer topdown.QueryTracer, carry *carry) (v ast.Value, computed []cachedRule, err error) {
	q, ctx, rules := r.q, r.ctx, r.rules
	if r.stop.Load() != nil {
		rules.reset() // the previous evaluation's values are its own
	}
	if carry != nil {
		rules.carried = carry.prior.values
	}
	rules.shared = r.shared
	d := r.arm()
	tq := topdown.NewQuery(q.body).
		WithCompiler(q.compiler).
		WithStore(q.store).
		WithTransaction(r.txn).
		WithInput(ast.NewTerm(input)).
		WithCancel(d.cancel).
		WithVirtualCache(rules).
		WithMetrics(noMetrics).
		WithStrictBuiltinErrors(true)
	if tracer != nil {
		tq = tq.WithQueryTracer(tracer)
	}
	results, err := tq.Run(ctx)
	switch {
	case err != nil && d.timedOut.Load() && ctx.Err() == nil:
		return nil, nil, fmt.Errorf("%w (%s)", ErrEvalTimeout, r.timeout)
	case err != nil:
		return nil, nil, err
	case len(results) == 0:
		return nil, nil, fmt.Errorf("%s: %w", q.ref, ErrUndefined)
	case len(results) > 1:
		return nil, nil, fmt.Errorf("%s has %d results, want 1", q.ref, len(results))
	}
	t := results[0][resultVar]
	if t == nil {
		return nil, nil, fmt.Errorf("%s: %w", q.ref, ErrUndefined)
	}
	if carry != nil && carry.capture {
		computed = rules.carry(carry.keep, carry.prior.refreshes == 1, carry.key.principal.obj)
	}
	if r.share != nil {
		r.shared = rules.share(r.share, r.shared)
	}
	return t.Value, computed, nil
}
