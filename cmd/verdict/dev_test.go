package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authz"
)

// TestDev runs `verdict dev` with the built-in policies, mints a token at
// POST /dev/tokens and uses it, and replays the printed curl example.
func TestDev(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	// No policies directory in the working directory of this test: dev
	// mode falls back to the policies built into the binary.
	go func() { done <- run(ctx, []string{"verdict", "dev", "--addr", "127.0.0.1:0"}, emptyEnv, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev returned %v", err)
		}
	})

	banner := regexp.MustCompile(`curl -s (http://127\.0\.0\.1:\d+)/v1/check -H 'Content-Type: application/json' -d '([^']+)'`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
		m = banner.FindStringSubmatch(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no curl example printed:\n%s", out)
	}
	inst := &instance{base: m[1]}
	if !strings.Contains(out.String(), "built-in policies") {
		t.Errorf("dev did not say it serves the built-in policies:\n%s", out)
	}

	// The printed example works as pasted.
	var example decision
	if status := inst.postRaw(t, "/v1/check", "application/json", m[2], &example); status != 200 || !example.Allow {
		t.Errorf("printed example = %d %+v, want an allow", status, example)
	}

	for _, format := range []string{"v1", "v2"} {
		var minted struct {
			Token  string         `json:"token"`
			Claims map[string]any `json:"claims"`
		}
		req := map[string]any{"user_id": "user_1", "org_id": "org_1", "org_slug": "one", "org_role": "org:member", "permissions": []string{"org:posts:publish"}, "format": format}
		if status := inst.post(t, "/dev/tokens", req, &minted); status != 200 || minted.Token == "" {
			t.Fatalf("POST /dev/tokens %s = %d", format, status)
		}
		var d decision
		inst.post(t, "/v1/check", map[string]any{"token": minted.Token, "action": "posts:publish", "resource": map[string]any{"org_id": "org_1"}}, &d)
		if !d.Allow || d.Reason != "permission" {
			t.Errorf("%s dev token: %+v, want allow by permission", format, d)
		}
	}
	var e apiError
	if status := inst.post(t, "/dev/tokens", map[string]any{"permissions": []string{"sys_everything"}}, &e); status != 400 {
		t.Errorf("bad mint request = %d, want 400", status)
	}
	resp, err := http.Get(inst.base + "/dev/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct{ Keys []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) != 1 {
		t.Errorf("GET /dev/jwks.json = %v keys, %v", len(jwks.Keys), err)
	}
}

// TestDevListensOnLoopbackByDefault: `verdict dev` mints tokens for anyone
// who reaches it, so by default it listens on 127.0.0.1:8080 only; --addr
// and VERDICT_ADDR still choose another address, and the banner prints a
// URL this machine can use either way.
func TestDevListensOnLoopbackByDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		loopback bool
		port8080 bool // the default port; the other cases ask for port 0
	}{
		{"default", nil, nil, true, true},
		{"--addr", []string{"--addr", "0.0.0.0:0"}, nil, false, false},
		{"VERDICT_ADDR", nil, map[string]string{"VERDICT_ADDR": "0.0.0.0:0"}, false, false},
		{"--addr over VERDICT_ADDR", []string{"--addr", "127.0.0.1:0"}, map[string]string{"VERDICT_ADDR": "0.0.0.0:0"}, true, false},
	}
	banner := regexp.MustCompile(`Verdict dev server on http://(?:localhost|127\.0\.0\.1):(\d+) `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, out, err := startDev(t, tt.args, tt.env)
			if err != nil {
				// Something else holds the port; the error still names
				// the address dev tried.
				if tt.port8080 && strings.Contains(err.Error(), "listen tcp 127.0.0.1:8080:") {
					t.Logf("dev tried 127.0.0.1:8080, which is taken: %v", err)
					return
				}
				t.Fatalf("dev exited before listening: %v\n%s", err, out)
			}
			if addr.Addr().IsLoopback() != tt.loopback || (addr.Port() == 8080) != tt.port8080 {
				t.Errorf("dev listens on %s, want loopback=%v port 8080=%v", addr, tt.loopback, tt.port8080)
			}
			m := banner.FindStringSubmatch(out.String())
			if m == nil || m[1] != strconv.Itoa(int(addr.Port())) {
				t.Errorf("banner does not show a local URL for port %d:\n%s", addr.Port(), out)
			}
		})
	}
}

// startDev runs `verdict dev` with args and env until the test ends and
// returns the address it logged as listening on, or run's error when it
// stopped before listening.
func startDev(t *testing.T, args []string, env map[string]string) (netip.AddrPort, *lockedBuffer, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() { done <- run(ctx, append([]string{"verdict", "dev"}, args...), getenv, out) }()
	exited := false
	t.Cleanup(func() {
		cancel()
		if !exited {
			if err := <-done; err != nil {
				t.Errorf("dev returned %v", err)
			}
		}
	})
	listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			addr, err := netip.ParseAddrPort(m[1])
			if err != nil {
				t.Fatalf("listening address %q: %v", m[1], err)
			}
			// Wait for the banner, printed right after the log record.
			for !strings.Contains(out.String(), "Mint your own token") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			return addr, out, nil
		}
		select {
		case err := <-done:
			exited = true
			return netip.AddrPort{}, out, err
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("dev logged no listening address after 10 s:\n%s", out)
	return netip.AddrPort{}, out, nil
}

// TestCheckCommand runs `verdict check` offline with a claims file.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	claims := filepath.Join(dir, "claims.json")
	b, _ := json.Marshal(with(v1Admin, "exp", time.Now().Add(time.Hour).Unix()))
	if err := os.WriteFile(claims, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		reason string
	}{
		{"allow", []string{"--claims", claims, "--action", "billing:manage", "--resource", `{"org_id":"org_A"}`}, 0, "role"},
		{"deny", []string{"--claims", claims, "--action", "billing:manage", "--resource", `{"org_id":"org_B"}`}, 1, "tenant_mismatch"},
		{"anonymous", []string{"--action", "tasks:read"}, 1, "unauthenticated"},
		{"no action", []string{"--claims", claims}, 2, ""},
		{"bad resource", []string{"--claims", claims, "--action", "tasks:read", "--resource", `{"orgId":"x"}`}, 2, ""},
		{"action too long", []string{"--claims", claims, "--action", strings.Repeat("a", authz.MaxActionBytes+1)}, 2, ""},
		{"token without key source", []string{"--token", "x.y.z", "--action", "tasks:read"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out lockedBuffer
			args := append([]string{"verdict", "check", "--policies", "../../policies"}, tt.args...)
			err := run(context.Background(), args, emptyEnv, &out)
			if code := exitCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tt.code, out.String())
			}
			if tt.reason == "" {
				return
			}
			var d decision
			if err := json.Unmarshal([]byte(out.String()), &d); err != nil || d.Reason != tt.reason {
				t.Errorf("output %q: reason %q, want %q", out.String(), d.Reason, tt.reason)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	if err := run(context.Background(), []string{"verdict", "version"}, emptyEnv, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^verdict .+\ncommit .+\nopa 1\.\d+\.\d+`).MatchString(out.String()) {
		t.Errorf("version output = %q", out.String())
	}
}
