package decisionlog

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReopenFailureKeepsTheOldFile: a SIGHUP reopen that cannot open the
// file by its path keeps writing to the old file, and every decision is
// written and counted so.
func TestReopenFailureKeepsTheOldFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "d.jsonl")
	var dropped, written atomic.Int64
	w, err := Open(path, Options{OnDropped: func() { dropped.Add(1) }, OnWritten: func() { written.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	w.Record(record(1))
	// logrotate moved the dir away / it is briefly unavailable
	moved := dir + ".old"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil {
		t.Fatal("reopen unexpectedly succeeded")
	}
	if err := os.Mkdir(dir, 0o755); err != nil { // available again
		t.Fatal(err)
	}
	for i := 2; i < 10; i++ {
		w.Record(record(i))
	}
	if err := w.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	old, _ := os.ReadFile(filepath.Join(moved, "d.jsonl"))
	cur, _ := os.ReadFile(path)
	n := strings.Count(string(old), "\n") + strings.Count(string(cur), "\n")
	if n != 9 {
		t.Errorf("decisions written after a failed reopen: %d of 9 lines survive (written=%d dropped=%d)", n, written.Load(), dropped.Load())
	}
}

// TestReaderRefusesTrailingBrackets: closing brackets after a line's
// object make it malformed, not a decision.
func TestReaderRefusesTrailingBrackets(t *testing.T) {
	line := `{"decision_id":"d","principal":{"authenticated":false},"action":"a","allow":false,"reason":"r"}}]]}`
	r := NewReader(strings.NewReader(line + "\n"))
	if _, _, err := r.Next(); err == nil {
		t.Errorf("a line with trailing garbage %q was accepted as a decision", line)
	}
}
