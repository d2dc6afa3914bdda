package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries keeps each internal package to its job: the domain
// stays free of HTTP, JWT, OPA and Prometheus, and adapters do not reach
// into each other. It checks direct imports (OPA itself uses a JWT library).
func TestPackageBoundaries(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not available")
	}
	const mod = "github.com/verdict-pdp/verdict/"
	forbidden := map[string][]string{
		"internal/authz":       {"net/http", "github.com/lestrrat-go/", "github.com/open-policy-agent/", "github.com/prometheus/", mod + "internal/authn", mod + "internal/policy", mod + "internal/httpapi", mod + "internal/metrics", mod + "internal/devtoken"},
		"internal/boundedmap":  {"net/", "github.com/", mod},
		"internal/memlimit":    {"net/", "github.com/", mod},
		"internal/authn":       {"github.com/open-policy-agent/", "github.com/prometheus/", "github.com/go-chi/", mod + "internal/policy", mod + "internal/httpapi", mod + "internal/metrics"},
		"internal/policy":      {"github.com/lestrrat-go/", "github.com/prometheus/", "github.com/go-chi/", mod + "internal/authn", mod + "internal/httpapi", mod + "internal/metrics"},
		"internal/httpapi":     {"github.com/lestrrat-go/", "github.com/open-policy-agent/", mod + "internal/authn", mod + "internal/policy", mod + "internal/metrics", mod + "internal/devtoken"},
		"internal/metrics":     {"github.com/lestrrat-go/", "github.com/open-policy-agent/", mod + "internal/"},
		"internal/devtoken":    {"github.com/open-policy-agent/", "github.com/prometheus/", mod + "internal/policy", mod + "internal/httpapi", mod + "internal/authz"},
		"internal/decisionlog": {"net/", "github.com/open-policy-agent/", "github.com/prometheus/", "github.com/lestrrat-go/", "github.com/go-chi/", mod + "internal/authn", mod + "internal/policy", mod + "internal/httpapi", mod + "internal/metrics", mod + "internal/devtoken"},
		"internal/jsonpointer": {"net/", "github.com/", mod},
	}
	for pkg, bans := range forbidden {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, ban := range bans {
				if strings.HasPrefix(dep, ban) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
