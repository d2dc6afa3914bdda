package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/verdict-pdp/verdict/internal/clerkwebhook"
	"github.com/verdict-pdp/verdict/internal/metrics"
	"github.com/verdict-pdp/verdict/internal/revocation"
)

// revocationSweep is how often expired revocations are forgotten.
const revocationSweep = time.Minute

// revocations is the revocation store and the webhook receiver that feeds
// it, as configured.
type revocations struct {
	store    revocation.Store
	receiver *clerkwebhook.Receiver    // nil without a webhook secret
	run      func(ctx context.Context) // follows the store until ctx ends
	close    func() error              // releases the store's connections
}

// openRevocations builds the store (Redis when configured, else the
// process's own) and the receiver. With Redis unreachable the service
// starts all the same: the store says so and catches up.
func openRevocations(ctx context.Context, c revocationConfig, logger *slog.Logger, m *metrics.Metrics) (*revocations, error) {
	out := &revocations{close: func() error { return nil }}
	if c.RedisURL != "" {
		shared, err := revocation.NewRedis(ctx, revocation.RedisOptions{
			URL: c.RedisURL, TTL: c.TTL, Logger: logger, OnError: m.ObserveRevocationStoreError,
		})
		if err != nil {
			return nil, err
		}
		out.store, out.run, out.close = shared, shared.Run, shared.Close
	} else {
		local := revocation.NewLocal(0)
		out.store = local
		out.run = func(ctx context.Context) { local.Run(ctx, revocationSweep) }
	}
	if c.WebhookSecret != "" {
		m.InitRevocations(clerkwebhook.EventTypes()...)
		receiver, err := clerkwebhook.NewReceiver(clerkwebhook.Options{
			Secret: c.WebhookSecret, Store: out.store, TTL: c.TTL, OnEvent: m.ObserveRevocation,
		})
		if err != nil {
			out.close()
			return nil, err
		}
		out.receiver = receiver
	}
	return out, nil
}
