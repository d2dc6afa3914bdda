package main

import (
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/clerkwebhook"
	"github.com/verdict-pdp/verdict/internal/devtoken"
	"github.com/verdict-pdp/verdict/internal/httpapi"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// TestOpenAPIMatchesRoutes keeps api/openapi.yaml and the router in step:
// the same methods and paths, in serve mode and in dev mode.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]struct {
			DevOnly bool `yaml:"x-verdict-dev-only"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatalf("parse api/openapi.yaml: %v", err)
	}
	var specServe, specDev []string
	for path, ops := range spec.Paths {
		for method, op := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			route := strings.ToUpper(method) + " " + path
			specDev = append(specDev, route)
			if !op.DevOnly {
				specServe = append(specServe, route)
			}
		}
	}
	issuer, err := devtoken.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		extra []httpapi.Route
		spec  []string
	}{
		"serve": {nil, specServe},
		"dev":   {devRoutes(issuer, http.NotFoundHandler()), specDev},
	} {
		// Every optional route on: the spec documents them all.
		hooks, err := clerkwebhook.NewReceiver(clerkwebhook.Options{Secret: testWebhookSecret, Store: revocation.NewLocal(0), TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		h := httpapi.New(httpapi.Deps{Extra: tt.extra, Ready: func() error { return nil }, Metrics: http.NotFoundHandler(), Webhooks: hooks})
		var routes []string
		err = chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			routes = append(routes, method+" "+route)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(routes)
		sort.Strings(tt.spec)
		if diff := cmp.Diff(tt.spec, routes); diff != "" {
			t.Errorf("%s: api/openapi.yaml (-) and router (+) differ:\n%s", name, diff)
		}
	}
}

// TestOpenAPIReasonsMatchTheDomain keeps the reason codes api/openapi.yaml
// lists in step with the one list of them (authz): the deny codes in
// precedence order, the allow codes, has()'s own, and the examples.
func TestOpenAPIReasonsMatchTheDomain(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Components struct {
			Schemas struct {
				Reason struct {
					Deny     []authz.Reason `yaml:"x-verdict-deny-reasons"`
					Allow    []authz.Reason `yaml:"x-verdict-allow-reasons"`
					Has      []authz.Reason `yaml:"x-verdict-has-reasons"`
					Examples []authz.Reason `yaml:"examples"`
				} `yaml:"Reason"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatalf("parse api/openapi.yaml: %v", err)
	}
	r := spec.Components.Schemas.Reason
	for _, c := range []struct {
		name       string
		spec, want []authz.Reason
	}{
		{"x-verdict-deny-reasons", r.Deny, authz.DenyReasons()},
		{"x-verdict-allow-reasons", r.Allow, authz.AllowReasons()},
		{"x-verdict-has-reasons", r.Has, authz.HasReasons()},
		{"examples", r.Examples, append(authz.DenyReasons(), authz.AllowReasons()...)},
	} {
		if diff := cmp.Diff(c.want, c.spec); diff != "" {
			t.Errorf("Reason %s differs from authz (-authz +spec):\n%s", c.name, diff)
		}
	}
}
