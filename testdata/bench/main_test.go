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
//	VERDICT_LOAD_TEST=1 go test -run TestQuickRun -v
func TestQuickRun(t *testing.T) {
	if os.Getenv("VERDICT_LOAD_TEST") != "1" {
		t.Skip("set VERDICT_LOAD_TEST=1 to run the harness end to end")
	}
	bin := t.TempDir()
	verdictBin, opaBin := filepath.Join(bin, "verdict"), filepath.Join(bin, "opa")
	goBuild(t, filepath.Join("..", ".."), "-o", verdictBin, "./cmd/verdict")
	goBuild(t, ".", "-o", opaBin, "github.com/open-policy-agent/opa") // a tool of this module

	var out strings.Builder
	err := run(context.Background(), []string{"bench", "-quick", "-verdict", verdictBin, "-opa", opaBin}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("run() error = %v", err)
	}
	for _, want := range []string{
		"answers checked: verdict 0 wrong of 500",
		"answers checked: opa (jwt cache) ",
		uniqueTitle + ":",
		"ratio verdict/opa (jwt cache): throughput ×",
		"verdict decision cache during these rounds: 0.0% hits",
		repeatTitle + ":",
		"RSS: verdict idle ",
		"start-up to ready: verdict ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// goBuild runs go build in dir (the module it builds from).
func goBuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}
