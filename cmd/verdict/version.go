package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/open-policy-agent/opa/v1/version"
)

// Set with -ldflags "-X main.buildVersion=... -X main.buildCommit=..." by
// `make build`; otherwise read from the module's build information.
var (
	buildVersion = ""
	buildCommit  = ""
)

// runVersion implements `verdict version`.
func runVersion(stdout io.Writer) error {
	v, commit := buildVersion, buildCommit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && commit == "" {
				commit = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if commit == "" {
		commit = "unknown"
	}
	_, err := fmt.Fprintf(stdout, "verdict %s\ncommit %s\nopa %s\n", v, commit, version.Version)
	return err
}
