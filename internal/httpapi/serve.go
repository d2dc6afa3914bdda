package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServeOptions tune Serve.
type ServeOptions struct {
	// BeforeShutdown runs when ctx ends, before connections drain: the place
	// to turn /readyz to 503 so load balancers stop sending new requests.
	BeforeShutdown func()
	// DrainDelay is how long to keep serving after BeforeShutdown, so that
	// load balancers notice the readiness change. Zero means none.
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// TLSConfig, when set, serves HTTPS with it (its certificates come
	// from it, e.g. GetCertificate); nil serves plain HTTP.
	TLSConfig *tls.Config
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: readiness
// off, drain delay, then http.Server.Shutdown with a deadline.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ServeOptions) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		TLSConfig:         opts.TLSConfig,
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if opts.BeforeShutdown != nil {
		opts.BeforeShutdown()
	}
	if opts.DrainDelay > 0 {
		time.Sleep(opts.DrainDelay)
	}
	timeout := opts.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
