package bundle_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/verdict-pdp/verdict/internal/bundle"
)

// TestFileSource watches a bundle file through a sequence of edits: a new
// bundle activates, a bad one is refused once and the previous keeps
// serving, and a missing file is an error until it comes back.
func TestFileSource(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	writeAtomically(t, path, bs.a)
	svc := newService()
	src, err := bundle.NewFileSource(bundle.FileOptions{
		Path: path, Interval: 10 * time.Millisecond,
		Read: bundle.ReadOptions{Key: bs.key.key}, Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := src.First(ctx)
	if err != nil {
		t.Fatalf("First: %v", err)
	}
	if first.Revision() != "r1" || svc.next(t) != bundle.ResultActivated {
		t.Fatalf("First = %s, want r1 activated", first.Revision())
	}
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()

	steps := []struct {
		name         string
		content      []byte // nil removes the file
		want         bundle.Result
		wantRevision string
	}{
		{name: "a new bundle", content: bs.b, want: bundle.ResultActivated, wantRevision: "r2"},
		{name: "tampered", content: bs.bad["tampered"], want: bundle.ResultRefused, wantRevision: "r2"},
		{name: "refused by the activation", content: bs.bad["does not compile"], want: bundle.ResultRefused, wantRevision: "r2"},
		{name: "removed", content: nil, want: bundle.ResultError, wantRevision: "r2"},
		{name: "back", content: bs.a, want: bundle.ResultActivated, wantRevision: "r1"},
	}
	for _, step := range steps {
		if step.content == nil {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		} else {
			writeAtomically(t, path, step.content)
		}
		if got := svc.next(t); got != step.want {
			t.Fatalf("%s: result %s, want %s", step.name, got, step.want)
		}
		if b, _ := svc.serving(); b.Revision() != step.wantRevision {
			t.Errorf("%s: serving %s, want %s", step.name, b.Revision(), step.wantRevision)
		}
	}
	// Contents once tried are not tried again: nothing more to report.
	select {
	case r := <-svc.results:
		t.Errorf("result %s for an unchanged file", r)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	<-done
}

// TestFileSourceWaitsForWholeWrites: a bundle written in pieces, each
// visible to the poller, is applied once, whole, and never reported as
// refused half-way.
func TestFileSourceWaitsForWholeWrites(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	writeAtomically(t, path, bs.a)
	svc := newService()
	// Polls far apart compared with the writes below, so no two polls
	// see the same piece.
	const interval = 100 * time.Millisecond
	src, err := bundle.NewFileSource(bundle.FileOptions{
		Path: path, Interval: interval, Read: bundle.ReadOptions{Key: bs.key.key}, Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := src.First(ctx); err != nil {
		t.Fatal(err)
	}
	svc.next(t)
	go src.Run(ctx)

	// An editor that does not write atomically: the file grows a piece at
	// a time for several poll intervals.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	const pieces = 60
	for i := range pieces {
		chunk := bs.b[i*len(bs.b)/pieces : (i+1)*len(bs.b)/pieces]
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(interval / 20)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := svc.next(t); got != bundle.ResultActivated {
		t.Errorf("result %s for a bundle written in pieces, want activated", got)
	}
	if b, n := svc.serving(); n != 2 || b.Revision() != "r2" {
		t.Errorf("serving %s after %d activations, want r2 after 2", b.Revision(), n)
	}
}

// TestFileSourceStartsLate: a file missing at start is an error; once it
// appears, Run activates it.
func TestFileSourceStartsLate(t *testing.T) {
	t.Parallel()
	bs := makeBundles(t)
	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	svc := newService()
	src, err := bundle.NewFileSource(bundle.FileOptions{
		Path: path, Interval: 10 * time.Millisecond, Read: bundle.ReadOptions{Key: bs.key.key}, Activate: svc.activate, OnResult: svc.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := src.First(ctx); err == nil {
		t.Fatal("First succeeded without the file")
	}
	if got := svc.next(t); got != bundle.ResultError {
		t.Errorf("result %s without the file, want error", got)
	}
	go src.Run(ctx)
	writeAtomically(t, path, bs.a)
	if got := svc.next(t); got != bundle.ResultActivated {
		t.Errorf("result %s once the file appears, want activated", got)
	}
}

// writeAtomically replaces path with data at once, as a deployment does.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
