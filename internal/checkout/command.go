package checkout

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// Command returns Checkout as a service the process runs: its settings,
// port, Run, authorization policy and contracts, for its own binary
// (cmd/checkout) and for the bookshop tool (bookshop checkout, bookshop up).
// Each call makes a new one, with settings of its own.
func Command() *launch.Service {
	cfg := DefaultConfig()
	return &launch.Service{
		Name:         "checkout",
		Title:        "Checkout",
		Summary:      "run the Checkout gRPC service alone",
		About:        "Runs the Checkout gRPC service (bookshop.checkout.v1.CheckoutService),\nwhich places orders: it prices a cart from the Catalog and Promotions,\nholds the stock, claims the promotion, charges the card, records the\norder and empties the cart, as a saga recorded step by step and finished\nor undone after a crash; with the standard health service and server\nreflection.",
		Serves:       true,
		Identity:     Identity,
		Flags:        cfg.Flags,
		Dependencies: cfg.Dependencies,
		Wire: func(addrs map[string]string) {
			cfg.CartHost, cfg.CatalogHost, cfg.InventoryHost = addrs["cart"], addrs["catalog"], addrs["inventory"]
			cfg.PaymentsHost, cfg.OrdersHost, cfg.PromotionsHost = addrs["payments"], addrs["orders"], addrs["promotions"]
		},
		Validate:  cfg.Validate,
		Port:      func() int { return cfg.Port },
		Run:       func(ctx context.Context, deps process.Deps) error { return Run(ctx, cfg, deps) },
		Policy:    Policy,
		Contracts: Contracts,
	}
}
