package httpapi_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestFieldLimits: a check whose action or resource field is over its
// size limit, or that holds a number no double can hold (which policy input
// cannot hold either: it was a 500), is answered 400 bad_request naming the
// field, on /v1/check and in a batch, before any token is verified or policy
// run.
func TestFieldLimits(t *testing.T) {
	t.Parallel()
	s := newBenchService(t)
	long := strings.Repeat("x", authz.MaxActionBytes+1)
	tests := []struct {
		name, path, body string
		want             string // the error message
	}{
		{"action", "/v1/check", `{"action":"` + long + `"}`, `"action" must be at most 256 bytes, not 257`},
		{"resource id", "/v1/check", `{"action":"tasks:read","resource":{"id":"` + long + `"}}`, `"resource.id" must be at most 256 bytes, not 257`},
		{"batch owner_id", "/v1/check/batch", `{"checks":[{"action":"tasks:read"},{"action":"tasks:read","resource":{"owner_id":"` + long + `"}}]}`,
			`checks[1]: "resource.owner_id" must be at most 256 bytes, not 257`},
		{"number in context", "/v1/check", `{"action":"tasks:read","context":{"n":1e999999}}`, `number out of range at "context.n"`},
		{"number in attributes", "/v1/check", `{"action":"tasks:read","resource":{"attributes":{"n":-1e-999999}}}`, `number out of range at "resource.attributes.n"`},
		{"batch number", "/v1/check/batch", `{"checks":[{"action":"tasks:read","context":{"a":[1e400]}}]}`, `number out of range at "checks[0].context.a[0]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serveJSON(s.handler, http.MethodPost, tt.path, tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST %s = %d %s, want 400", tt.path, rec.Code, rec.Body)
			}
			if got := decodeEnvelope(t, rec); got != (envelope{Code: "bad_request", Message: tt.want}) {
				t.Errorf("POST %s = %+v, want bad_request %q", tt.path, got, tt.want)
			}
		})
	}
}

// TestFieldLimitsInOpenAPI keeps the maxLength of api/openapi.yaml equal to
// the limits authz enforces, which are their one source.
func TestFieldLimitsInOpenAPI(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		MaxLength  *int              `yaml:"maxLength"`
		Properties map[string]schema `yaml:"properties"`
	}
	var spec struct {
		Components struct {
			Schemas map[string]schema `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &spec); err != nil {
		t.Fatalf("parse api/openapi.yaml: %v", err)
	}
	schemas := spec.Components.Schemas
	want := map[string]int{"Action": authz.MaxActionBytes}
	got := map[string]*int{"Action": schemas["Action"].MaxLength}
	for _, f := range []string{"type", "id", "org_id", "org_slug", "owner_id"} {
		want["Resource."+f] = authz.MaxResourceFieldBytes
		got["Resource."+f] = schemas["Resource"].Properties[f].MaxLength
	}
	for name, w := range want {
		if g := got[name]; g == nil || *g != w {
			t.Errorf("api/openapi.yaml %s maxLength = %v, want %d", name, deref(g), w)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return "absent"
	}
	return *p
}
