package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/verdict-pdp/verdict/internal/decisionlog"
	"github.com/verdict-pdp/verdict/internal/policy"
)

// BenchmarkReplay replays a 100,000-line decision log of 2,000 sessions
// (each line a new resource) against the shipped policies: the figure
// per op is the whole log.
func BenchmarkReplay(b *testing.B) {
	engine, err := policy.Load(context.Background(), policy.Dir("../../policies"), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	actions := []string{"tasks:read", "billing:manage", "org:sys_memberships:manage", "org:posts:publish", "posts:publish"}
	var log strings.Builder
	for i := range 100_000 {
		user := i % 2000
		role := "org:member"
		if user%3 == 0 {
			role = "org:admin"
		}
		fmt.Fprintf(&log, `{"decision_id":"d%d","time":"2026-11-29T18:00:00.000000Z","path":"/v1/check","policy_revision":"sha256:x",`+
			`"principal":{"user_id":"user_%d","session_id":"s","org_id":"org_A","org_role":%q,"org_slug":"acme","org_permissions":["org:posts:publish"],"token_version":2,"expires_at":"2026-11-29T18:05:00Z"},`+
			`"action":%q,"resource":{"type":"task","id":"t%d","org_id":"org_A"},"allow":false,"reason":"missing_role","message":"m","duration_us":20}`+"\n",
			i, user, role, actions[i%len(actions)], i)
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := replay(context.Background(), engine, decisionlog.NewReader(strings.NewReader(log.String())), json.NewEncoder(io.Discard), io.Discard)
		if err != nil || s.Total != 100_000 {
			b.Fatalf("%+v %v", s, err)
		}
	}
}
