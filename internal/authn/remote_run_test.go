package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/authn"
)

func TestRemoteJWKSRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	s.failing.Store(true)
	r := authn.NewRemoteJWKS(authn.RemoteOptions{URL: s.URL, MaxAge: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	waitFor(t, "two failed attempts", func() bool { return s.hits.Load() >= 2 })
	if r.Ready() {
		t.Error("Ready() = true while every fetch fails")
	}
	s.failing.Store(false)
	waitFor(t, "first load", r.Ready)
	loadedAt := s.hits.Load()
	waitFor(t, "periodic refreshes", func() bool { return s.hits.Load() >= loadedAt+3 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRemoteJWKSRunWithoutMaxAgeLoadsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := newJWKSServer(t, f.iss.JWKS())
	r := authn.NewRemoteJWKS(authn.RemoteOptions{URL: s.URL})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	waitFor(t, "first load", r.Ready)
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	if got := s.hits.Load(); got != 1 {
		t.Errorf("server hits = %d, want 1 when MaxAge is 0", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
