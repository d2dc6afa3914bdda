package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickRun runs the whole harness in -quick mode against freshly built
// binaries. It takes about half a minute, so it runs only when asked:
//
//	VERDICT_LOAD_TEST=1 go test ./cmd/verdict-load -run TestQuickRun -v
func TestQuickRun(t *testing.T) {
	if os.Getenv("VERDICT_LOAD_TEST") != "1" {
		t.Skip("set VERDICT_LOAD_TEST=1 to run the harness end to end")
	}
	bin := t.TempDir()
	verdictBin, opaBin := filepath.Join(bin, "verdict"), filepath.Join(bin, "opa")
	goBuild(t, nil, "-o", verdictBin, "./cmd/verdict")
	// OPA's command needs modules go.sum does not list: build it with a
	// scratch copy of go.mod/go.sum, as make load does.
	mod := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	goBuild(t, []string{"GOFLAGS=-mod=mod"}, "-modfile", filepath.Join(mod, "go.mod"), "-o", opaBin, "github.com/open-policy-agent/opa")

	var out strings.Builder
	err := run(context.Background(), []string{"verdict-load", "-quick",
		"-verdict", verdictBin, "-opa", opaBin,
		"-policies", "../../policies", "-bench-rego", "../../testdata/bench/opa",
	}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("run() error = %v", err)
	}
	for _, want := range []string{
		"answers checked: verdict 0 wrong of 500",
		"answers checked: opa (jwt cache) ",
		"ratio verdict/opa (jwt cache): throughput ×",
		"RSS: verdict idle ",
		"start-up to ready: verdict ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func goBuild(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}
