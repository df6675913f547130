package inventory

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns the Inventory as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/inventory) and for the bookshop tool (bookshop inventory, bookshop
// up). Each call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:      "inventory",
		Title:     "Inventory",
		Summary:   "run the Inventory gRPC service alone",
		About:     "Runs the Inventory gRPC service (bookshop.inventory.v1.InventoryService):\nthe stock of every book and the checkouts' reservations, with the\nstandard health service and server reflection.",
		Serves:    true,
		Flags:     cfg.Flags,
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
