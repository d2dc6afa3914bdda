package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/devtoken"
)

func TestZZProbe2(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	ctx := context.Background()
	setAffinity(ctx, "1")
	r, _ := loadRules("../../policies/data.json")
	iss, _ := devtoken.NewIssuer()
	forger, _ := devtoken.NewIssuer()
	c, _ := buildCorpus(corpusOptions{users: 200, requests: 4000, seed: 1, now: time.Now()}, r, iss, forger)
	dir := t.TempDir()
	jwks, keyData, _ := c.writeKeys(dir)
	cfg, _ := writeOPAConfig(dir)
	bin := os.Getenv("VBIN")
	specs := []serverSpec{verdictSpec(bin, jwks, "../../policies"),
		opaSpec("opa", "../../bin/opa", cfg, "../../testdata/bench/opa", "../../policies/data.json", keyData)}
	for _, spec := range specs {
		s, err := startServer(ctx, spec, 0, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.stop()
		wire, _ := encodeRequests(s, c.requests)
		runRound(ctx, s, wire, 16, 2*time.Second)
		res, _ := runRound(ctx, s, wire, 16, 6*time.Second)
		l := res.latencies
		n50 := 0
		for _, x := range l {
			if x > 50*time.Millisecond {
				n50++
			}
		}
		fmt.Printf("%s n=%d p50 %s p90 %s p95 %s p98 %s p99 %s p99.9 %s >50ms: %d cpu/req %s\n", s.name, len(l),
			formatDuration(percentile(l, 50)), formatDuration(percentile(l, 90)), formatDuration(percentile(l, 95)), formatDuration(percentile(l, 98)), formatDuration(percentile(l, 99)), formatDuration(percentile(l, 99.9)), n50, formatDuration(res.serverCPU/time.Duration(len(l))))
	}
}
