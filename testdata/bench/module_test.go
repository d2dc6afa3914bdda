package main

import (
	"os"
	"strings"
	"testing"
)

// TestOPAIsVerdictsVersion keeps the OPA server under test at the version
// Verdict embeds: this module's graph includes Verdict's go.mod (replace
// ../..), so Go only keeps it at least as new; a newer OPA here would
// compare Verdict with an engine it does not run.
func TestOPAIsVerdictsVersion(t *testing.T) {
	const opa = "github.com/open-policy-agent/opa"
	verdict, bench := requiredVersion(t, "../../go.mod", opa), requiredVersion(t, "go.mod", opa)
	if verdict == "" || bench != verdict {
		t.Errorf("%s is %q here and %q in Verdict's go.mod; run go get -tool %s@%s", opa, bench, verdict, opa, verdict)
	}
}

// requiredVersion returns the version path's go.mod requires of module.
func requiredVersion(t *testing.T, path, module string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1]
		}
	}
	return ""
}
