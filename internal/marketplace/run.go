package marketplace

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/web"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// Run runs the Marketplace on deps.Listener until ctx is done, calling
// Recommendations and the Catalog where cfg says, then shuts down
// gracefully: it stops accepting, ends the live event streams, and lets
// requests in flight finish.
func Run(ctx context.Context, cfg Config, deps process.Deps) error {
	if err := deps.Validate(); err != nil {
		deps.Close()
		return err
	}
	ccfg := rpc.ClientConfig{TLS: deps.ClientTLS, CallTimeout: cfg.CallTimeout, Metrics: deps.Metrics, Tracing: deps.Tracing}
	recs, err := dial(cfg.RecommendationsHost, recommendationsclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial recommendations: %w", err)
	}
	defer recs.Close()
	books, err := dial(cfg.CatalogHost, catalogclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial catalog: %w", err)
	}
	defer books.Close()
	accounts, err := dial(cfg.AccountsHost, accountsclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial accounts: %w", err)
	}
	defer accounts.Close()
	carts, err := dial(cfg.CartHost, cartclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial cart: %w", err)
	}
	defer carts.Close()
	inventory, err := dial(cfg.InventoryHost, inventoryclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial inventory: %w", err)
	}
	defer inventory.Close()
	checkout, err := dial(cfg.CheckoutHost, checkoutclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial checkout: %w", err)
	}
	defer checkout.Close()
	orders, err := dial(cfg.OrdersHost, ordersclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial orders: %w", err)
	}
	defer orders.Close()
	promotions, err := dial(cfg.PromotionsHost, promotionsclient.DefaultPort, ccfg)
	if err != nil {
		deps.Close()
		return fmt.Errorf("dial promotions: %w", err)
	}
	defer promotions.Close()
	limit := rate.Limit(cfg.RateLimit)
	if cfg.RateLimit == 0 {
		limit = rate.Inf
	}
	recommender := recommendationsclient.New(recs, cfg.CallTimeout)
	handler, err := NewServer(Options{
		Logger:           deps.Logger,
		Recommender:      recommender,
		RecommendTimeout: cfg.CallTimeout,
		Catalog:          catalogclient.New(books, cfg.CallTimeout),
		Accounts:         accountsclient.New(accounts, 3*cfg.CallTimeout),
		Carts:            cartclient.New(carts, cfg.CallTimeout),
		Inventory:        inventoryclient.New(inventory, cfg.CallTimeout),
		// A checkout calls five services in turn: its client waits for them.
		Checkout:                  checkoutclient.New(checkout, checkoutCalls*cfg.CallTimeout),
		Orders:                    ordersclient.New(orders, cfg.CallTimeout),
		Promotions:                promotionsclient.New(promotions, cfg.CallTimeout),
		Searcher:                  catalogclient.New(books, cfg.CallTimeout),
		Live:                      recommendationsclient.NewLiveClient(recs),
		Shutdown:                  ctx.Done(), // ends the live event streams, which never finish on their own
		Ready:                     RecommendationsReady(recs, recommender),
		RateLimit:                 limit,
		RateBurst:                 cfg.RateBurst,
		TrustedProxies:            cfg.TrustedProxies,
		MaxLiveSessions:           cfg.LiveSessions,
		MaxLiveSessionsPerClient:  cfg.LivePerClient,
		MaxLiveSessionsPerNetwork: cfg.LivePerNetwork,
		Metrics:                   deps.Metrics,
		Tracing:                   deps.Tracing,
	})
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Marketplace serving HTTP", "addr", deps.Listener.Addr().String(),
		"recommendations", cfg.RecommendationsHost, "catalog", cfg.CatalogHost,
		"accounts", cfg.AccountsHost, "cart", cfg.CartHost, "inventory", cfg.InventoryHost,
		"checkout", cfg.CheckoutHost, "orders", cfg.OrdersHost, "promotions", cfg.PromotionsHost, "tracing", deps.Tracing != nil)
	// A page makes a few calls, one after the other; a checkout waits for
	// checkoutCalls of them.
	srv := web.NewServer(ctx, handler, (checkoutCalls+5)*cfg.CallTimeout+10*time.Second, deps.Logger)
	return srv.Serve(ctx, deps.Listener, web.Drain{Grace: cfg.DrainGrace, Timeout: deps.DrainTimeout}, deps.Logger)
}

// dial makes the one client connection to the service at host.
func dial(host string, defaultPort int, cfg rpc.ClientConfig) (*grpc.ClientConn, error) {
	target, err := rpc.Target(host, defaultPort)
	if err != nil {
		return nil, err
	}
	return rpc.Dial(target, cfg)
}
