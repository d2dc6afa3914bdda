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
	txn, err := q.store.NewTransaction(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open store transaction: %w", err)
	}
	defer q.store.Abort(ctx, txn)

	// The evaluator checks its cancel flag as it goes; the flag is raised by
	// a timer at the deadline, or by ctx ending, without a goroutine of
	// its own.
	cancel := topdown.NewCancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		timedOut.Store(true)
		cancel.Cancel()
	})
	defer timer.Stop()
	defer context.AfterFunc(ctx, cancel.Cancel)()

	rules := q.caches.get()
	defer q.caches.put(rules)
	if carry != nil {
		rules.carried = carry.prior.values
	}

	tq := topdown.NewQuery(q.body).
		WithCompiler(q.compiler).
		WithStore(q.store).
		WithTransaction(txn).
		WithInput(ast.NewTerm(input)).
		WithCancel(cancel).
		WithVirtualCache(rules).
		WithMetrics(noMetrics).
		WithStrictBuiltinErrors(true)
	if tracer != nil {
		tq = tq.WithQueryTracer(tracer)
	}
	results, err := tq.Run(ctx)
	switch {
	case err != nil && timedOut.Load() && ctx.Err() == nil:
		return nil, nil, fmt.Errorf("%w (%s)", ErrEvalTimeout, timeout)
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
	return t.Value, computed, nil
}
