package inventory_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

var (
	testContext = rpctest.Context
	discard     = slog.New(slog.DiscardHandler)
)

// clock is a clock that a test sets. It is safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// open opens an inventory database at path (":memory:" for one in
// memory), without a seed, closed when the test ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path, nil)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// serve serves svc over real gRPC on loopback, as Run does (its
// validators included), until the test ends, and returns a client of it.
func serve(tb testing.TB, svc *inventory.Service) inventoryv1.InventoryServiceClient {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := inventory.NewGRPCServer(svc, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("gRPC server: %v", err)
		}
	})
	return inventoryv1.NewInventoryServiceClient(rpctest.Dial(tb, lis.Addr().String()))
}

// serveClock serves an Inventory over a database in memory, whose clock
// is the returned one and whose metrics go to m (nil for none).
func serveClock(tb testing.TB, m *telemetry.Metrics) (inventoryv1.InventoryServiceClient, *inventory.Service, *clock) {
	tb.Helper()
	c := newClock()
	svc := inventory.NewService(open(tb, ":memory:"), inventory.Options{Now: c.Now, Metrics: m})
	return serve(tb, svc), svc, c
}

// runInventory runs the Inventory as `bookshop inventory` does
// (inventory.Run), with its database at db (or in memory) and without a
// seed, until the test ends or stop is called. It returns a client of it.
func runInventory(tb testing.TB, db string) (inventoryv1.InventoryServiceClient, func()) {
	tb.Helper()
	cfg := inventory.DefaultConfig()
	cfg.DB, cfg.Seed = db, nil
	return runWith(tb, cfg)
}

// runWith is runInventory with cfg.
func runWith(tb testing.TB, cfg inventory.Config) (inventoryv1.InventoryServiceClient, func()) {
	tb.Helper()
	addr, stop := runAt(tb, cfg)
	return inventoryv1.NewInventoryServiceClient(rpctest.Dial(tb, addr)), stop
}

// runAt is runWith, returning the address the Inventory serves on.
func runAt(tb testing.TB, cfg inventory.Config) (string, func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- inventory.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("inventory.Run: %v", err)
		}
	})
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}
