package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// shadowPolicies is the --shadow-policies set: loaded, watched and
// reloaded like the serving set, but a set that does not compile is only
// logged, and the shadow evaluates nothing until it does; serving is never
// touched.
type shadowPolicies struct {
	dir     string
	logger  *slog.Logger
	timeout time.Duration
	current atomic.Pointer[policy.Engine]
	lastErr string // the last load failure logged, so that a retry logs only news
}

// evaluator is the set to evaluate, nil while none has compiled.
func (s *shadowPolicies) evaluator() authz.Evaluator {
	if e := s.current.Load(); e != nil {
		return e
	}
	return nil
}

// load tries to load the set once, logging why it could not.
func (s *shadowPolicies) load(ctx context.Context) {
	e, err := policy.Load(ctx, policy.Dir(s.dir), policy.Options{
		Logger: s.logger.With("policies", "shadow"), Dir: s.dir, EvalTimeout: s.timeout,
	})
	if err != nil {
		if err.Error() != s.lastErr {
			s.lastErr = err.Error()
			s.logger.Error("shadow policies do not compile; serving is unchanged", "dir", s.dir, "error", err)
		}
		return
	}
	s.current.Store(e)
	s.logger.Info("shadow policies loaded", "dir", s.dir, "policy_revision", e.Revision())
}

// run loads the set until it compiles, then watches it, until ctx ends.
func (s *shadowPolicies) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for s.current.Load() == nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.load(ctx)
		}
	}
	s.current.Load().Watch(ctx, interval)
}
