// Package memlimit finds the memory limit of the container the process runs
// in, from its cgroup, so that the Go runtime's soft memory limit can follow
// it: near the limit the garbage collector works harder instead of the
// kernel killing the pod.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// HeapFraction is the share of the cgroup limit given to the Go runtime's
// soft limit: the rest is headroom for what the runtime does not count
// (the binary, thread stacks outside the heap, kernel buffers).
const HeapFraction = 0.9

// unlimited is the least value cgroup v1 reports for "no limit" (the page
// counter's maximum, rounded down to a page), give or take.
const unlimited = 1 << 62

// Cgroup returns the memory limit in bytes of the cgroup the process is in,
// and the file it was read from; 0 and "" when there is none. root is the
// file system root ("/"), so that tests can give another. cgroup v2 is
// tried first (memory.max), then v1 (memory.limit_in_bytes); for each, the
// process's own cgroup directory, then the mount's root, which is where a
// container with its own cgroup namespace sees its limit.
func Cgroup(root fs.FS) (limit int64, source string, err error) {
	paths, err := cgroupPaths(root)
	if err != nil {
		return 0, "", err
	}
	candidates := []string{
		path.Join("sys/fs/cgroup", paths.unified, "memory.max"),
		"sys/fs/cgroup/memory.max",
		path.Join("sys/fs/cgroup/memory", paths.memory, "memory.limit_in_bytes"),
		"sys/fs/cgroup/memory/memory.limit_in_bytes",
	}
	for _, name := range candidates {
		b, err := fs.ReadFile(root, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("read /%s: %w", name, err)
		}
		limit, err := parseLimit(string(b))
		if err != nil {
			return 0, "", fmt.Errorf("/%s: %w", name, err)
		}
		return limit, "/" + name, nil
	}
	return 0, "", nil
}

// parseLimit reads a limit file: a number of bytes, or "max" (v2) or a
// number past unlimited (v1) for none, which is 0.
func parseLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("not a memory limit: %q", s)
	case n <= 0 || n >= unlimited:
		return 0, nil
	}
	return n, nil
}

type procCgroup struct{ unified, memory string }

// cgroupPaths reads /proc/self/cgroup: "0::<path>" for v2, and
// "<id>:<controllers>:<path>" with "memory" among the controllers for v1.
// A missing file (not Linux) means no cgroup.
func cgroupPaths(root fs.FS) (procCgroup, error) {
	var p procCgroup
	b, err := fs.ReadFile(root, "proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			p.unified = parts[2]
		case hasController(parts[1], "memory"):
			p.memory = parts[2]
		}
	}
	return p, nil
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
