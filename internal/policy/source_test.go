package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/verdict-pdp/verdict/internal/policy"
)

// TestDirReadsOnlyRegularFilesInside: a policy directory is read through
// policy.Dir. Files linked the way a Kubernetes ConfigMap mount links them
// load; a link out of the directory, a FIFO (which would block the reader
// forever) and a file too large are refused with their names.
func TestDirReadsOnlyRegularFilesInside(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(shippedPolicies, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A ConfigMap mount: ..data links to a timestamped directory, and each
	// file links through ..data.
	configMap := t.TempDir()
	writeFile(t, filepath.Join(configMap, "..2026_11_29", "data.json"), string(data))
	symlink(t, "..2026_11_29", filepath.Join(configMap, "..data"))
	symlink(t, "..data/data.json", filepath.Join(configMap, "data.json"))
	if _, err := policy.Load(context.Background(), policy.Dir(configMap), policy.Options{}); err != nil {
		t.Fatalf("a ConfigMap-style directory: %v", err)
	}

	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret.json"), `{"x": 1}`)
	for name, setup := range map[string]func(dir string){
		"a link out of the directory": func(dir string) { symlink(t, filepath.Join(outside, "secret.json"), filepath.Join(dir, "x.json")) },
		"a link to a device":          func(dir string) { symlink(t, "/dev/zero", filepath.Join(dir, "x.json")) },
		"a link to a directory": func(dir string) {
			// Its deny would quietly never load: refused instead.
			writeFile(t, filepath.Join(dir, ".real", "deny.rego"), teamRule(`deny contains {"reason": "r", "message": "m"} if input.resource.attributes.locked`))
			symlink(t, ".real", filepath.Join(dir, "x.link"))
		},

		"a FIFO": func(dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "x.rego"), 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		},
		"a file too large": func(dir string) {
			writeFile(t, filepath.Join(dir, "x.json"), `{"x": "`+strings.Repeat("a", 9<<20)+`"}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := writePolicies(t, map[string]string{"data.json": string(data)})
			setup(dir)
			_, err := policy.Load(context.Background(), policy.Dir(dir), policy.Options{Dir: "policies"})
			var ce *policy.CompileError
			if err == nil {
				t.Fatal("Load succeeded, want the file refused")
			}
			if !errors.As(err, &ce) || !strings.Contains(ce.Error(), "policies/x.") {
				t.Errorf("Load = %v, want the problem to name the file", err)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
