//go:build !unix

package authz

import "time"

// processCPU does not know the process's CPU time here: the shadow keeps
// to its floor.
func processCPU() (time.Duration, bool) { return 0, false }
