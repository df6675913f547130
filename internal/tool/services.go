package tool

import (
	"context"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// A service is one of the shop's services as the tool runs it: alone, as
// `bookshop NAME` (and cmd/NAME), and with the others in `bookshop up`.
// Its functions close over the service's own Config: the tool reads a
// service's settings only through them, under the service's namespace,
// so that adding a service adds no setting to another.
type service struct {
	name    string // the subcommand, and the namespace of the settings
	title   string // the name people read: "Catalog"
	summary string // one line, for `bookshop help`
	about   string // what `bookshop NAME -h` says it does

	serves   bool   // serves gRPC: takes a server certificate and a health port
	identity string // the identity it presents when it calls others; "" if it calls none
	http     bool   // serves HTTP: up prints its address as a URL
	scales   bool   // up can run several replicas of it (-NAME-replicas)

	// flags declares the service's own settings on own.
	flags func(own *config.Set)
	// dependencies declares, when it runs alone, where the services it
	// calls are, on the process's set (CATALOG_HOST); up wires them
	// instead, with wire. Nil for a service that calls none.
	dependencies func(proc *config.Set)
	// wire tells the service, in up, where the others listen: their
	// addresses by name, each a comma-separated list of host:port.
	wire func(addrs map[string]string)
	// validate checks the settings once parsed.
	validate func(own *config.Set) error
	// port is the port it listens on (the first, with replicas).
	port func() int
	// run runs it on deps until ctx is done.
	run func(ctx context.Context, deps process.Deps) error
	// policy is who may call which of its gRPC methods, and contracts the
	// gRPC services it serves; both nil for a service that serves no gRPC.
	policy    func() rpc.Policy
	contracts func() []*grpc.ServiceDesc
}

// services returns the shop's services with their defaults, a service
// before those that call it (up starts them all at once; callers wait
// for their dependencies' health). Each call makes new ones, with
// settings of their own.
//
// Adding a service is one entry here, and a function like those below.
func services() []*service {
	return []*service{catalogService(), cartService(), recommendationsService(), accountsService(), inventoryService(), ordersService(), paymentsService(), promotionsService(), checkoutService(), marketplaceService()}
}

// shopIdentities returns the identities `bookshop certs` issues by
// default: each service's that calls others, and the operators'.
func shopIdentities() []string {
	var ids []string
	for _, s := range services() {
		if s.identity != "" {
			ids = append(ids, s.identity)
		}
	}
	return append(ids, rpc.IdentityAdmin)
}

// shopNames returns the names the server certificate covers: every
// service's, and the demo server's.
func shopNames() []string {
	var names []string
	for _, s := range services() {
		names = append(names, s.name)
	}
	return append(names, "demo")
}

// serviceNamed returns the service called name, or nil.
func serviceNamed(name string) *service {
	for _, s := range services() {
		if s.name == name {
			return s
		}
	}
	return nil
}

func catalogService() *service {
	cfg := catalog.DefaultConfig()
	return &service{
		name:      "catalog",
		title:     "Catalog",
		summary:   "run the Catalog gRPC service alone",
		about:     "Runs the Catalog gRPC service (bookshop.catalog.v1.CatalogService), with\nthe standard health service and server reflection.",
		serves:    true,
		flags:     cfg.Flags,
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return catalog.Run(ctx, cfg, deps) },
		policy:    catalog.Policy,
		contracts: catalog.Contracts,
	}
}

func accountsService() *service {
	cfg := accounts.DefaultConfig()
	return &service{
		name:      "accounts",
		title:     "Accounts",
		summary:   "run the Accounts gRPC service alone",
		about:     "Runs the Accounts gRPC service (bookshop.accounts.v1.AccountsService):\ncustomers' accounts, sign-in and sessions, with the standard health\nservice and server reflection.",
		serves:    true,
		flags:     cfg.Flags,
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return accounts.Run(ctx, cfg, deps) },
		policy:    accounts.Policy,
		contracts: accounts.Contracts,
	}
}

func ordersService() *service {
	cfg := orders.DefaultConfig()
	return &service{
		name:      "orders",
		title:     "Orders",
		summary:   "run the Orders gRPC service alone",
		about:     "Runs the Orders gRPC service (bookshop.orders.v1.OrdersService): the\nshop's orders, the transaction database, with the standard health\nservice and server reflection.",
		serves:    true,
		flags:     cfg.Flags,
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return orders.Run(ctx, cfg, deps) },
		policy:    orders.Policy,
		contracts: orders.Contracts,
	}
}

func inventoryService() *service {
	cfg := inventory.DefaultConfig()
	return &service{
		name:      "inventory",
		title:     "Inventory",
		summary:   "run the Inventory gRPC service alone",
		about:     "Runs the Inventory gRPC service (bookshop.inventory.v1.InventoryService):\nthe stock of every book and the checkouts' reservations, with the\nstandard health service and server reflection.",
		serves:    true,
		flags:     cfg.Flags,
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return inventory.Run(ctx, cfg, deps) },
		policy:    inventory.Policy,
		contracts: inventory.Contracts,
	}
}

func promotionsService() *service {
	cfg := promotions.DefaultConfig()
	return &service{
		name:      "promotions",
		title:     "Promotions",
		summary:   "run the Promotions gRPC service alone",
		about:     "Runs the Promotions gRPC service (bookshop.promotions.v1.PromotionsService):\nthe promotion campaign the shop runs (its banner, the discount a cart\nearns by its rule, its dates) and each customer's one use of it, with the\nstandard health service and server reflection.",
		serves:    true,
		flags:     cfg.Flags,
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return promotions.Run(ctx, cfg, deps) },
		policy:    promotions.Policy,
		contracts: promotions.Contracts,
	}
}

func paymentsService() *service {
	cfg := payments.DefaultConfig()
	return &service{
		name:      "payments",
		title:     "Payments",
		summary:   "run the Payments gRPC service alone",
		about:     "Runs the Payments gRPC service (bookshop.payments.v1.PaymentsService): a\nfake card processor with a real one's rules, that charges each\nidempotency key once and keeps only a card's brand and last four digits,\nwith the standard health service and server reflection.",
		serves:    true,
		flags:     cfg.Flags,
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return payments.Run(ctx, cfg, deps) },
		policy:    payments.Policy,
		contracts: payments.Contracts,
	}
}

func checkoutService() *service {
	cfg := checkout.DefaultConfig()
	return &service{
		name:         "checkout",
		title:        "Checkout",
		summary:      "run the Checkout gRPC service alone",
		about:        "Runs the Checkout gRPC service (bookshop.checkout.v1.CheckoutService),\nwhich places orders: it prices a cart from the Catalog and Promotions,\nholds the stock, claims the promotion, charges the card, records the\norder and empties the cart, as a saga recorded step by step and finished\nor undone after a crash; with the standard health service and server\nreflection.",
		serves:       true,
		identity:     checkout.Identity,
		flags:        cfg.Flags,
		dependencies: cfg.Dependencies,
		wire: func(addrs map[string]string) {
			cfg.CartHost, cfg.CatalogHost, cfg.InventoryHost = addrs["cart"], addrs["catalog"], addrs["inventory"]
			cfg.PaymentsHost, cfg.OrdersHost, cfg.PromotionsHost = addrs["payments"], addrs["orders"], addrs["promotions"]
		},
		validate:  cfg.Validate,
		port:      func() int { return cfg.Port },
		run:       func(ctx context.Context, deps process.Deps) error { return checkout.Run(ctx, cfg, deps) },
		policy:    checkout.Policy,
		contracts: checkout.Contracts,
	}
}

func cartService() *service {
	cfg := cart.DefaultConfig()
	return &service{
		name:         "cart",
		title:        "Cart",
		summary:      "run the Cart gRPC service alone",
		about:        "Runs the Cart gRPC service (bookshop.cart.v1.CartService): the shoppers'\ncarts, priced from the Catalog, with the standard health service and\nserver reflection.",
		serves:       true,
		identity:     "cart",
		flags:        cfg.Flags,
		dependencies: cfg.Dependencies,
		wire:         func(addrs map[string]string) { cfg.CatalogHost = addrs["catalog"] },
		validate:     cfg.Validate,
		port:         func() int { return cfg.Port },
		run:          func(ctx context.Context, deps process.Deps) error { return cart.Run(ctx, cfg, deps) },
		policy:       cart.Policy,
		contracts:    cart.Contracts,
	}
}

func recommendationsService() *service {
	cfg := recommendations.DefaultConfig()
	return &service{
		name:         "recommendations",
		title:        "Recommendations",
		summary:      "run the Recommendations gRPC service alone",
		about:        "Runs the Recommendations gRPC service (/Recommendations/Recommend and\nLiveRecommend), with the standard health service and server reflection.\nWithout a Catalog to follow, it serves the built-in catalog from memory.",
		serves:       true,
		identity:     "recommendations",
		scales:       true,
		flags:        cfg.Flags,
		dependencies: cfg.Dependencies,
		wire: func(addrs map[string]string) {
			cfg.CatalogHost = addrs["catalog"]
			// The one Marketplace is each replica's one caller: it may
			// open every live stream, not half (the default's share, for
			// replicas that serve several Marketplaces), or its sessions
			// past half of its cap would be refused (docs/capacity.md).
			if cfg.MaxLiveStreamsPerCaller == 0 {
				cfg.MaxLiveStreamsPerCaller = cfg.MaxLiveStreams
			}
		},
		validate: cfg.Validate,
		port:     func() int { return cfg.Port },
		run: func(ctx context.Context, deps process.Deps) error {
			rdeps := recommendations.Deps{Deps: deps}
			if cfg.CatalogHost == "" {
				books, err := catalogfile.Builtin()
				if err != nil {
					deps.Close()
					return err
				}
				rdeps.Books = recommendations.StaticBooks(books.Books())
			}
			return recommendations.Run(ctx, cfg, rdeps)
		},
		policy:    recommendations.Policy,
		contracts: recommendations.Contracts,
	}
}

func marketplaceService() *service {
	cfg := marketplace.DefaultConfig()
	return &service{
		name:         "marketplace",
		title:        "Marketplace",
		summary:      "run the Marketplace web front end alone",
		about:        "Runs the Marketplace web front end, which calls Recommendations, the\nCatalog, Accounts, Cart, Inventory, Checkout, Orders and Promotions over\ngRPC.",
		identity:     "marketplace",
		http:         true,
		flags:        cfg.Flags,
		dependencies: cfg.Dependencies,
		wire: func(addrs map[string]string) {
			cfg.RecommendationsHost, cfg.CatalogHost = addrs["recommendations"], addrs["catalog"]
			cfg.AccountsHost, cfg.CartHost = addrs["accounts"], addrs["cart"]
			cfg.InventoryHost, cfg.CheckoutHost, cfg.OrdersHost = addrs["inventory"], addrs["checkout"], addrs["orders"]
			cfg.PromotionsHost = addrs["promotions"]
		},
		validate: cfg.Validate,
		port:     func() int { return cfg.Port },
		run:      func(ctx context.Context, deps process.Deps) error { return marketplace.Run(ctx, cfg, deps) },
	}
}
