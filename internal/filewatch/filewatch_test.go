package filewatch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/filewatch"
)

// TestWatch follows a real file: contents already in force are not
// handled again, a change is handled once it has settled, and an
// unreadable file is reported once however long it stays so.
func TestWatch(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "watched")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("v1")
	var mu sync.Mutex
	var changes []string
	var failures []error
	w := filewatch.Watcher{
		Read: func() ([]byte, error) { return os.ReadFile(path) },
		Changed: func(data []byte) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, string(data))
		},
		Failed: func(err error) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, err)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Watch(ctx, 2*time.Millisecond, filewatch.SumOf([]byte("v1"))) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: changes %q, failures %v", what, changes, failures)
			}
		}
	}

	time.Sleep(20 * time.Millisecond) // polls that see only what is in force
	write("v2")
	waitFor("v2", func() bool { return len(changes) == 1 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // many polls of a missing file
	write("v1")                       // back to what was once in force: a change all the same
	waitFor("v1 again", func() bool { return len(changes) == 2 })

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(changes, []string{"v2", "v1"}) {
		t.Errorf("changes handled %q, want v2 then v1", changes)
	}
	if len(failures) != 1 || !errors.Is(failures[0], os.ErrNotExist) {
		t.Errorf("failures %v, want the missing file once", failures)
	}
}
