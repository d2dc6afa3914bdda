package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/open-policy-agent/opa/v1/version"

	"github.com/verdict-pdp/verdict/internal/metrics"
)

// Set with -ldflags "-X main.buildVersion=... -X main.buildCommit=..." by
// `make build`; otherwise read from the module's build information.
var (
	buildVersion = ""
	buildCommit  = ""
)

// runVersion implements `verdict version`.
func runVersion(stdout io.Writer) error {
	b := currentBuild()
	_, err := fmt.Fprintf(stdout, "verdict %s\ncommit %s\nopa %s\n", b.Version, b.Commit, b.OPAVersion)
	return err
}

// currentBuild describes this binary: the version and commit set at link
// time, else read from the module's build information.
func currentBuild() metrics.BuildInfo {
	b := metrics.BuildInfo{Version: buildVersion, Commit: buildCommit, GoVersion: runtime.Version(), OPAVersion: version.Version}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && b.Commit == "" {
				b.Commit = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}
