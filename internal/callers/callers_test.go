package callers_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/callers"
)

func TestParse(t *testing.T) {
	t.Parallel()
	good := "# billing and the web app\n\nbilling " + callers.HashKey("key-billing") + "\n  web-app.v2 " + callers.HashKey("key-web") + "  \n"
	for _, c := range []struct {
		name, file, wantErr string
		wantLen             int
	}{
		{"two callers, comments and blanks", good, "", 2},
		{"empty", "", "", 0},
		{"the key instead of its hash", "billing key-billing\n", "line 1: caller \"billing\": want the key's hash as sha256:HEX, not the key itself", 0},
		{"uppercase hex", "billing sha256:" + strings.ToUpper(callers.HashKey("k")[7:]) + "\n", "line 1: caller \"billing\": want 64 lowercase hex digits", 0},
		{"short hash", "billing sha256:abcd\n", "want 64 lowercase hex digits", 0},
		{"not hex", "billing sha256:" + strings.Repeat("zz", 32) + "\n", "invalid byte", 0},
		{"three fields", "billing " + callers.HashKey("k") + " extra\n", "line 1: want NAME sha256:HEX, got 3 fields", 0},
		{"a name with a space in a label", "bill\"ing " + callers.HashKey("k") + "\n", "caller name \"bill\\\"ing\"", 0},
		{"a name twice", "a " + callers.HashKey("1") + "\n#\na " + callers.HashKey("2") + "\n", "line 3: caller \"a\" is already named on line 1", 0},
		{"a key twice", "a " + callers.HashKey("1") + "\nb " + callers.HashKey("1") + "\n", "line 2: the key of \"b\" is already the key of line 1", 0},
		{"too large", strings.Repeat("#\n", callers.MaxFileBytes), "larger than", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := callers.Parse(strings.NewReader(c.file))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Parse = %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || s.Len() != c.wantLen {
				t.Fatalf("Parse = %v, %v; want %d callers", s, err, c.wantLen)
			}
		})
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	s, err := callers.Parse(strings.NewReader("billing " + callers.HashKey("key-billing") + "\nweb " + callers.HashKey("key-web") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, name string
		ok        bool
	}{
		{"key-billing", "billing", true},
		{"key-web", "web", true},
		{"key-billinG", "", false},
		{"", "", false},
		{callers.HashKey("key-web"), "", false}, // the hash is not the key
	} {
		if name, ok := s.Identify(c.key); name != c.name || ok != c.ok {
			t.Errorf("Identify(%q) = %q, %v; want %q, %v", c.key, name, ok, c.name, c.ok)
		}
	}
}

// TestFileRotation: a keys file edited while in force takes effect without
// a restart; an edit that does not parse is refused and the keys before it
// stay in force.
func TestFileRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "api-keys")
	write := func(content string) {
		t.Helper()
		// As a Secret mount or an editor does: a new file swapped in.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("billing " + callers.HashKey("old") + "\n")
	var mu sync.Mutex
	var reloads []error
	f, err := callers.Open(path, callers.Options{OnReload: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reloads = append(reloads, err)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Watch(ctx, 5*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// Rotation: both keys, then the new one alone.
	write("billing " + callers.HashKey("new") + "\nbilling-previous " + callers.HashKey("old") + "\n")
	waitFor("the new key", func() bool { _, ok := f.Identify("new"); return ok })
	if name, ok := f.Identify("old"); !ok || name != "billing-previous" {
		t.Errorf("during the rotation the old key is %q, %v", name, ok)
	}
	write("billing " + callers.HashKey("new") + "\n")
	waitFor("the old key to go", func() bool { _, ok := f.Identify("old"); return !ok })

	// A broken edit: refused, reported, the keys in force stay.
	write("billing new\n")
	waitFor("the refusal", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reloads) > 0 && reloads[len(reloads)-1] != nil
	})
	if name, ok := f.Identify("new"); !ok || name != "billing" {
		t.Errorf("after a refused edit, Identify(new) = %q, %v", name, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reloads) != 3 || reloads[0] != nil || reloads[1] != nil || reloads[2] == nil {
		t.Errorf("reloads reported %v, want two applied and one refused", reloads)
	}
}

func TestOpenRefusesWhatDoesNotParse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "keys")
	if err := os.WriteFile(bad, []byte("billing key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := callers.Open(bad, callers.Options{}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("Open(a bad file) = %v, want the line's problem", err)
	}
	if _, err := callers.Open(filepath.Join(dir, "missing"), callers.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(a missing file) = %v, want not exist", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("billing " + callers.HashKey("k") + "\n# c\n\nweb " + callers.HashKey("w"))
	f.Add("a sha256:\n")
	f.Fuzz(func(t *testing.T, file string) {
		s, err := callers.Parse(strings.NewReader(file))
		if err != nil {
			return
		}
		// Whatever parsed names no caller for the empty key, and every
		// hash it holds is a hash, never a key.
		if _, ok := s.Identify(""); ok {
			t.Fatal("the empty key identified a caller")
		}
	})
}
