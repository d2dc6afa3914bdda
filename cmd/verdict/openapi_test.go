package main

import (
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/verdict-pdp/verdict/internal/devtoken"
	"github.com/verdict-pdp/verdict/internal/httpapi"
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
		"dev":   {devRoutes(issuer), specDev},
	} {
		h := httpapi.New(httpapi.Deps{Extra: tt.extra, Ready: func() error { return nil }, Metrics: http.NotFoundHandler()})
		var routes []string
		err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
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
