package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
