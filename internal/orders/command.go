package orders

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns Orders as a service the process runs: its settings, port,
// Run, authorization policy and contracts, for its own binary (cmd/orders)
// and for the bookshop tool (bookshop orders, bookshop up). Each call makes
// a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:      "orders",
		Title:     "Orders",
		Summary:   "run the Orders gRPC service alone",
		About:     "Runs the Orders gRPC service (bookshop.orders.v1.OrdersService): the\nshop's orders, the transaction database, with the standard health\nservice and server reflection.",
		Serves:    true,
		Flags:     cfg.Flags,
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
