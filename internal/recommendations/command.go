package recommendations

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns Recommendations as a service the process runs: its
// settings, port, Run, authorization policy and contracts, for its own
// binary (cmd/recommendations) and for the bookshop tool (bookshop
// recommendations, bookshop up). Without a Catalog to follow (no
// CATALOG_HOST), it serves the books of builtin, the Catalog's built-in
// catalog, from memory, as the tutorial's service does. Each call makes a
// new one, with settings of its own.
func Command(builtin func() (*bookshop.Shelf, error)) *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:         "recommendations",
		Title:        "Recommendations",
		Summary:      "run the Recommendations gRPC service alone",
		About:        "Runs the Recommendations gRPC service (/Recommendations/Recommend and\nLiveRecommend), with the standard health service and server reflection.\nWithout a Catalog to follow, it serves the built-in catalog from memory.",
		Serves:       true,
		Identity:     "recommendations",
		Scales:       true,
		Flags:        cfg.Flags,
		Dependencies: cfg.Dependencies,
		Wire: func(addrs map[string]string) {
			cfg.CatalogHost = addrs["catalog"]
			// The one Marketplace is each replica's one caller: it may
			// open every live stream, not half (the default's share, for
			// replicas that serve several Marketplaces), or its sessions
			// past half of its cap would be refused (docs/capacity.md).
			if cfg.MaxLiveStreamsPerCaller == 0 {
				cfg.MaxLiveStreamsPerCaller = cfg.MaxLiveStreams
			}
		},
		Validate: cfg.Validate,
		Port:     func() int { return cfg.Port },
		Run: func(ctx context.Context, deps process.Deps) error {
			rdeps := Deps{Deps: deps}
			if cfg.CatalogHost == "" {
				books, err := builtin()
				if err != nil {
					deps.Close()
					return err
				}
				rdeps.Books = StaticBooks(books.Books())
			}
			return Run(ctx, cfg, rdeps)
		},
		Policy:    Policy,
		Contracts: Contracts,
	}
}
