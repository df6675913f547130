package payments

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns Payments as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/payments) and for the bookshop tool (bookshop payments, bookshop up).
// Each call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:      "payments",
		Title:     "Payments",
		Summary:   "run the Payments gRPC service alone",
		About:     "Runs the Payments gRPC service (bookshop.payments.v1.PaymentsService): a\nfake card processor with a real one's rules, that charges each\nidempotency key once and keeps only a card's brand and last four digits,\nwith the standard health service and server reflection.",
		Serves:    true,
		Flags:     cfg.Flags,
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
