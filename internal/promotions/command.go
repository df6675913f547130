package promotions

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns Promotions as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/promotions) and for the bookshop tool (bookshop promotions, bookshop
// up). Each call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:      "promotions",
		Title:     "Promotions",
		Summary:   "run the Promotions gRPC service alone",
		About:     "Runs the Promotions gRPC service (bookshop.promotions.v1.PromotionsService):\nthe promotion campaign the shop runs (its banner, the discount a cart\nearns by its rule, its dates) and each customer's one use of it, with the\nstandard health service and server reflection.",
		Serves:    true,
		Flags:     cfg.Flags,
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
