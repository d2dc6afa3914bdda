package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestDecisionLog serves with --decision-log, sends a mixed workload
// (allows, denials of several kinds, a batch, refused and absent tokens)
// and shuts down as on SIGTERM: every decision answered is in the file
// exactly once, no line holds a token or its signature, and the fields the
// policies mask are gone.
func TestDecisionLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	inst := startServe(t, "--decision-log", path)

	// The mask arrives with a policy edit, as a team would add it.
	var first authz.Decision
	inst.post(t, "/v1/check", map[string]any{"action": "tasks:read", "resource": orgA}, &first)
	mask := `{"verdict": {"decision_log": {"mask": ["/resource/attributes/ssn", "/context/ip", "/resource/attributes/tags/0"]}}}`
	if err := os.WriteFile(filepath.Join(inst.policies, "logging.json"), []byte(mask), 0o644); err != nil {
		t.Fatal(err)
	}
	polled := waitRevisionChange(t, inst, first.PolicyRevision)

	w := sendWorkload(t, inst)
	ids := append(append([]string{first.DecisionID}, polled...), w.ids...)

	// Shut down as SIGTERM does, and wait: the log is complete then.
	inst.stop()
	err := <-inst.done
	inst.done <- err // for the harness's own wait
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range w.tokens {
		signature := token[strings.LastIndex(token, ".")+1:]
		if strings.Contains(string(raw), token) || strings.Contains(string(raw), signature) {
			t.Fatal("the decision log holds a token or its signature")
		}
	}
	for _, secret := range []string{"123-45-6789", "10.9.8.7", "secret-tag"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the decision log holds the masked value %q", secret)
		}
	}
	var logged []string
	reasons := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var e struct {
			DecisionID  string         `json:"decision_id"`
			Path        string         `json:"path"`
			Principal   map[string]any `json:"principal"`
			TokenReason string         `json:"token_reason"`
			Reason      string         `json:"reason"`
			Context     map[string]any `json:"context"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		logged = append(logged, e.DecisionID)
		reasons[e.Reason] = true
		if (e.TokenReason != "") != (e.Principal["authenticated"] == false && e.Reason != "unauthenticated") {
			t.Errorf("entry %s: token_reason %q with principal %v", e.DecisionID, e.TokenReason, e.Principal)
		}
		if e.Context != nil && e.Context["ua"] != "curl" {
			t.Errorf("entry %s: context %v, want ua kept", e.DecisionID, e.Context)
		}
	}
	slices.Sort(ids)
	slices.Sort(logged)
	if !slices.Equal(ids, logged) {
		t.Errorf("logged decisions %v\nwant exactly %v", logged, ids)
	}
	for _, r := range []string{"membership", "tenant_mismatch", "missing_role", "role", "unknown_action", "token_expired", "token_invalid", "unauthenticated"} {
		if !reasons[r] {
			t.Errorf("no %s decision in the log", r)
		}
	}

	// Replayed against the policies that made them, nothing changes; the
	// two decisions the token made alone are skipped.
	out, summary, err := replayLog(t, inst.policies, path)
	if err != nil || out != "" || summary.Changed != 0 || summary.Skipped != 2 || summary.Total != len(ids) {
		t.Errorf("replay against the same policies: %v, summary %+v, changes %q", err, summary, out)
	}

	// An edit that pauses reads changes exactly the reads that were
	// allowed: denials that came first (tenancy, no user) stay.
	edited := t.TempDir()
	if err := os.CopyFS(edited, os.DirFS(inst.policies)); err != nil {
		t.Fatal(err)
	}
	lockdown := "package verdict.rules.lockdown\n\ndeny contains {\"reason\": \"lockdown\", \"message\": \"reads are paused\"} if input.action == \"tasks:read\"\n"
	if err := os.WriteFile(filepath.Join(edited, "lockdown.rego"), []byte(lockdown), 0o644); err != nil {
		t.Fatal(err)
	}
	var wantChanged []string
	sc = bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var e struct {
			DecisionID string `json:"decision_id"`
			Action     string `json:"action"`
			Allow      bool   `json:"allow"`
		}
		_ = json.Unmarshal(sc.Bytes(), &e)
		if e.Action == "tasks:read" && e.Allow {
			wantChanged = append(wantChanged, e.DecisionID)
		}
	}
	out, summary, err = replayLog(t, edited, path)
	if !errors.Is(err, errDecisionsChanged) || exitCode(err) != 1 {
		t.Errorf("replay against the edit: %v (exit %d), want exit 1", err, exitCode(err))
	}
	var gotChanged []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var c replayChange
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("replay line %q: %v", line, err)
		}
		if !c.Before.Allow || c.After.Allow || c.After.Reason != "lockdown" || c.Action != "tasks:read" {
			t.Errorf("replay change %+v", c)
		}
		gotChanged = append(gotChanged, c.DecisionID)
	}
	slices.Sort(wantChanged)
	slices.Sort(gotChanged)
	if len(wantChanged) == 0 || !slices.Equal(gotChanged, wantChanged) ||
		summary.Changed != len(wantChanged) || summary.AllowToDeny != len(wantChanged) {
		t.Errorf("replay against the edit changed %v (summary %+v), want %v", gotChanged, summary, wantChanged)
	}
}

// replayLog runs verdict replay on a decision log and returns its change
// lines and its summary.
func replayLog(t *testing.T, policies, log string) (string, replaySummary, error) {
	t.Helper()
	var stdout, stderr strings.Builder
	err := runReplay(context.Background(), []string{"--policies", policies, "--log", log}, emptyEnv, strings.NewReader(""), &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var last map[string]replaySummary
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &last); jerr != nil {
		t.Fatalf("replay's last line %q: %v (stderr %s)", lines[len(lines)-1], jerr, stderr.String())
	}
	return strings.Join(lines[:len(lines)-1], "\n"), last["summary"], err
}

// waitRevisionChange asks until the served policy revision is no longer
// old, and returns the ids of the decisions it asked for.
func waitRevisionChange(t *testing.T, inst *instance, old string) []string {
	t.Helper()
	var ids []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var d authz.Decision
		inst.post(t, "/v1/check", map[string]any{"action": "tasks:read", "resource": orgA}, &d)
		ids = append(ids, d.DecisionID)
		if d.PolicyRevision != old {
			return ids
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the policy edit was not served within 10 s")
	return nil
}

// TestDecisionLogToStdout: with --decision-log -, decisions and the
// service's own log (at debug level, a line per request) share standard
// output, concurrently, and every line stays whole.
func TestDecisionLogToStdout(t *testing.T) {
	t.Parallel()
	inst := startServe(t, "--decision-log", "-", "--log-level", "debug")
	member := inst.mint(t, v2Member)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := map[string]any{"type": "task", "id": fmt.Sprint("t", i), "org_id": "org_A", "attributes": map[string]any{"note": strings.Repeat("x", 3000)}}
			inst.post(t, "/v1/check", map[string]any{"token": member, "action": "tasks:read", "resource": res}, nil)
		})
	}
	wg.Wait()
	inst.stop()
	err := <-inst.done
	inst.done <- err
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	decisions, records := 0, 0
	sc := bufio.NewScanner(strings.NewReader(inst.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a line of standard output is not whole JSON: %v: %.200s", err, sc.Text())
		}
		switch {
		case m["decision_id"] != nil && m["msg"] == nil:
			decisions++
		case m["msg"] != nil:
			records++
		}
	}
	if decisions != n || records < n {
		t.Errorf("%d decision lines and %d log records; want %d and at least %d", decisions, records, n, n)
	}
}

// workloadAnswers are the answers a workload got, in order, and their
// decision ids.
type workloadAnswers struct {
	ids     []string
	answers []authz.Decision
	tokens  []string // every token sent
}

// sendWorkload sends allows, denials of several kinds, refused and absent
// tokens, resources with attributes and context to mask, and a batch.
func sendWorkload(t *testing.T, inst *instance) workloadAnswers {
	t.Helper()
	member, admin := inst.mint(t, v2Member), inst.mint(t, v1Admin)
	expired := inst.mint(t, with(v1Admin, "exp", time.Now().Unix()-60))
	forged := admin[:len(admin)-4] + "AAAA"
	secretRes := map[string]any{"type": "task", "id": "t1", "org_id": "org_A", "attributes": map[string]any{"ssn": "123-45-6789", "tags": []any{"secret-tag", "kept"}}}
	secretCtx := map[string]any{"ip": "10.9.8.7", "ua": "curl"}
	w := workloadAnswers{tokens: []string{member, admin, expired, forged}}
	for _, c := range []map[string]any{
		{"token": member, "action": "tasks:read", "resource": secretRes, "context": secretCtx},
		{"token": member, "action": "tasks:read", "resource": map[string]any{"org_id": "org_B"}},
		{"token": member, "action": "billing:manage", "resource": orgA},
		{"token": admin, "action": "org:sys_memberships:manage", "resource": orgA},
		{"token": admin, "action": "rockets:launch", "resource": orgA},
		{"token": admin, "action": "tasks:read", "resource": orgA},
		{"token": expired, "action": "tasks:read", "resource": orgA},
		{"token": forged, "action": "tasks:read", "resource": orgA},
		{"action": "tasks:read", "resource": orgA},
	} {
		var d authz.Decision
		if status := inst.post(t, "/v1/check", c, &d); status != 200 || d.DecisionID == "" {
			t.Fatalf("POST /v1/check %v = %d %+v", c["action"], status, d)
		}
		w.ids, w.answers = append(w.ids, d.DecisionID), append(w.answers, d)
	}
	var batch struct{ Results []authz.Decision }
	inst.post(t, "/v1/check/batch", map[string]any{"token": admin, "checks": []any{
		map[string]any{"action": "tasks:read", "resource": secretRes, "context": secretCtx},
		map[string]any{"action": "billing:manage", "resource": orgA},
		map[string]any{"action": "tasks:read", "resource": map[string]any{"org_id": "org_B"}},
	}}, &batch)
	for _, d := range batch.Results {
		w.ids, w.answers = append(w.ids, d.DecisionID), append(w.answers, d)
	}
	return w
}
