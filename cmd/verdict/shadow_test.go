package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lockdown is a policy edit: a team deny on every read.
const lockdown = `package verdict.rules.lockdown

deny contains {"reason": "lockdown", "message": "reads are paused"} if input.action == "tasks:read"
`

// TestShadowPolicies serves the same workload with and without a shadow
// set (the served policies plus lockdown): the answers are the same; the
// shadow counts exactly the differences replay predicts, and the decision
// log carries the shadow's answer on those decisions and no others.
func TestShadowPolicies(t *testing.T) {
	t.Parallel()
	candidate := copyPolicies(t)
	if err := os.WriteFile(filepath.Join(candidate, "lockdown.rego"), []byte(lockdown), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	plain := startServe(t)
	shadowed := startServe(t, "--shadow-policies", candidate, "--decision-log", path)

	want := sendWorkload(t, plain)
	got := sendWorkload(t, shadowed)
	for i := range want.answers {
		w, g := want.answers[i], got.answers[i]
		if w.Allow != g.Allow || w.Reason != g.Reason || w.Message != g.Message {
			t.Errorf("answer %d with a shadow set: %+v, without: %+v", i, g, w)
		}
	}

	// The shadow evaluates off the response's path: wait for it to catch up.
	const evaluated = 10 // the workload's decisions the policies made (two were the token's)
	deadline := time.Now().Add(10 * time.Second)
	var m exposition
	for {
		m = scrape(t, shadowed.base)
		if m.counter("verdict_shadow_decisions_total", "result", "same")+m.counter("verdict_shadow_decisions_total", "result", "different") >= evaluated || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	shadowed.stop()
	err := <-shadowed.done
	shadowed.done <- err
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	_, predicted, _ := replayLog(t, candidate, path)
	different := m.counter("verdict_shadow_decisions_total", "result", "different")
	same := m.counter("verdict_shadow_decisions_total", "result", "same")
	if predicted.Changed == 0 || int(different) != predicted.Changed || int(same+different) != evaluated ||
		int(m.counter("verdict_shadow_divergences_total", "from_reason", "membership", "to_reason", "lockdown")) != predicted.Changed {
		t.Errorf("shadow: %v same, %v different; replay predicted %d changed of %d", same, different, predicted.Changed, evaluated)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	withShadow := strings.Count(string(raw), `"shadow":{"allow":false,"reason":"lockdown","policy_revision":"sha256:`)
	if withShadow != predicted.Changed || strings.Count(string(raw), `"shadow":`) != withShadow {
		t.Errorf("%d log lines carry the shadow's lockdown, %d any shadow; want %d", withShadow, strings.Count(string(raw), `"shadow":`), predicted.Changed)
	}
}

// TestShadowPoliciesThatDoNotCompile: a shadow set that does not compile
// is logged and skipped while serving goes on; fixed, it is picked up.
func TestShadowPoliciesThatDoNotCompile(t *testing.T) {
	t.Parallel()
	candidate := copyPolicies(t)
	broken := filepath.Join(candidate, "lockdown.rego")
	if err := os.WriteFile(broken, []byte("package verdict.rules.lockdown\n\ndeny contains {"), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := startServe(t, "--shadow-policies", candidate)
	var d struct {
		Allow  bool
		Reason string
	}
	if status := inst.post(t, "/v1/check", map[string]any{"token": inst.mint(t, v1Admin), "action": "tasks:read", "resource": orgA}, &d); status != 200 || !d.Allow {
		t.Fatalf("serving beside a broken shadow set: %d %+v", status, d)
	}
	logged := false
	for _, rec := range inst.out.logLines() {
		logged = logged || rec["msg"] == "shadow policies do not compile; serving is unchanged"
	}
	if !logged {
		t.Error("the broken shadow set was not logged")
	}
	deadline := time.Now().Add(10 * time.Second)
	for scrape(t, inst.base).counter("verdict_shadow_skipped_total") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no skipped shadow evaluation counted")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := os.WriteFile(broken, []byte(lockdown), 0o644); err != nil {
		t.Fatal(err)
	}
	token := inst.mint(t, v1Admin)
	for scrape(t, inst.base).counter("verdict_shadow_decisions_total", "result", "different") == 0 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the fixed shadow set was not picked up within 20 s")
		}
		inst.post(t, "/v1/check", map[string]any{"token": token, "action": "tasks:read", "resource": orgA}, nil)
		time.Sleep(50 * time.Millisecond)
	}
}
