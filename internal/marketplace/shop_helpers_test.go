package marketplace_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// shop is the Marketplace with every service it calls: Recommendations
// and the Catalog over the built-in catalog (startServices), and the
// Accounts and Cart services as their commands run them (their Run, on
// loopback, with their databases in memory).
type shop struct {
	site    *httptest.Server
	catalog *catalogclient.Client
	*shopServices
}

// shopServices are the services of the shop behind the Marketplace, run as
// their commands run them (their Run, on loopback, databases in memory),
// with clients of them.
type shopServices struct {
	accounts  *accountsclient.Client
	carts     *cartclient.Client
	inventory *inventoryclient.Client
	checkout  *checkoutclient.Client
	orders    *ordersclient.Client
	payments  *paymentsclient.Client
	promos    *promotionsclient.Client
	// cartAddr is the Cart's address, for a test that puts something
	// between it and the Marketplace.
	cartAddr string
	// stopCart, stopAccounts and the others stop those services, for tests
	// of the pages when they are down.
	stopCart, stopAccounts, stopInventory, stopCheckout, stopOrders, stopPayments, stopPromotions func()
}

// options sets the Marketplace's options for the services.
func (s *shopServices) options(o *marketplace.Options) {
	o.Accounts, o.Carts, o.Inventory, o.Checkout, o.Orders = s.accounts, s.carts, s.inventory, s.checkout, s.orders
	o.Promotions = s.promos
}

// startShop starts a shop until the test ends, its Promotions running
// "buy two books, get the third free" (which the shop's tests are of,
// whichever campaign the shop runs now); opts change the Marketplace's
// options before it starts.
func startShop(tb testing.TB, opts ...func(*marketplace.Options)) *shop {
	tb.Helper()
	return startShopWith(tb, promotions.BuyTwoGetOneFree(), opts...)
}

// startShopWith is startShop with Promotions running promo.
func startShopWith(tb testing.TB, promo promotions.Promotion, opts ...func(*marketplace.Options)) *shop {
	tb.Helper()
	return startShopAround(tb, func(catalogAddr string) *shopServices {
		return startShopServicesWith(tb, catalogAddr, promo)
	}, opts...)
}

// startShopCalling is startShop with the Promotions at promotionsAddr,
// which the test runs, in place of one of its own (its stopPromotions is
// nil).
func startShopCalling(tb testing.TB, promotionsAddr string, opts ...func(*marketplace.Options)) *shop {
	tb.Helper()
	return startShopAround(tb, func(catalogAddr string) *shopServices {
		return startShopServicesCalling(tb, catalogAddr, promotionsAddr, nil)
	}, opts...)
}

// startShopAround is startShop with the services that services starts, given
// the Catalog's address.
func startShopAround(tb testing.TB, services func(catalogAddr string) *shopServices, opts ...func(*marketplace.Options)) *shop {
	tb.Helper()
	svc := startServices(tb, builtinCatalog(tb), seededRand())
	s := &shop{catalog: svc.catalog, shopServices: services(svc.catalogAddr)}
	o := marketplace.Options{
		Recommender: grpcRecommender(tb, recommendations.New(builtinCatalog(tb), seededRand())),
		Catalog:     svc.catalog,
		Searcher:    svc.catalog,
		Live:        svc.live,
		// The shop's tests are one client that makes many requests.
		RateLimit: 1000,
		RateBurst: 1000,
	}
	s.options(&o)
	for _, opt := range opts {
		opt(&o)
	}
	s.site = startSite(tb, o)
	return s
}

// startShopServices runs Accounts, Cart, Inventory, Payments, Orders,
// Promotions and Checkout as their commands do (their Run), with their
// databases in memory, the Cart and the Checkout calling the Catalog at
// catalogAddr, until the test ends or their stop functions are called;
// Promotions runs "buy two books, get the third free".
func startShopServices(tb testing.TB, catalogAddr string) *shopServices {
	tb.Helper()
	return startShopServicesWith(tb, catalogAddr, promotions.BuyTwoGetOneFree())
}

// startShopServicesWith is startShopServices with Promotions running
// promo.
func startShopServicesWith(tb testing.TB, catalogAddr string, promo promotions.Promotion) *shopServices {
	tb.Helper()
	promotionsAddr, stopPromotions := runService(tb, "promotions", func(ctx context.Context, deps process.Deps) error {
		cfg := promotions.DefaultConfig()
		cfg.DB, cfg.Promotion = ":memory:", promo
		return promotions.Run(ctx, cfg, deps)
	})
	return startShopServicesCalling(tb, catalogAddr, promotionsAddr, stopPromotions)
}

// startShopServicesCalling is startShopServices with the Promotions at
// promotionsAddr, which stopPromotions stops.
func startShopServicesCalling(tb testing.TB, catalogAddr, promotionsAddr string, stopPromotions func()) *shopServices {
	tb.Helper()
	var s shopServices
	accountsAddr, stopAccounts := runService(tb, "accounts", func(ctx context.Context, deps process.Deps) error {
		cfg := accounts.DefaultConfig()
		cfg.DB = ":memory:"
		return accounts.Run(ctx, cfg, deps)
	})
	cartAddr, stopCart := runService(tb, "cart", func(ctx context.Context, deps process.Deps) error {
		cfg := cart.DefaultConfig()
		// The Cart asks the Catalog at each change, keeping no books, so
		// that a Catalog stopped by a test stops pricing the carts at once
		// (the pages' notices are what these tests check).
		cfg.DB, cfg.CatalogHost, cfg.CatalogCache = ":memory:", catalogAddr, 0
		return cart.Run(ctx, cfg, deps)
	})
	inventoryAddr, stopInventory := runService(tb, "inventory", func(ctx context.Context, deps process.Deps) error {
		cfg := inventory.DefaultConfig()
		cfg.DB = ":memory:"
		return inventory.Run(ctx, cfg, deps)
	})
	paymentsAddr, stopPayments := runService(tb, "payments", func(ctx context.Context, deps process.Deps) error {
		cfg := payments.DefaultConfig()
		cfg.DB = ":memory:"
		return payments.Run(ctx, cfg, deps)
	})
	ordersAddr, stopOrders := runService(tb, "orders", func(ctx context.Context, deps process.Deps) error {
		cfg := orders.DefaultConfig()
		cfg.DB = ":memory:"
		return orders.Run(ctx, cfg, deps)
	})
	s.promos, s.stopPromotions = promotionsclient.New(rpctest.Dial(tb, promotionsAddr), 10*time.Second), stopPromotions
	checkoutAddr, stopCheckout := runService(tb, "checkout", func(ctx context.Context, deps process.Deps) error {
		cfg := checkout.DefaultConfig()
		cfg.DB = ":memory:"
		cfg.CartHost, cfg.CatalogHost, cfg.InventoryHost, cfg.PaymentsHost, cfg.OrdersHost = cartAddr, catalogAddr, inventoryAddr, paymentsAddr, ordersAddr
		cfg.PromotionsHost = promotionsAddr
		return checkout.Run(ctx, cfg, deps)
	})
	s.accounts = accountsclient.New(rpctest.Dial(tb, accountsAddr), 10*time.Second)
	s.carts, s.cartAddr = cartclient.New(rpctest.Dial(tb, cartAddr), 10*time.Second), cartAddr
	s.inventory = inventoryclient.New(rpctest.Dial(tb, inventoryAddr), 10*time.Second)
	s.payments = paymentsclient.New(rpctest.Dial(tb, paymentsAddr), 10*time.Second)
	s.orders = ordersclient.New(rpctest.Dial(tb, ordersAddr), 10*time.Second)
	s.checkout = checkoutclient.New(rpctest.Dial(tb, checkoutAddr), 30*time.Second)
	s.stopAccounts, s.stopCart, s.stopInventory, s.stopPayments, s.stopOrders, s.stopCheckout =
		stopAccounts, stopCart, stopInventory, stopPayments, stopOrders, stopCheckout
	return &s
}

// runService runs a service's Run on a loopback port until the test ends
// or stop is called, and returns its address.
func runService(tb testing.TB, name string, run func(context.Context, process.Deps) error) (string, func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, process.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DrainTimeout: time.Second, Listener: lis})
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("%s: %v", name, err)
		}
	})
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}

// customer returns the customer b is signed in as.
func (s *shop) customer(tb testing.TB, b *shopper) bookshop.Customer {
	tb.Helper()
	session, err := s.accounts.Session(testContext(tb), b.cookie("bookshop_session"))
	if err != nil {
		tb.Fatalf("the shopper's session: %v", err)
	}
	return session.Customer
}

// downShop sets o's Accounts, Carts, Inventory, Checkout and Orders to
// clients of services that are down: for the tests of pages that never
// need them (a guest's, with no cart), where any call fails as it does in
// production when they are down.
func downShop(tb testing.TB, o *marketplace.Options) {
	tb.Helper()
	down := func() *grpc.ClientConn { return rpctest.Dial(tb, rpctest.ClosedAddr(tb)) }
	o.Accounts = accountsclient.New(down(), time.Second)
	o.Carts = cartclient.New(down(), time.Second)
	o.Inventory = inventoryclient.New(down(), time.Second)
	o.Checkout = checkoutclient.New(down(), time.Second)
	o.Orders = ordersclient.New(down(), time.Second)
	o.Promotions = promotionsclient.New(down(), time.Second)
}
