package httpapi_test

import (
	"context"
	"sync"
	"testing"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestConcurrentChecksShareOneToken runs many checks for one token at once,
// with and without the decision cache: they share the verified-token cache
// entry and the principal's policy input, which the race detector watches.
func TestConcurrentChecksShareOneToken(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 100} {
		s := newBenchServiceWith(t, authz.Options{DecisionCacheSize: size})
		checks := []authz.Check{
			benchCheck,
			{Action: "billing:manage", Resource: &authz.Resource{OrgID: "org_1"}},
			{Action: "org:posts:publish", Resource: &authz.Resource{OrgID: "org_1"}},
			{Action: "tasks:read", Resource: &authz.Resource{OrgID: "org_2"}},
		}
		want := []authz.Reason{"membership", "missing_role", "permission", "tenant_mismatch"}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 40 {
					k := (i + w) % len(checks)
					d, err := s.decider.Check(context.Background(), s.token, checks[k])
					if err != nil || d.Reason != want[k] {
						t.Errorf("cache %d: check %s = %+v, %v; want %s", size, checks[k].Action, d, err, want[k])
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
