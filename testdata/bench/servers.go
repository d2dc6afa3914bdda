package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds how long a server may take to become ready.
const readyTimeout = 60 * time.Second

// opaJWTCacheConfig is OPA's best configuration for this work: the
// inter-query builtin value cache named "io_jwt" remembers each token's
// verification (signature and decoded parts), so a repeated token skips the
// RSA check, as Verdict's token cache does. OPA ships it disabled
// (topdown/tokens.go registers io_jwt with disabled: true).
const opaJWTCacheConfig = `caching:
  inter_query_builtin_value_cache:
    named:
      io_jwt:
        max_num_entries: 100000
`

// serverSpec says how to start one server under test.
type serverSpec struct {
	name      string
	bin       string
	args      []string // %ADDR% is replaced by the listen address
	readyPath string
	checkPath string
	// wrapInput sends {"input": <check>} (OPA's data API) instead of the
	// check itself.
	wrapInput bool
}

// server is a started server process.
type server struct {
	serverSpec
	addr    string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	startup time.Duration
	logPath string
}

// pid is the server's process id (taskset execs the server in place).
func (s *server) pid() int { return s.cmd.Process.Pid }

// verdictSpec runs `verdict serve` on the corpus's JWKS file, with extra
// flags.
func verdictSpec(bin, jwksPath, policies string, extra []string) serverSpec {
	return serverSpec{
		name:      "verdict",
		bin:       bin,
		args:      append([]string{"serve", "--addr", "%ADDR%", "--jwks-file", jwksPath, "--policies", policies}, extra...),
		readyPath: "/readyz",
		checkPath: "/v1/check",
	}
}

// opaSpec runs `opa run --server` on the bench Rego, the policies' data
// (roles, catalog) and the key data; configPath "" means OPA's defaults.
func opaSpec(name, bin, configPath, benchRego, policyData, keyData string) serverSpec {
	args := []string{"run", "--server", "--addr", "%ADDR%", "--log-level", "error", "--skip-version-check"}
	if configPath != "" {
		args = append(args, "--config-file", configPath)
	}
	args = append(args, benchRego, policyData, keyData)
	return serverSpec{
		name:      name,
		bin:       bin,
		args:      args,
		readyPath: "/health",
		checkPath: "/v1/data/bench/decision",
		wrapInput: true,
	}
}

// writeOPAConfig writes the JWT-cache configuration into dir.
func writeOPAConfig(dir string) (string, error) {
	path := filepath.Join(dir, "opa-config.yaml")
	if err := os.WriteFile(path, []byte(opaJWTCacheConfig), 0o600); err != nil {
		return "", fmt.Errorf("write opa config: %w", err)
	}
	return path, nil
}

// startServer starts spec pinned to core (taskset -c; core < 0 means not
// pinned), logging to a file in logDir, and waits until it answers its
// readiness path. The process is killed when ctx ends; call stop for a
// graceful end.
func startServer(ctx context.Context, spec serverSpec, core int, logDir string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := make([]string, len(spec.args))
	for i, a := range spec.args {
		args[i] = strings.ReplaceAll(a, "%ADDR%", addr)
	}
	name := spec.bin
	if core >= 0 {
		name, args = "taskset", append([]string{"-c", fmt.Sprint(core), spec.bin}, args...)
	}
	logPath := filepath.Join(logDir, strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(spec.name)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", spec.name, err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.WaitDelay = 5 * time.Second
	s := &server{serverSpec: spec, addr: addr, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, err
	}
	s.startup = time.Since(begin)
	return s, nil
}

// waitReady polls the readiness path every few milliseconds.
func (s *server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	url := "http://" + s.addr + s.readyPath
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v); log: %s", s.name, s.waitErr, tail(s.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %v; log: %s", s.name, readyTimeout, tail(s.logPath))
}

// stop asks the server to end (SIGTERM), then kills it if it lingers.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// exited reports an early exit, for error messages.
func (s *server) exited() error {
	select {
	case <-s.done:
		return fmt.Errorf("%s exited (%v); log: %s", s.name, s.waitErr, tail(s.logPath))
	default:
		return nil
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return "\n" + string(b)
}

// errNoTaskset is returned when pinning is asked for without taskset.
var errNoTaskset = errors.New("taskset (util-linux) is needed to pin processes to cores")

// pinSelf pins every thread of this process to core with taskset -a -p
// (new threads inherit it) and returns the previous CPU list.
func pinSelf(ctx context.Context, core int) (string, error) {
	before, err := allowedCPUs()
	if err != nil {
		return "", err
	}
	if err := setAffinity(ctx, fmt.Sprint(core)); err != nil {
		return "", err
	}
	return before, nil
}

func setAffinity(ctx context.Context, cpus string) error {
	if _, err := exec.LookPath("taskset"); err != nil {
		return errNoTaskset
	}
	out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, fmt.Sprint(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -p -c %s: %w: %s", cpus, err, out)
	}
	return nil
}
