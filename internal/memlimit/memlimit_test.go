package memlimit_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/verdict-pdp/verdict/internal/memlimit"
)

// TestCgroup reads limits from cgroup trees laid out as Linux lays them out.
func TestCgroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		files      map[string]string
		wantLimit  int64
		wantSource string
		wantErr    bool
	}{
		{"v2 in a container", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "268435456\n",
		}, 256 << 20, "/sys/fs/cgroup/memory.max", false},
		{"v2 without a limit", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "max\n",
		}, 0, "/sys/fs/cgroup/memory.max", false},
		{"v2, the process's own cgroup first", map[string]string{
			"proc/self/cgroup":                          "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "134217728\n",
			"sys/fs/cgroup/memory.max":                  "max\n",
		}, 128 << 20, "/sys/fs/cgroup/kubepods/pod1/c1/memory.max", false},
		{"v1 in a container", map[string]string{
			"proc/self/cgroup":                           "12:pids:/kubepods/x\n4:memory:/kubepods/pod1/c1\n0::/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n",
		}, 512 << 20, "/sys/fs/cgroup/memory/memory.limit_in_bytes", false},
		{"v1 unlimited", map[string]string{
			"proc/self/cgroup": "4:memory:/user.slice\n",
			"sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0, "/sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes", false},
		{"v1, memory among other controllers", map[string]string{
			"proc/self/cgroup": "3:cpu,memory:/a\n",
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes": "1048576\n",
		}, 1 << 20, "/sys/fs/cgroup/memory/a/memory.limit_in_bytes", false},
		{"no cgroup files at all", map[string]string{}, 0, "", false},
		{"garbage in the limit", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "lots\n",
		}, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			limit, source, err := memlimit.Cgroup(os.DirFS(root))
			if (err != nil) != tt.wantErr || limit != tt.wantLimit || source != tt.wantSource {
				t.Errorf("Cgroup() = %d, %q, %v; want %d, %q, error %v", limit, source, err, tt.wantLimit, tt.wantSource, tt.wantErr)
			}
		})
	}
}

// TestCgroupOfThisMachine reads this machine's own cgroup files, whatever
// they say: the reader must understand them.
func TestCgroupOfThisMachine(t *testing.T) {
	t.Parallel()
	limit, source, err := memlimit.Cgroup(os.DirFS("/"))
	if err != nil {
		t.Fatalf("Cgroup(/) = %v", err)
	}
	t.Logf("limit %d from %q", limit, source)
}
