package catalog

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns the Catalog as a command of its own (cmd/catalog), and as one of
// the services of `bookshop up`: its settings, port, Run and, for a gRPC
// service, its authorization policy and contracts. Each call makes a new
// one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:      "catalog",
		Title:     "Catalog",
		Summary:   "run the Catalog gRPC service alone",
		About:     "Runs the Catalog gRPC service (bookshop.catalog.v1.CatalogService), with\nthe standard health service and server reflection.",
		Serves:    true,
		Flags:     cfg.Flags,
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
