package cart_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

var (
	testContext = rpctest.Context
	discard     = slog.New(slog.DiscardHandler)
)

// eur returns an amount in euro cents.
func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// catalogBooks returns n books, ids 1 to n, book i at price(i).
func catalogBooks(n int, price func(id int32) bookshop.Money) []bookshop.Book {
	books := make([]bookshop.Book, n)
	for i := range books {
		id := int32(i + 1)
		books[i] = bookshop.Book{
			ID: id, Title: fmt.Sprintf("Book %d", id), Author: fmt.Sprintf("Author %d", id),
			Year: 2000, Category: bookshop.Mystery, Price: price(id),
		}
	}
	return books
}

// serveCatalog serves a real Catalog over books, in memory, on addr
// ("127.0.0.1:0" for a free port), until the test ends or stop is called.
// It returns the address it serves on: a test that stops it can serve
// another Catalog there.
func serveCatalog(tb testing.TB, addr string, books []bookshop.Book) (string, func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("listen on %s: %v", addr, err)
	}
	db, err := catalogsqlite.Open(testContext(tb), catalogsqlite.Memory, books)
	if err != nil {
		tb.Fatalf("catalog database: %v", err)
	}
	srv, err := catalog.NewGRPCServer(catalog.NewService(db, "EUR", 0, nil), process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Catalog: %v", err)
		}
		db.Close()
	})
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}

// runCart runs the Cart as `bookshop cart` does (cart.Run), with its
// database at db (or in memory) and its Catalog at catalogAddr, until the
// test ends or stop is called. It returns a client of it.
func runCart(tb testing.TB, db, catalogAddr string) (cartv1.CartServiceClient, func()) {
	tb.Helper()
	return runCartCaching(tb, db, catalogAddr, cart.DefaultConfig().CatalogCache)
}

// runCartCaching is runCart with its Catalog's books kept for cache (0:
// not kept).
func runCartCaching(tb testing.TB, db, catalogAddr string, cache time.Duration) (cartv1.CartServiceClient, func()) {
	tb.Helper()
	cfg := cart.DefaultConfig()
	cfg.DB, cfg.CatalogHost, cfg.CatalogCache = db, catalogAddr, cache
	addr, stop := serveCart(tb, cfg, discard)
	return cartv1.NewCartServiceClient(rpctest.Dial(tb, addr)), stop
}

// serveCart runs a Cart of cfg, logging to logger, on loopback until the
// test ends or stop is called, and returns its address.
func serveCart(tb testing.TB, cfg cart.Config, logger *slog.Logger) (addr string, stop func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cart.Run(ctx, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("cart.Run: %v", err)
		}
	})
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}
