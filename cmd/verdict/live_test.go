package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposition is a parsed /metrics scrape.
type exposition map[string]*dto.MetricFamily

func scrape(t *testing.T, base string) exposition {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// counter returns the value of the series of a counter family whose labels
// include all the given name/value pairs (summed), 0 when there is none.
func (e exposition) counter(name string, labels ...string) float64 {
	f, ok := e[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
		}
		if !found {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	before := scrape(t, inst.base)
	member := inst.mint(t, v2Member)
	for _, token := range []string{
		member,
		inst.mint(t, with(v1Admin, "exp", time.Now().Unix()-60)),
		"garbage",
		member, // verified once, then answered from the token cache
		member, // evaluated twice, then answered from the decision cache
	} {
		inst.post(t, "/v1/check", map[string]any{"token": token, "action": "tasks:read", "resource": map[string]any{"org_id": "org_B"}}, nil)
	}
	after := scrape(t, inst.base)

	for _, tt := range []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"verdict_decisions_total", []string{"decision", "deny", "reason", "tenant_mismatch"}, 3},
		{"verdict_decisions_total", []string{"decision", "deny", "reason", "token_expired"}, 1},
		{"verdict_decisions_total", []string{"decision", "deny", "reason", "token_invalid"}, 1},
		{"verdict_token_verifications_total", []string{"result", "valid"}, 3},
		{"verdict_token_cache_lookups_total", []string{"result", "hit"}, 2},
		{"verdict_token_cache_lookups_total", []string{"result", "miss"}, 3},
		{"verdict_decision_cache_lookups_total", []string{"result", "hit"}, 1},
		{"verdict_decision_cache_lookups_total", []string{"result", "miss"}, 2},
		{"verdict_token_verifications_total", []string{"result", "expired"}, 1},
		{"verdict_token_verifications_total", []string{"result", "invalid"}, 1},
	} {
		if got := after.counter(tt.name, tt.labels...) - before.counter(tt.name, tt.labels...); got != tt.delta {
			t.Errorf("%s%v grew by %v, want %v", tt.name, tt.labels, got, tt.delta)
		}
	}
	h := after["verdict_decision_duration_seconds"]
	if h.GetType() != dto.MetricType_HISTOGRAM || h.GetMetric()[0].GetHistogram().GetSampleCount() < 4 {
		t.Errorf("verdict_decision_duration_seconds = %v, want a histogram with at least 4 samples", h)
	}
	if f := after["verdict_policy_reloads_total"]; f.GetType() != dto.MetricType_COUNTER || len(f.GetMetric()) != 2 {
		t.Errorf("verdict_policy_reloads_total = %v, want a counter with success and failure series", f)
	}
	// No label may carry an unbounded value such as a user or org id.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); strings.Contains(v, "user_") || strings.Contains(v, "org_") {
					t.Errorf("%s has label %s=%q", name, lp.GetName(), v)
				}
			}
		}
	}
}

// TestLivePolicyEdit edits the served policy directory: a valid edit is live
// within 2 s; a broken one is refused, logged with file and line, counted,
// and leaves the previous policies serving and /readyz at 200; a team rule
// that fails while deciding yields 500s, never an allow.
func TestLivePolicyEdit(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	token := inst.mint(t, v2Member)
	ask := func() (int, decision) {
		var d decision
		status := inst.post(t, "/v1/check", map[string]any{"token": token, "action": "billing:manage", "resource": orgA}, &d)
		return status, d
	}
	_, before := ask()
	if before.Allow || before.Reason != "missing_role" {
		t.Fatalf("before the edit: %+v, want missing_role", before)
	}
	rev0 := scrape(t, inst.base)

	// A valid edit: billing:manage also for members, through the catalog data.
	editData(t, inst.policies, func(verdict map[string]any) {
		entry := verdict["actions"].(map[string]any)["billing:manage"].(map[string]any)
		req := entry["requires"].([]any)[0].(map[string]any)
		req["any_of"] = append(req["any_of"].([]any), map[string]any{"role": "org:member"})
	})
	d := waitFor(t, func() (decision, bool) { _, d := ask(); return d, d.Allow })
	if d.Reason != "role" {
		t.Errorf("after the edit: %+v, want allow by role", d)
	}
	if d.PolicyRevision == before.PolicyRevision {
		t.Errorf("policy_revision did not change with the edit")
	}
	if n := scrape(t, inst.base).counter("verdict_policy_reloads_total", "result", "success") - rev0.counter("verdict_policy_reloads_total", "result", "success"); n != 1 {
		t.Errorf("verdict_policy_reloads_total{result=\"success\"} grew by %v, want 1", n)
	}

	// A broken edit is refused.
	writeTestFile(t, inst.policies, "zz_broken.rego", "package verdict.rules.broken\n\ndeny contains {\n")
	waitFor(t, func() (struct{}, bool) {
		return struct{}{}, scrape(t, inst.base).counter("verdict_policy_reloads_total", "result", "failure") > rev0.counter("verdict_policy_reloads_total", "result", "failure")
	})
	if status, d2 := ask(); status != 200 || !d2.Allow || d2.PolicyRevision != d.PolicyRevision {
		t.Errorf("after a broken edit: %d %+v, want the previous revision %s still serving", status, d2, d.PolicyRevision)
	}
	waitReady(t, inst.base)
	logged := false
	for _, rec := range inst.out.logLines() {
		if rec["level"] == "ERROR" && strings.HasSuffix(rec["file"].(string), "zz_broken.rego") && rec["line"].(float64) > 0 {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the refused edit was not logged with file and line:\n%s", inst.out)
	}
	if err := os.Remove(filepath.Join(inst.policies, "zz_broken.rego")); err != nil {
		t.Fatal(err)
	}

	// A team rule that compiles but fails while deciding: fail closed.
	writeTestFile(t, inst.policies, "failing.rego", "package verdict.rules.failing\n\ndeny contains {\"reason\": sprintf(\"%d\", [to_number(input.action)]), \"message\": \"m\"}\n")
	waitFor(t, func() (int, bool) { s, _ := ask(); return s, s != 200 })
	var e apiError
	if status := inst.post(t, "/v1/check", map[string]any{"token": token, "action": "billing:manage", "resource": orgA}, &e); status != 500 || e.Error.Code != "internal" {
		t.Errorf("failing team rule = %d %+v, want 500 internal", status, e)
	}
}

// editData rewrites dir/data.json through edit, which gets the object
// under "verdict".
func editData(t *testing.T, dir string, edit func(verdict map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	edit(data["verdict"].(map[string]any))
	out, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, dir, "data.json", string(out))
}

func writeTestFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls f until it reports done, for at most the contract's 2 s
// reload bound (plus scheduling slack on a loaded machine).
func waitFor[T any](t *testing.T, f func() (T, bool)) T {
	t.Helper()
	return waitUpTo(t, 2500*time.Millisecond, f)
}

// waitUpTo polls f until it reports done, for at most d. Tests that are not
// about the reload bound wait longer, so a loaded machine does not fail
// them.
func waitUpTo[T any](t *testing.T, d time.Duration, f func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v, done := f()
		if done {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s (last value %+v)", d, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func decodeBody(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestDataSwitches turns on, in data only, a plan requirement and the
// impersonation guard, and checks their reason codes over HTTP.
func TestDataSwitches(t *testing.T) {
	t.Parallel()
	inst := startServe(t)
	editData(t, inst.policies, func(verdict map[string]any) {
		verdict["impersonation"] = map[string]any{"deny_destructive": true}
		verdict["actions"].(map[string]any)["reports:schedule"] = map[string]any{
			"description": "Schedule reports: the Pro plan only.",
			"requires":    []any{map[string]any{"any_of": []any{map[string]any{"plan": "o:pro"}}}},
		}
	})

	impersonated := inst.mint(t, with(v1Admin, "act", map[string]any{"sub": "user_support", "sid": "sess_9"}))
	tests := []struct {
		name, token, action string
		allow               bool
		reason              string
	}{
		{"plan missing", inst.mint(t, with(v1Admin, "pla", "o:free")), "reports:schedule", false, "missing_plan"},
		{"plan held", inst.mint(t, with(v1Admin, "pla", "o:pro")), "reports:schedule", true, "membership"},
		{"impersonated destructive action", impersonated, "billing:manage", false, "impersonation_denied"},
		{"impersonated system manage", impersonated, "org:sys_memberships:manage", false, "impersonation_denied"},
		{"impersonated read", impersonated, "org:sys_memberships:read", true, "role"},
		{"not impersonated", inst.mint(t, v1Admin), "billing:manage", true, "role"},
	}
	waitFor(t, func() (decision, bool) {
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": tests[0].token, "action": tests[0].action, "resource": orgA}, &d)
		return d, d.Reason == "missing_plan"
	})
	for _, tt := range tests {
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": tt.token, "action": tt.action, "resource": orgA}, &d)
		if d.Allow != tt.allow || d.Reason != tt.reason {
			t.Errorf("%s: %s = allow %v %s (%s), want allow %v %s", tt.name, tt.action, d.Allow, d.Reason, d.Message, tt.allow, tt.reason)
		}
	}
}
