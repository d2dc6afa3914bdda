package verdictclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestGeneratedClientIsCurrent regenerates the client with the oapi-codegen
// pinned in go.mod, from api/openapi.yaml and api/oapi-codegen.yaml, into a
// temporary file, and fails when the committed client.gen.go differs.
func TestGeneratedClientIsCurrent(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	config := redirectedConfig(t, filepath.Join(t.TempDir(), "client.gen.go"))
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", config, "../openapi.yaml")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	fresh, err := os.ReadFile(filepath.Join(filepath.Dir(config), "client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, fresh) {
		t.Errorf("api/verdictclient/client.gen.go is stale: run go generate ./api/verdictclient\n(first difference at line %d)", firstDiffLine(committed, fresh))
	}
}

// redirectedConfig writes a copy of api/oapi-codegen.yaml whose output is
// out (the -o flag does not override a config's output), next to out.
func redirectedConfig(t *testing.T, out string) string {
	t.Helper()
	b, err := os.ReadFile("../oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	if err := yaml.Unmarshal(b, &config); err != nil {
		t.Fatal(err)
	}
	config["output"] = out
	if b, err = yaml.Marshal(config); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(out), "oapi-codegen.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// firstDiffLine is the 1-based number of the first line where a and b
// differ.
func firstDiffLine(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
