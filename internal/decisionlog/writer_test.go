package decisionlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
	"github.com/verdict-pdp/verdict/internal/jsonpointer"
)

func record(i int) authz.DecisionRecord {
	return authz.DecisionRecord{
		Time:   time.Date(2026, 11, 29, 18, 0, 0, 123456789, time.UTC),
		Origin: authz.Origin{Path: "/v1/check", RequestID: "req-1"},
		Principal: authz.Principal{
			Authenticated: true, UserID: "user_1", OrgID: "org_1", OrgRole: "org:member",
			OrgPermissions: []string{"org:posts:publish"}, TokenVersion: 2,
		},
		Check: authz.Check{
			Action:   "tasks:read",
			Resource: &authz.Resource{Type: "task", ID: fmt.Sprint("t", i), OrgID: "org_1", Attributes: map[string]any{"ssn": "123", "tags": []any{"a", "secret"}}},
			Context:  map[string]any{"ip": "10.0.0.1", "ua": "curl"},
		},
		Decision: authz.Decision{DecisionID: fmt.Sprint("d", i), Allow: true, Reason: "membership", Message: "any member \"quoted\" é", PolicyRevision: "sha256:abc"},
		Elapsed:  412 * time.Microsecond,
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// TestEntry: the line has the contract's fields and values.
func TestEntry(t *testing.T) {
	t.Parallel()
	line, err := appendEntry(nil, record(7))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"decision_id":"d7","time":"2026-11-29T18:00:00.123456Z","path":"/v1/check","request_id":"req-1",` +
		`"policy_revision":"sha256:abc","principal":{"user_id":"user_1","org_id":"org_1","org_role":"org:member",` +
		`"org_permissions":["org:posts:publish"],"token_version":2,"expires_at":"0001-01-01T00:00:00Z"},` +
		`"action":"tasks:read","resource":{"type":"task","id":"t7","org_id":"org_1","attributes":{"ssn":"123","tags":["a","secret"]}},` +
		`"context":{"ip":"10.0.0.1","ua":"curl"},"allow":true,"reason":"membership","message":"any member \"quoted\" é","duration_us":412}` + "\n"
	if string(line) != want {
		t.Errorf("entry:\n got %s\nwant %s", line, want)
	}

	refused := authz.DecisionRecord{Origin: authz.Origin{Path: "/v1/check/batch"}, TokenReason: authz.ReasonTokenExpired,
		Check: authz.Check{Action: "tasks:read"}, Decision: authz.Decision{Reason: authz.ReasonTokenExpired}}
	line, err = appendEntry(nil, refused)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if p, _ := m["principal"].(map[string]any); p["authenticated"] != false || len(p) != 1 || m["token_reason"] != "token_expired" {
		t.Errorf("refused token: principal %v, token_reason %v", m["principal"], m["token_reason"])
	}
	if _, ok := m["resource"]; ok {
		t.Error("an absent resource was written")
	}
}

// TestWriterWritesEveryDecisionOnce: all decisions recorded before Close
// are in the file, once each, in order, masked.
func TestWriterWritesEveryDecisionOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	var written atomic.Int64
	pointers := []jsonpointer.Pointer{}
	for _, s := range []string{"/resource/attributes/ssn", "/resource/attributes/tags/1", "/context/ip", "/nothing"} {
		p, err := jsonpointer.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		pointers = append(pointers, p)
	}
	w, err := Open(path, Options{Mask: func() []jsonpointer.Pointer { return pointers }, OnWritten: func() { written.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		w.Record(record(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != n || written.Load() != n {
		t.Fatalf("%d lines, %d counted; want %d", len(lines), written.Load(), n)
	}
	for i, m := range lines {
		if m["decision_id"] != fmt.Sprint("d", i) {
			t.Fatalf("line %d is %v", i, m["decision_id"])
		}
		attrs := m["resource"].(map[string]any)["attributes"].(map[string]any)
		if _, ok := attrs["ssn"]; ok || fmt.Sprint(attrs["tags"]) != "[a]" {
			t.Fatalf("line %d not masked: %v", i, attrs)
		}
		if ctx := m["context"].(map[string]any); ctx["ip"] != nil || ctx["ua"] != "curl" {
			t.Fatalf("line %d context: %v", i, ctx)
		}
	}
}

// blockingWriter blocks every write until released.
type blockingWriter struct{ release chan struct{} }

func (b blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return len(p), nil
}

// TestWriterNeverBlocks: with the output stuck, recording goes on at once,
// dropping and counting what the buffer cannot hold; once the output
// moves, everything kept is written.
func TestWriterNeverBlocks(t *testing.T) {
	t.Parallel()
	out := blockingWriter{release: make(chan struct{})}
	var written, dropped atomic.Int64
	w, err := Open(Stdout, Options{Buffer: 8, Stdout: out,
		OnWritten: func() { written.Add(1) }, OnDropped: func() { dropped.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000 // more than the writer's buffers hold
	start := time.Now()
	for i := range n {
		w.Record(record(i))
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("recording %d decisions into a stuck log took %v", n, elapsed)
	}
	if dropped.Load() == 0 {
		t.Fatal("nothing dropped although the output never moved")
	}
	close(out.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if written.Load()+dropped.Load() != n {
		t.Errorf("written %d + dropped %d != %d recorded", written.Load(), dropped.Load(), n)
	}
}

// TestReopen: after the file is moved away (logrotate), Reopen starts a
// new file by the same path; nothing is lost or written twice.
func TestReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.jsonl")
	w, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		w.Record(record(i))
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 15; i++ {
		w.Record(record(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Reopen after Close = %v, want an error", err)
	}
	if old, cur := readLines(t, path+".1"), readLines(t, path); len(old) != 10 || len(cur) != 5 || cur[0]["decision_id"] != "d10" {
		t.Errorf("rotated file %d lines, new file %d lines (first %v); want 10 and 5 from d10", len(old), len(cur), cur[0]["decision_id"])
	}
}

// TestPrincipalAndResourceAsEncodingJSON: the hand-written encoders write
// what encoding/json writes for the same values (the shapes
// /v1/authenticate and the requests use), for every optional field set
// or not.
func TestPrincipalAndResourceAsEncodingJSON(t *testing.T) {
	t.Parallel()
	full := authz.Principal{
		Authenticated: true, UserID: "user_1", SessionID: "sess_1", OrgID: "org_1", OrgRole: "org:admin", OrgSlug: "acme",
		OrgPermissions: []string{"org:a:b", "org:c:d"}, Features: []string{"o:x"}, Plans: []string{"u:free"},
		FactorVerificationAge: &[2]int{3, -1}, SessionStatus: "active", Actor: map[string]any{"sub": "user_support", "n": json.Number("2")},
		TokenVersion: 2, ExpiresAt: time.Date(2026, 11, 30, 1, 2, 3, 456000000, time.UTC),
	}
	principals := []authz.Principal{full, {Authenticated: true, UserID: "u"}, {Authenticated: true, UserID: "ü \"quoted\"", OrgPermissions: []string{}}}
	for _, p := range principals {
		got, err := appendPrincipal(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("principal:\n got %s\nwant %s", got, want)
		}
	}
	for _, r := range []authz.Resource{
		{}, {Type: "task"}, {ID: "t1", OwnerID: "u"}, {Type: "t", ID: "i", OrgID: "o", OrgSlug: "s", OwnerID: "u", Attributes: map[string]any{"b": []any{true, nil}, "a": "x"}},
	} {
		got, err := appendResource(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("resource:\n got %s\nwant %s", got, want)
		}
	}
}

// TestWriterBoundsWhatWaits: with the output stuck, decisions with large
// resources are dropped once those waiting hold the byte budget, not the
// count: memory stays bounded whatever callers send.
func TestWriterBoundsWhatWaits(t *testing.T) {
	t.Parallel()
	out := blockingWriter{release: make(chan struct{})}
	var written, dropped atomic.Int64
	w, err := Open(Stdout, Options{Stdout: out, OnWritten: func() { written.Add(1) }, OnDropped: func() { dropped.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 1<<20)
	const n = 200 // 200 MiB of attributes, against a 64 MiB budget
	for i := range n {
		r := record(i)
		r.Check.Resource.Attributes = map[string]any{"blob": big}
		w.Record(r)
	}
	if kept := n - dropped.Load(); kept > maxQueuedBytes>>20+2 {
		t.Errorf("%d decisions of 1 MiB kept waiting, want at most about %d", kept, maxQueuedBytes>>20)
	}
	close(out.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if written.Load()+dropped.Load() != n {
		t.Errorf("written %d + dropped %d != %d", written.Load(), dropped.Load(), n)
	}
}
