package marketplace

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns the Marketplace as a service the process runs: its
// settings, port, Run, and where the services it calls are, for its own
// binary (cmd/marketplace) and for the bookshop tool (bookshop marketplace,
// bookshop up). Each call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:         "marketplace",
		Title:        "Marketplace",
		Summary:      "run the Marketplace web front end alone",
		About:        "Runs the Marketplace web front end, which calls Recommendations, the\nCatalog, Accounts, Cart, Inventory, Checkout, Orders and Promotions over\ngRPC.",
		Identity:     "marketplace",
		HTTP:         true,
		Flags:        cfg.Flags,
		Dependencies: cfg.Dependencies,
		Wire: func(addrs map[string]string) {
			cfg.RecommendationsHost, cfg.CatalogHost = addrs["recommendations"], addrs["catalog"]
			cfg.AccountsHost, cfg.CartHost = addrs["accounts"], addrs["cart"]
			cfg.InventoryHost, cfg.CheckoutHost, cfg.OrdersHost = addrs["inventory"], addrs["checkout"], addrs["orders"]
			cfg.PromotionsHost = addrs["promotions"]
		},
		Validate: cfg.Validate,
		Port:     func() int { return cfg.Port },
		Run:      func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
	}
}
