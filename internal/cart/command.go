package cart

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns the Cart as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/cart) and for the bookshop tool (bookshop cart, bookshop up). Each
// call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:         "cart",
		Title:        "Cart",
		Summary:      "run the Cart gRPC service alone",
		About:        "Runs the Cart gRPC service (bookshop.cart.v1.CartService): the shoppers'\ncarts, priced from the Catalog, with the standard health service and\nserver reflection.",
		Serves:       true,
		Identity:     "cart",
		Flags:        cfg.Flags,
		Dependencies: cfg.Dependencies,
		Wire:         func(addrs map[string]string) { cfg.CatalogHost = addrs["catalog"] },
		Validate:     cfg.Validate,
		Port:         func() int { return cfg.Port },
		Run:          func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:       Policy,
		Contracts:    Contracts,
	}
}
