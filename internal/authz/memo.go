package authz

import "sync"

// Memo holds one value derived from a principal, computed at most once and
// shared by every request that carries the same verified token. The
// verifier attaches a Memo to each principal it verifies; the policy engine
// keeps the principal's policy input there, so a session's repeated checks
// do not rebuild it.
//
// The zero value is ready to use; a nil *Memo computes the value every time.
type Memo struct {
	once  sync.Once
	value any
}

// Get returns the memoized value, computing it with compute on first use.
// Callers must treat the value as immutable: it is shared.
func (m *Memo) Get(compute func() any) any {
	if m == nil {
		return compute()
	}
	m.once.Do(func() { m.value = compute() })
	return m.value
}
