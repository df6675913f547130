package catalog

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns the Catalog as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/catalog) and for the bookshop tool (bookshop catalog, bookshop up).
// Each call makes a new one, with settings of its own.
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
