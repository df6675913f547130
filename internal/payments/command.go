package payments

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns the Payments as a command of its own (cmd/payments), and as one of
// the services of `bookshop up`: its settings, port, Run and, for a gRPC
// service, its authorization policy and contracts. Each call makes a new
// one, with settings of its own.
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
