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

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// shop is the Marketplace with every service it calls: Recommendations
// and the Catalog over the built-in catalog (startServices), and the
// Accounts and Cart services as their commands run them (their Run, on
// loopback, with their databases in memory).
type shop struct {
	site     *httptest.Server
	accounts *accountsclient.Client
	carts    *cartclient.Client
	catalog  *catalogclient.Client
	// stopCart and stopAccounts stop those services, for tests of the
	// pages when they are down.
	stopCart, stopAccounts func()
}

// startShop starts a shop until the test ends; opts change the
// Marketplace's options before it starts.
func startShop(tb testing.TB, opts ...func(*marketplace.Options)) *shop {
	tb.Helper()
	svc := startServices(tb, builtinCatalog(tb), seededRand())
	s := &shop{catalog: svc.catalog}
	s.accounts, s.carts, s.stopAccounts, s.stopCart = startAccountsAndCart(tb, svc.catalogAddr)
	o := marketplace.Options{
		Recommender: grpcRecommender(tb, recommendations.New(builtinCatalog(tb), seededRand())),
		Catalog:     svc.catalog,
		Searcher:    svc.catalog,
		Live:        svc.live,
		Accounts:    s.accounts,
		Carts:       s.carts,
		// The shop's tests are one client that makes many requests.
		RateLimit: 1000,
		RateBurst: 1000,
	}
	for _, opt := range opts {
		opt(&o)
	}
	s.site = startSite(tb, o)
	return s
}

// startAccountsAndCart runs the Accounts and Cart services as their
// commands do (their Run), with their databases in memory, the Cart
// pricing from the Catalog at catalogAddr, until the test ends or their
// stop functions are called, and returns clients of them.
func startAccountsAndCart(tb testing.TB, catalogAddr string) (*accountsclient.Client, *cartclient.Client, func(), func()) {
	tb.Helper()
	accountsAddr, stopAccounts := runService(tb, "accounts", func(ctx context.Context, deps process.Deps) error {
		cfg := accounts.DefaultConfig()
		cfg.DB = ":memory:"
		return accounts.Run(ctx, cfg, deps)
	})
	cartAddr, stopCart := runService(tb, "cart", func(ctx context.Context, deps process.Deps) error {
		cfg := cart.DefaultConfig()
		cfg.DB, cfg.CatalogHost = ":memory:", catalogAddr
		return cart.Run(ctx, cfg, deps)
	})
	return accountsclient.New(rpctest.Dial(tb, accountsAddr), 10*time.Second),
		cartclient.New(rpctest.Dial(tb, cartAddr), 10*time.Second),
		stopAccounts, stopCart
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

// downShop returns clients of Accounts and Cart services that are down:
// for the tests of pages that never call them (a guest's, with no cart),
// where any call would fail as it does in production when they are down.
func downShop(tb testing.TB) (*accountsclient.Client, *cartclient.Client) {
	tb.Helper()
	return accountsclient.New(rpctest.Dial(tb, rpctest.ClosedAddr(tb)), time.Second),
		cartclient.New(rpctest.Dial(tb, rpctest.ClosedAddr(tb)), time.Second)
}
