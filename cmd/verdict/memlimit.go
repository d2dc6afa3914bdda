package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/verdict-pdp/verdict/internal/memlimit"
)

// followCgroupMemoryLimit sets the Go runtime's soft memory limit to
// memlimit.HeapFraction of the container's memory limit, unless GOMEMLIMIT
// says otherwise (the runtime has applied it already). Without it, the
// collector paces itself by the live heap alone and a burst can take the
// pod past its limit before a collection runs.
func followCgroupMemoryLimit(getenv func(string) string, logger *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		return
	}
	limit, source, err := memlimit.Cgroup(os.DirFS("/"))
	if err != nil {
		logger.Warn("could not read the container's memory limit; GOMEMLIMIT is not set", "error", err)
		return
	}
	if limit == 0 {
		return
	}
	soft := int64(float64(limit) * memlimit.HeapFraction)
	debug.SetMemoryLimit(soft)
	logger.Info("memory limit follows the container's", "cgroup_limit_bytes", limit, "gomemlimit_bytes", soft, "source", source)
}
