package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof" // its init also registers on http.DefaultServeMux, which Verdict never serves
	"time"
)

// pprofServer serves Go's profiling endpoints on their own listener, only
// when --pprof-addr is given, so they are never reachable on the API port.
// /debug/pprof/cmdline is left out: it would print --clerk-secret-key.
type pprofServer struct {
	ln     net.Listener
	logger *slog.Logger
}

// listenPprof opens the profiling listener; it is nil when addr is empty.
func listenPprof(addr string, logger *slog.Logger) (*pprofServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen --pprof-addr: %w", err)
	}
	return &pprofServer{ln: ln, logger: logger}, nil
}

// run serves /debug/pprof/ until ctx ends.
func (p *pprofServer) run(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx) // a profile in progress is cut short; nothing to report
	}()
	p.logger.Info("pprof listening", "addr", p.ln.Addr().String())
	if err := srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		p.logger.Error("pprof server failed", "error", err)
	}
}
