package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

func TestZZProbe(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	ctx := context.Background()
	r, _ := loadRules("../../policies/data.json")
	iss, _ := devtoken.NewIssuer()
	forger, _ := devtoken.NewIssuer()
	c, err := buildCorpus(corpusOptions{users: 200, requests: 4000, seed: 1, now: time.Now()}, r, iss, forger)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jwks, keyData, _ := c.writeKeys(dir)
	cfg, _ := writeOPAConfig(dir)
	specs := []serverSpec{verdictSpec("../../bin/verdict", jwks, "../../policies"),
		opaSpec("opa", "../../bin/opa", cfg, "../../testdata/bench/opa", "../../policies/data.json", keyData)}
	for _, spec := range specs {
		s, err := startServer(ctx, spec, 0, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.stop()
		wire, _ := encodeRequests(s, c.requests)
		cn, _ := dial(ctx, s.addr)
		for pass := 0; pass < 2; pass++ {
			byClass := map[string][]time.Duration{}
			for i, w := range wire {
				t0 := time.Now()
				cn.do(w)
				byClass[c.requests[i].want.String()] = append(byClass[c.requests[i].want.String()], time.Since(t0))
			}
			if pass == 0 {
				continue
			}
			for k, v := range byClass {
				slices.Sort(v)
				fmt.Printf("%s %-32s n=%4d p50 %-8s p99 %-8s max %s\n", s.name, k, len(v), formatDuration(percentile(v, 50)), formatDuration(percentile(v, 99)), formatDuration(v[len(v)-1]))
			}
		}
	}
}
