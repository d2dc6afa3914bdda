package main

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

// TestHelp: every command's -h and --help prints its usage and exits 0;
// the commands whose flags the environment can set list each flag with
// its variable.
func TestHelp(t *testing.T) {
	t.Parallel()
	serveFlags := flagSet("serve", nil)
	var cfg serviceConfig
	addServerFlags(serveFlags, &cfg)
	addKeyFlags(serveFlags, &cfg)
	for _, cmd := range []string{"serve", "dev", "check", "validate", "test", "replay", "fmt", "lib"} {
		for _, help := range []string{"-h", "--help"} {
			var out lockedBuffer
			err := run(context.Background(), []string{"verdict", cmd, help}, func(string) string { return "" }, &out)
			if code := exitCode(err); code != 0 || !strings.Contains(out.String(), "usage: verdict "+cmd) {
				t.Errorf("verdict %s %s: exit %d (%v), output:\n%s", cmd, help, code, err, out.String())
			}
			if cmd != "serve" {
				continue
			}
			serveFlags.VisitAll(func(f *flag.Flag) {
				if line := "--" + f.Name; !strings.Contains(out.String(), line) || !strings.Contains(out.String(), "("+envName(f.Name)+")") {
					t.Errorf("verdict serve %s does not list %s with %s", help, line, envName(f.Name))
				}
			})
		}
	}
}

func TestCheckJWKSURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url           string
		allowInsecure bool
		ok            bool
	}{
		{"https://clerk.example.com/.well-known/jwks.json", false, true},
		{"http://127.0.0.1:8081/jwks.json", false, true},
		{"http://[::1]:8081/jwks.json", false, true},
		{"http://localhost/jwks.json", false, true},
		{"http://clerk.example.com/.well-known/jwks.json", false, false},
		{"http://10.0.0.7/jwks.json", false, false},
		{"http://clerk.example.com/.well-known/jwks.json", true, true},
		{"ftp://clerk.example.com/jwks.json", true, false},
		{"clerk.example.com/jwks.json", false, false},
	} {
		if err := checkJWKSURL(c.url, c.allowInsecure); (err == nil) != c.ok {
			t.Errorf("checkJWKSURL(%q, allow insecure %v) = %v, want ok %v", c.url, c.allowInsecure, err, c.ok)
		}
	}
}

// TestLogDurationsAreReadable: the service's JSON log writes durations as
// people read them.
func TestLogDurationsAreReadable(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	newJSONLogger(&out, 0).Info("jwks refresh failed; retrying", "retry_in", 1500*time.Millisecond)
	if !strings.Contains(out.String(), `"retry_in":"1.5s"`) {
		t.Errorf("log line %s, want retry_in 1.5s", out.String())
	}
}
