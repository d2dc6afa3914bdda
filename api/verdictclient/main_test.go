package verdictclient_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"testing"
	"time"
)

// The tests and the Example ask real Verdicts, started once by TestMain
// (package state is acceptable in a test binary; the package itself has
// none).
var (
	// devVerdict runs `verdict dev`: the bundled policies, no API keys,
	// and POST /dev/tokens to mint session tokens.
	devVerdict *verdictProcess
	// keyedVerdict runs `verdict serve --api-keys-file`, trusting the
	// keys of devVerdict (its /dev/jwks.json), so that its tokens work
	// there too, with no clock skew, so that a token expires on time.
	keyedVerdict *verdictProcess
)

// testAPIKey is the one caller key keyedVerdict accepts.
const testAPIKey = "verdictclient-test-key"

// TestMain builds cmd/verdict once (or takes VERDICT_BINARY, a verdict
// binary built already) and runs the two Verdicts for every test.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "verdictclient-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stop, err := startVerdicts(dir)
	defer stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "verdictclient tests:", err)
		return 1
	}
	return m.Run()
}

// startVerdicts starts devVerdict and keyedVerdict with their files in dir;
// stop ends those that started.
func startVerdicts(dir string) (stop func(), err error) {
	var started []*verdictProcess
	stop = func() {
		for _, p := range started {
			p.stop()
		}
	}
	bin, err := verdictBinary(dir)
	if err != nil {
		return stop, err
	}
	// In an empty directory, dev mode takes the policies built into the
	// binary (there is no ./policies to watch).
	if devVerdict, err = startVerdict(bin, dir, "dev"); err != nil {
		return stop, err
	}
	started = append(started, devVerdict)
	policies, err := filepath.Abs("../../policies")
	if err != nil {
		return stop, err
	}
	sum := sha256.Sum256([]byte(testAPIKey))
	keys := filepath.Join(dir, "api-keys")
	if err := os.WriteFile(keys, []byte("test sha256:"+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		return stop, err
	}
	keyedVerdict, err = startVerdict(bin, dir, "serve", "--policies", policies,
		"--jwks-url", devVerdict.url+"/dev/jwks.json", "--api-keys-file", keys, "--clock-skew", "0s")
	if err != nil {
		return stop, err
	}
	started = append(started, keyedVerdict)
	return stop, nil
}

// verdictBinary builds cmd/verdict into dir, unless VERDICT_BINARY names
// one already built.
func verdictBinary(dir string) (string, error) {
	if bin := os.Getenv("VERDICT_BINARY"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "verdict")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		// Under `go test -race ./...` this reuses the packages compiled for
		// the other tests, and checks Verdict itself for races too.
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/verdict-pdp/verdict/cmd/verdict")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build verdict: %w\n%s", err, out)
	}
	return bin, nil
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// verdictProcess is a running verdict program.
type verdictProcess struct {
	url  string // http://127.0.0.1:PORT
	stop func() // interrupts it and waits until it exits
}

// listening finds the address in the start-up log record, in dev mode's
// text format (msg=listening addr=…) or serve's JSON ("msg":"listening",
// "addr":"…").
var listening = regexp.MustCompile(`msg"?[=:]"?listening"?[ ,]"?addr"?[=:]"?(127\.0\.0\.1:\d+)`)

// startVerdict runs `verdict <command> args… --addr 127.0.0.1:0` in dir and
// waits until it listens and is ready. Port 0 leaves the choice of a free
// port to the kernel; the log says which.
func startVerdict(bin, dir, command string, args ...string) (*verdictProcess, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append(append([]string{command}, args...), "--addr", "127.0.0.1:0")...)
	// Ending ctx shuts the program down gracefully, and kills it when it
	// has not exited 10 seconds later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start verdict %s: %w", command, err)
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		pw.Close()
		done <- err
	}()
	p := &verdictProcess{stop: func() { cancel(); <-done }}
	addr := make(chan string, 1)
	go scanAddr(pr, addr)
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("verdict %s exited before listening: %v", command, err)
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("verdict %s: no listening record after 30 s", command)
	}
	if err := p.waitReady(); err != nil {
		p.stop()
		return nil, fmt.Errorf("verdict %s: %w", command, err)
	}
	return p, nil
}

// scanAddr sends the listening address found in the log, then drains the
// rest so that the program never blocks on its output.
func scanAddr(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr <- m[1]
			break
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func (p *verdictProcess) waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("/readyz not 200 after 30 s")
}

// tokenRequest is the body of POST /dev/tokens (DevTokenRequest in
// api/openapi.yaml; the generated client leaves the dev routes out).
type tokenRequest struct {
	UserID     string   `json:"user_id,omitempty"`
	OrgID      string   `json:"org_id,omitempty"`
	OrgRole    string   `json:"org_role,omitempty"`
	OrgSlug    string   `json:"org_slug,omitempty"`
	Perms      []string `json:"permissions,omitempty"`
	TTLSeconds int      `json:"ttl_seconds,omitempty"`
}

// mintToken has devVerdict sign a Clerk-shaped session token; it returns
// the token and its expiry.
func mintToken(req tokenRequest) (string, time.Time, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", time.Time{}, err
	}
	resp, err := http.Post(devVerdict.url+"/dev/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", time.Time{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Token  string `json:"token"`
		Claims struct {
			Exp int64 `json:"exp"`
		} `json:"claims"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		return "", time.Time{}, fmt.Errorf("POST /dev/tokens: status %d, %v", resp.StatusCode, err)
	}
	return out.Token, time.Unix(out.Claims.Exp, 0), nil
}

// memberToken is a session token of a member of org_A.
func memberToken(t *testing.T) string {
	t.Helper()
	return mint(t, tokenRequest{UserID: "user_member", OrgID: "org_A", OrgRole: "org:member", OrgSlug: "acme"})
}

// mint is mintToken for a test, which it fails on error.
func mint(t *testing.T, req tokenRequest) string {
	t.Helper()
	token, _, err := mintToken(req)
	if err != nil {
		t.Fatal(err)
	}
	return token
}
