package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The AuthZEN 1.0 suite: every request and response shape of the
// specification, against a real `verdict serve` over loopback, with real
// tokens and the real policies.

// authzen is a running service and the tokens the suite sends.
type authzen struct {
	*instance
	member, admin, otherMember, expired string
}

// servicesPolicy is a team's policy set deciding from input.subject: the
// report rebuild accepts a subject vouched for by the scheduler (an API
// key's name), and only the services the team trusts may run it.
const servicesPolicy = `package verdict.rules.services

actions["reports:rebuild"] := {
	"description": "Rebuild the reports: any signed-in user, or a trusted service the scheduler vouches for.",
	"scope": "user",
	"authentication": "subject",
	"callers": ["scheduler"],
	"requires": [],
}

deny contains {"reason": "untrusted_service", "message": sprintf("service %s may not rebuild the reports", [input.subject.id])} if {
	input.action == "reports:rebuild"
	not input.principal.authenticated
	not trusted
}

trusted if {
	input.subject.type == "service"
	input.subject.id in {"report-worker"}
}
`

// startAuthZEN starts a service, without API keys, with the services
// policy loaded.
func startAuthZEN(t *testing.T, extra ...string) *authzen {
	t.Helper()
	inst := startServe(t, extra...)
	if err := os.WriteFile(filepath.Join(inst.policies, "services.rego"), []byte(servicesPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	// The team file is picked up by the watcher: wait until it serves.
	probe := inst.mint(t, map[string]any{"sub": "user_9", "v": 2})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": probe, "action": "reports:rebuild"}, &d)
		if d.Reason == "membership" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the services policy did not load: %+v\n%s", d, inst.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	now := time.Now()
	org := func(role string) map[string]any { return map[string]any{"id": "org_A", "rol": role, "slg": "acme"} }
	return &authzen{
		instance:    inst,
		member:      inst.mint(t, map[string]any{"sub": "user_1", "sid": "sess_1", "v": 2, "o": org("member")}),
		admin:       inst.mint(t, map[string]any{"sub": "user_2", "sid": "sess_2", "v": 2, "o": org("admin")}),
		otherMember: inst.mint(t, map[string]any{"sub": "user_3", "sid": "sess_3", "v": 2, "o": map[string]any{"id": "org_B", "rol": "member"}}),
		expired:     inst.mint(t, map[string]any{"sub": "user_1", "sid": "sess_1", "v": 2, "o": org("member"), "iat": now.Add(-time.Hour).Unix(), "nbf": now.Add(-time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix()}),
	}
}

// user is an AuthZEN subject carrying a session token.
func user(id, token string) map[string]any {
	return map[string]any{"type": "user", "id": id, "properties": map[string]any{"token": token}}
}

func task(org string) map[string]any {
	return map[string]any{"type": "task", "id": "task_1", "properties": map[string]any{"org_id": org}}
}

func act(name string) map[string]any { return map[string]any{"name": name} }

// authzenDecision is an AuthZEN decision as the suite reads it.
type authzenDecision struct {
	Decision *bool `json:"decision"`
	Context  struct {
		Reason         string `json:"reason"`
		Message        string `json:"message"`
		DecisionID     string `json:"decision_id"`
		PolicyRevision string `json:"policy_revision"`
		Error          *struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"context"`
}

// outcome is a decision in brief: "permit/<reason>", "deny/<reason>" or
// "error/<status>".
func (d authzenDecision) outcome() string {
	switch {
	case d.Decision == nil:
		return "no decision"
	case d.Context.Error != nil:
		return "error/" + http.StatusText(d.Context.Error.Status)
	case *d.Decision:
		return "permit/" + d.Context.Reason
	}
	return "deny/" + d.Context.Reason
}

func TestAuthZENEvaluation(t *testing.T) {
	t.Parallel()
	az := startAuthZEN(t)
	for _, tt := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"a member reads a task of their organization",
			map[string]any{"subject": user("user_1", az.member), "action": act("tasks:read"), "resource": task("org_A")}, "permit/membership"},
		{"another tenant's task",
			map[string]any{"subject": user("user_1", az.member), "action": act("tasks:read"), "resource": task("org_B")}, "deny/tenant_mismatch"},
		{"a slug among the resource properties is the resource's own",
			map[string]any{"subject": user("user_1", az.member), "action": act("tasks:read"),
				"resource": map[string]any{"type": "task", "id": "t", "properties": map[string]any{"org_id": "org_A", "org_slug": "other"}}}, "deny/tenant_mismatch"},
		{"system permissions follow the role",
			map[string]any{"subject": user("user_1", az.member), "action": act("org:sys_billing:manage"), "resource": task("org_A")}, "deny/missing_role"},
		{"an admin may",
			map[string]any{"subject": user("user_2", az.admin), "action": act("org:sys_billing:manage"), "resource": task("org_A")}, "permit/role"},
		{"a token of another user than the subject",
			map[string]any{"subject": user("user_2", az.member), "action": act("tasks:read"), "resource": task("org_A")}, "deny/subject_mismatch"},
		{"an expired token comes first, mismatch or not",
			map[string]any{"subject": user("user_2", az.expired), "action": act("tasks:read"), "resource": task("org_A")}, "deny/token_expired"},
		{"a forged token",
			map[string]any{"subject": user("user_1", az.member[:len(az.member)-4]+"AAAA"), "action": act("tasks:read"), "resource": task("org_A")}, "deny/token_invalid"},
		{"no token: the default policies deny an anonymous subject",
			map[string]any{"subject": map[string]any{"type": "user", "id": "user_1"}, "action": act("tasks:read"), "resource": task("org_A")}, "deny/unauthenticated"},
		{"without API keys no caller vouches for a subject",
			map[string]any{"subject": map[string]any{"type": "service", "id": "report-worker"}, "action": act("reports:rebuild"), "resource": map[string]any{"type": "report", "id": "r1"}}, "deny/unauthenticated"},
		{"a signed-in user needs no vouching",
			map[string]any{"subject": user("user_3", az.otherMember), "action": act("reports:rebuild"), "resource": map[string]any{"type": "report", "id": "r1"}}, "permit/membership"},
		{"fields AuthZEN does not define are ignored, at every level",
			map[string]any{"subject": map[string]any{"type": "user", "id": "user_1", "properties": map[string]any{"token": az.member}, "futureField": 1},
				"action":   map[string]any{"name": "tasks:read", "properties": map[string]any{"method": "GET"}, "x": true},
				"resource": map[string]any{"type": "task", "id": "t", "properties": map[string]any{"org_id": "org_A"}, "y": []any{}},
				"context":  map[string]any{"time": "1985-10-26T01:22-07:00"}, "foo": "bar"}, "permit/membership"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got authzenDecision
			if status := az.post(t, "/access/v1/evaluation", tt.body, &got); status != http.StatusOK {
				t.Fatalf("status %d, want 200", status)
			}
			if got.outcome() != tt.want {
				t.Errorf("got %s (%q), want %s", got.outcome(), got.Context.Message, tt.want)
			}
			if got.Context.DecisionID == "" || !strings.HasPrefix(got.Context.PolicyRevision, "sha256:") || got.Context.Message == "" {
				t.Errorf("context lacks Verdict's answer: %+v", got.Context)
			}
		})
	}
}

func TestAuthZENRefusals(t *testing.T) {
	t.Parallel()
	az := startAuthZEN(t)
	full := func(drop string, set ...any) string {
		body := map[string]any{"subject": user("user_1", az.member), "action": act("tasks:read"), "resource": task("org_A")}
		path := strings.Split(drop, ".")
		if len(path) == 1 && drop != "" {
			delete(body, drop)
		} else if len(path) == 2 {
			m := map[string]any{}
			for k, v := range body[path[0]].(map[string]any) {
				m[k] = v
			}
			delete(m, path[1])
			body[path[0]] = m
		}
		for i := 0; i+1 < len(set); i += 2 {
			body[set[i].(string)] = set[i+1]
		}
		b, _ := json.Marshal(body)
		return string(b)
	}
	for _, tt := range []struct {
		name, path, contentType, body string
		want                          int
	}{
		{"no subject", "/access/v1/evaluation", "application/json", full("subject"), 400},
		{"no subject type", "/access/v1/evaluation", "application/json", full("subject.type"), 400},
		{"no subject id", "/access/v1/evaluation", "application/json", full("subject.id"), 400},
		{"no action", "/access/v1/evaluation", "application/json", full("action"), 400},
		{"an action without a name", "/access/v1/evaluation", "application/json", full("", "action", map[string]any{}), 400},
		{"an action name that is not a string", "/access/v1/evaluation", "application/json", full("", "action", map[string]any{"name": 123}), 400},
		{"no resource", "/access/v1/evaluation", "application/json", full("resource"), 400},
		{"no resource type", "/access/v1/evaluation", "application/json", full("resource.type"), 400},
		{"no resource id", "/access/v1/evaluation", "application/json", full("resource.id"), 400},
		{"an empty subject type", "/access/v1/evaluation", "application/json", full("", "subject", map[string]any{"type": "", "id": "user_1"}), 400},
		{"an empty resource id", "/access/v1/evaluation", "application/json", full("", "resource", map[string]any{"type": "task", "id": ""}), 400},
		{"defaults repeated past the body limit", "/access/v1/evaluations", "application/json",
			`{"context":{"pad":"` + strings.Repeat("x", 20000) + `"},"evaluations":[` + strings.Repeat(`{},`, 99) + `{}]}`, 413},
		{"a subject that is a string", "/access/v1/evaluation", "application/json", full("", "subject", "alice"), 400},
		{"a token that is not a string", "/access/v1/evaluation", "application/json", full("", "subject", map[string]any{"type": "user", "id": "u", "properties": map[string]any{"token": 1}}), 400},
		{"an org_id that is not a string", "/access/v1/evaluation", "application/json", full("", "resource", map[string]any{"type": "t", "id": "i", "properties": map[string]any{"org_id": []any{"org_A"}}}), 400},
		{"a top-level array", "/access/v1/evaluation", "application/json", `[]`, 400},
		{"malformed JSON", "/access/v1/evaluation", "application/json", `{"subject":`, 400},
		{"an empty body", "/access/v1/evaluation", "application/json", ``, 400},
		{"a key given twice", "/access/v1/evaluation", "application/json", `{"subject":{"type":"user","type":"x","id":"u"}}`, 400},
		{"not JSON", "/access/v1/evaluation", "text/plain", full(""), 415},
		{"JSON with a charset", "/access/v1/evaluation", "application/json; charset=utf-8", full(""), 200},
		{"an unknown semantic", "/access/v1/evaluations", "application/json", `{"evaluations":[{}],"options":{"evaluations_semantic":"bogus_value"}}`, 400},
		{"more than 100 evaluations", "/access/v1/evaluations", "application/json", `{"evaluations":[` + strings.Repeat(`{},`, 100) + `{}]}`, 400},
		{"an action search without a resource", "/access/v1/search/action", "application/json", full("resource"), 400},
		{"an action search without a subject", "/access/v1/search/action", "application/json", full("subject"), 400},
		{"subject search is not offered", "/access/v1/search/subject", "application/json", full(""), 404},
		{"resource search is not offered", "/access/v1/search/resource", "application/json", full(""), 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			status := az.postRaw(t, tt.path, tt.contentType, tt.body, &e)
			if status != tt.want {
				t.Fatalf("status %d, want %d (%+v)", status, tt.want, e)
			}
			if status != 200 && (e.Error.Code == "" || e.Error.Message == "") {
				t.Errorf("the error envelope is missing: %+v", e)
			}
		})
	}
	t.Run("GET is not a method of the API", func(t *testing.T) {
		resp, err := http.Get(az.base + "/access/v1/evaluation")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET = %d, want 405", resp.StatusCode)
		}
	})
}

func TestAuthZENEvaluations(t *testing.T) {
	t.Parallel()
	az := startAuthZEN(t)
	member := user("user_1", az.member)
	for _, tt := range []struct {
		name string
		body map[string]any
		want []string // one outcome per answered item; nil: a single decision
		one  string
	}{
		{"without evaluations, one evaluation", map[string]any{"subject": member, "action": act("tasks:read"), "resource": task("org_A")}, nil, "permit/membership"},
		{"an empty list is one evaluation too", map[string]any{"subject": member, "action": act("tasks:read"), "resource": task("org_A"), "evaluations": []any{}}, nil, "permit/membership"},
		{"top-level defaults, items override them whole",
			map[string]any{"subject": member, "resource": task("org_A"), "evaluations": []any{
				map[string]any{"action": act("tasks:read")},
				map[string]any{"action": act("billing:manage")},
				map[string]any{"action": act("tasks:read"), "resource": task("org_B")},
				map[string]any{"action": act("tasks:read"), "subject": user("user_2", az.admin)},
			}},
			[]string{"permit/membership", "deny/missing_role", "deny/tenant_mismatch", "permit/membership"}, ""},
		{"a subject or resource without its type or id takes the default's",
			map[string]any{"subject": member, "action": act("tasks:read"), "resource": map[string]any{"type": "task", "id": "t1"}, "evaluations": []any{
				map[string]any{"resource": map[string]any{"properties": map[string]any{"org_id": "org_A"}}},
				map[string]any{"subject": map[string]any{"properties": map[string]any{"token": az.admin}}},
			}},
			[]string{"permit/membership", "deny/subject_mismatch"}, ""},
		{"an item that cannot be evaluated is a deny with its error, the rest are answered",
			map[string]any{"subject": member, "resource": task("org_A"), "evaluations": []any{
				map[string]any{"action": act("tasks:read")},
				map[string]any{},
				map[string]any{"action": act("tasks:list")},
			}},
			[]string{"permit/membership", "error/Bad Request", "permit/membership"}, ""},
		{"deny_on_first_deny ends with the first deny",
			map[string]any{"subject": member, "resource": task("org_A"), "options": map[string]any{"evaluations_semantic": "deny_on_first_deny"}, "evaluations": []any{
				map[string]any{"action": act("tasks:read")},
				map[string]any{"action": act("billing:manage")},
				map[string]any{"action": act("tasks:list")},
			}},
			[]string{"permit/membership", "deny/missing_role"}, ""},
		{"an item in error is a deny for deny_on_first_deny",
			map[string]any{"subject": member, "resource": task("org_A"), "options": map[string]any{"evaluations_semantic": "deny_on_first_deny"}, "evaluations": []any{
				map[string]any{},
				map[string]any{"action": act("tasks:list")},
			}},
			[]string{"error/Bad Request"}, ""},
		{"permit_on_first_permit ends with the first permit",
			map[string]any{"subject": member, "resource": task("org_A"), "options": map[string]any{"evaluations_semantic": "permit_on_first_permit", "another_option": "value"}, "evaluations": []any{
				map[string]any{"action": act("billing:manage")},
				map[string]any{"action": act("tasks:read")},
				map[string]any{"action": act("tasks:list")},
			}},
			[]string{"deny/missing_role", "permit/membership"}, ""},
		{"execute_all answers every item",
			map[string]any{"subject": member, "resource": task("org_A"), "options": map[string]any{"evaluations_semantic": "execute_all"}, "evaluations": []any{
				map[string]any{"action": act("billing:manage")},
				map[string]any{"action": act("tasks:read")},
			}},
			[]string{"deny/missing_role", "permit/membership"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var raw map[string]json.RawMessage
			if status := az.post(t, "/access/v1/evaluations", tt.body, &raw); status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", status, raw)
			}
			if tt.want == nil {
				var one authzenDecision
				if err := json.Unmarshal(mustJSON(t, raw), &one); err != nil || raw["evaluations"] != nil {
					t.Fatalf("want a single decision, got %s", mustJSON(t, raw))
				}
				if one.outcome() != tt.one {
					t.Errorf("got %s, want %s", one.outcome(), tt.one)
				}
				return
			}
			var items []authzenDecision
			if err := json.Unmarshal(raw["evaluations"], &items); err != nil {
				t.Fatalf("evaluations: %v in %s", err, mustJSON(t, raw))
			}
			var got []string
			for _, d := range items {
				got = append(got, d.outcome())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuthZENVerifiesEachTokenOnce: an evaluations request verifies each
// distinct token once, however many items carry it, and counts every
// decision in the decision metrics.
func TestAuthZENVerifiesEachTokenOnce(t *testing.T) {
	t.Parallel()
	az := startAuthZEN(t)
	before := scrape(t, az.base)
	body := map[string]any{"resource": task("org_A"), "action": act("tasks:read"), "evaluations": []any{
		map[string]any{"subject": user("user_1", az.member)},
		map[string]any{"subject": user("user_2", az.admin)},
		map[string]any{"subject": user("user_1", az.member)},
		map[string]any{"subject": user("user_2", az.admin), "action": act("billing:manage")},
	}}
	if status := az.post(t, "/access/v1/evaluations", body, nil); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	after := scrape(t, az.base)
	if got := after.counter("verdict_token_verifications_total") - before.counter("verdict_token_verifications_total"); got != 2 {
		t.Errorf("token verifications grew by %v, want 2 (one per distinct token)", got)
	}
	if got := after.counter("verdict_decisions_total") - before.counter("verdict_decisions_total"); got != 4 {
		t.Errorf("decisions grew by %v, want 4", got)
	}
	if got := after.counter("verdict_requests_total", "route", "/access/v1/evaluations", "code", "200"); got != 1 {
		t.Errorf("requests_total for the route = %v, want 1", got)
	}
}

func TestAuthZENActionSearch(t *testing.T) {
	t.Parallel()
	az := startAuthZEN(t)
	names := func(t *testing.T, body map[string]any) []string {
		t.Helper()
		var got struct {
			Results []struct {
				Name string `json:"name"`
			} `json:"results"`
			Page any `json:"page"`
		}
		if status := az.post(t, "/access/v1/search/action", body, &got); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		if got.Results == nil || got.Page != nil {
			t.Fatalf("want results and no page, got %+v", got)
		}
		var out []string
		for _, r := range got.Results {
			out = append(out, r.Name)
		}
		return out
	}
	member := names(t, map[string]any{"subject": user("user_1", az.member), "resource": task("org_A"), "page": map[string]any{"limit": 2, "customAttr": 1}, "action": act("ignored")})
	// reports:rebuild is the services policy's, user-scoped: any
	// signed-in user may.
	want := []string{"org:sys_billing:read", "org:sys_memberships:read", "reports:rebuild", "tasks:create", "tasks:list", "tasks:read"}
	if diff := cmp.Diff(want, member); diff != "" {
		t.Errorf("a member's actions (-want +got):\n%s", diff)
	}
	// The same as /v1/allowed-actions allows, for the same question.
	var allowed struct {
		Allowed []string `json:"allowed"`
	}
	az.post(t, "/v1/allowed-actions", map[string]any{"token": az.member, "resource": map[string]any{"type": "task", "id": "task_1", "org_id": "org_A"}}, &allowed)
	if diff := cmp.Diff(allowed.Allowed, member); diff != "" {
		t.Errorf("action search and allowed-actions differ (-allowed +search):\n%s", diff)
	}
	if got := names(t, map[string]any{"subject": user("user_1", az.member), "resource": task("org_B")}); len(got) != 0 {
		t.Errorf("another tenant's resource: %v, want none", got)
	}
	if got := names(t, map[string]any{"subject": map[string]any{"type": "user", "id": "user_1"}, "resource": task("org_A")}); len(got) != 0 {
		t.Errorf("anonymous: %v, want none", got)
	}
	if got := names(t, map[string]any{"subject": map[string]any{"type": "service", "id": "report-worker"}, "resource": map[string]any{"type": "report", "id": "r"}}); len(got) != 0 {
		t.Errorf("a service no caller vouches for: %v, want none", got)
	}
	// Every action but those needing a feature or a fresh second factor.
	admin := names(t, map[string]any{"subject": user("user_2", az.admin), "resource": task("org_A")})
	if len(admin) != 17 || slices.Contains(admin, "reports:export") || slices.Contains(admin, "organization:delete") {
		t.Errorf("an admin may take %v", admin)
	}
}

func TestAuthZENConfiguration(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, base string) map[string]any {
		t.Helper()
		resp, err := http.Get(base + "/.well-known/authzen-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET = %d, %v", resp.StatusCode, err)
		}
		return doc
	}
	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		inst := startServe(t, "--public-url", "https://pdp.example.com/")
		want := map[string]any{
			"policy_decision_point":       "https://pdp.example.com",
			"access_evaluation_endpoint":  "https://pdp.example.com/access/v1/evaluation",
			"access_evaluations_endpoint": "https://pdp.example.com/access/v1/evaluations",
			"search_action_endpoint":      "https://pdp.example.com/access/v1/search/action",
		}
		if diff := cmp.Diff(want, get(t, inst.base)); diff != "" {
			t.Errorf("metadata (-want +got):\n%s", diff)
		}
	})
	t.Run("a PDP behind a path", func(t *testing.T) {
		t.Parallel()
		inst := startServe(t, "--public-url", "https://pdp.example.com/tenant1")
		resp, err := http.Get(inst.base + "/.well-known/authzen-configuration/tenant1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc["policy_decision_point"] != "https://pdp.example.com/tenant1" {
			t.Errorf("GET the path-inserted metadata = %d %v (%v)", resp.StatusCode, doc, err)
		}
	})
	t.Run("from the request, and open when callers need keys", func(t *testing.T) {
		t.Parallel()
		keys := filepath.Join(t.TempDir(), "api-keys")
		if err := os.WriteFile(keys, []byte("gateway sha256:"+strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		inst := startServe(t, "--api-keys-file", keys)
		doc := get(t, inst.base)
		if doc["policy_decision_point"] != inst.base || doc["access_evaluation_endpoint"] != inst.base+"/access/v1/evaluation" {
			t.Errorf("metadata %v, want URLs under %s", doc, inst.base)
		}
		for _, absent := range []string{"search_subject_endpoint", "search_resource_endpoint"} {
			if _, ok := doc[absent]; ok {
				t.Errorf("%s is offered, but Verdict has no such search", absent)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, inst.base+"/access/v1/evaluation", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("an evaluation without the caller's key = %d (WWW-Authenticate %q), want 401 with a challenge",
				resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	if err := validatePublicURL("https://pdp.example.com/tenant1"); err != nil {
		t.Errorf("a tenant path is a valid PDP identifier: %v", err)
	}
	for _, bad := range []string{"pdp.example.com", "ftp://pdp.example.com", "https://pdp.example.com/?q=1", "https://pdp.example.com/#f", "https://u:p@pdp.example.com"} {
		if err := validatePublicURL(bad); err == nil {
			t.Errorf("--public-url %q accepted", bad)
		}
	}
}

// TestAuthZENEchoesTheRequestID: X-Request-ID comes back exactly as sent,
// on every AuthZEN route and on errors, however long; without one the
// answer still carries an id.
func TestAuthZENEchoesTheRequestID(t *testing.T) {
	t.Parallel()
	az := startAuthZEN(t)
	valid := `{"subject":{"type":"user","id":"user_1"},"action":{"name":"tasks:read"},"resource":{"type":"task","id":"t"}}`
	for _, tt := range []struct{ method, path, body, id string }{
		{http.MethodPost, "/access/v1/evaluation", valid, "req-1"},
		{http.MethodPost, "/access/v1/evaluations", `{"evaluations":[` + valid + `]}`, "req-2"},
		{http.MethodPost, "/access/v1/search/action", valid, "req-3"},
		{http.MethodGet, "/.well-known/authzen-configuration", "", "req-4"},
		{http.MethodPost, "/access/v1/evaluation", `{}`, "req-for-a-400"},
		{http.MethodPost, "/access/v1/evaluation", valid, strings.Repeat("x", 300)},
		{http.MethodPost, "/access/v1/evaluation", valid, ""},
	} {
		req, err := http.NewRequest(tt.method, az.base+tt.path, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if tt.id != "" {
			req.Header.Set("X-Request-ID", tt.id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got := resp.Header.Get("X-Request-ID")
		if (tt.id != "" && got != tt.id) || got == "" {
			t.Errorf("%s %s with X-Request-ID %.20q…: echoed %.20q…", tt.method, tt.path, tt.id, got)
		}
	}
}

// TestAuthZENDecisionLog: AuthZEN decisions are logged like checks, with
// the subject as the policies saw it and never the token.
func TestAuthZENDecisionLog(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "decisions.log")
	inst := startServe(t, "--decision-log", logFile)
	token := inst.mint(t, map[string]any{"sub": "user_1", "sid": "sess_1", "v": 2, "o": map[string]any{"id": "org_A", "rol": "member"}})
	var d authzenDecision
	inst.post(t, "/access/v1/evaluation", map[string]any{"subject": map[string]any{"type": "user", "id": "user_1", "properties": map[string]any{"token": token, "department": "sales"}},
		"action": act("tasks:read"), "resource": task("org_A")}, &d)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logFile)
		if strings.Contains(string(b), d.Context.DecisionID) {
			if strings.Contains(string(b), token) {
				t.Fatal("the decision log holds the token")
			}
			for _, want := range []string{`"/access/v1/evaluation"`, `"department":"sales"`, `"type":"user"`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("the decision log lacks %s: %s", want, b)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("decision %s not logged: %s", d.Context.DecisionID, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuthZENServiceCallers: a subject without a session is decided only
// for the callers an entry trusts to vouch for it, each known by its API
// key; a caller cannot pass for another.
func TestAuthZENServiceCallers(t *testing.T) {
	t.Parallel()
	keys := map[string]string{"scheduler": "key-of-the-scheduler", "gateway": "key-of-the-gateway"}
	var lines strings.Builder
	for name, key := range keys {
		sum := sha256.Sum256([]byte(key))
		fmt.Fprintf(&lines, "%s sha256:%s\n", name, hex.EncodeToString(sum[:]))
	}
	file := filepath.Join(t.TempDir(), "api-keys")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	inst := startServe(t, "--api-keys-file", file)
	if err := os.WriteFile(filepath.Join(inst.policies, "services.rego"), []byte(servicesPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	ask := func(t *testing.T, caller, path string, body map[string]any) authzenDecision {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, inst.base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+keys[caller])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d authzenDecision
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST %s as %s = %d (%v)", path, caller, resp.StatusCode, err)
		}
		return d
	}
	service := func(id string, resource map[string]any) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "service", "id": id}, "action": act("reports:rebuild"), "resource": resource}
	}
	report := map[string]any{"type": "report", "id": "r1"}
	deadline := time.Now().Add(10 * time.Second)
	for ask(t, "scheduler", "/access/v1/evaluation", service("report-worker", report)).outcome() != "permit/membership" {
		if time.Now().After(deadline) {
			t.Fatalf("the services policy did not load:\n%s", inst.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tt := range []struct {
		name, caller string
		body         map[string]any
		want         string
	}{
		{"the scheduler vouches for the report worker", "scheduler", service("report-worker", report), "permit/membership"},
		{"another caller cannot pass for the scheduler", "gateway", service("report-worker", report), "deny/unauthenticated"},
		{"the team's rule still judges the subject", "scheduler", service("intruder", report), "deny/untrusted_service"},
		{"a vouched subject is no tenant's member", "scheduler", service("report-worker", task("org_A")), "deny/tenant_mismatch"},
		{"shipped actions still need a session", "scheduler", map[string]any{"subject": map[string]any{"type": "service", "id": "x"}, "action": act("tasks:read"), "resource": report}, "deny/unauthenticated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ask(t, tt.caller, "/access/v1/evaluation", tt.body); got.outcome() != tt.want {
				t.Errorf("got %s (%s), want %s", got.outcome(), got.Context.Message, tt.want)
			}
		})
	}
}
