package promotions_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

var (
	testContext = rpctest.Context
	discard     = slog.New(slog.DiscardHandler)
)

// t0 is when the tests' clocks start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a clock that a test sets. It is safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

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

// open opens a promotions database at path (":memory:" for one in
// memory), closed when the test ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newService returns a Service over a database in memory, running
// "buy two books, get the third free" (the campaign these tests are
// of, whichever the shop runs now), its clock the returned one, its
// campaign c (a zero Starts: the clock's start), its metrics m's (nil
// for none).
func newService(tb testing.TB, c bookshop.Campaign, m *telemetry.Metrics) (*promotions.Service, *clock) {
	tb.Helper()
	clk := newClock()
	svc, err := promotions.NewService(testContext(tb), open(tb, ":memory:"),
		promotions.Options{Now: clk.Now, Metrics: m, Campaign: c, Promotion: promotions.BuyTwoGetOneFree()})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, clk
}

// serve serves svc over real gRPC on loopback, as Run does (its
// validators included), until the test ends, and returns a client of it.
func serve(tb testing.TB, svc *promotions.Service) promotionsv1.PromotionsServiceClient {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := promotions.NewGRPCServer(svc, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
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
	return promotionsv1.NewPromotionsServiceClient(rpctest.Dial(tb, lis.Addr().String()))
}

// serveClock serves a Promotions service over a database in memory, its
// campaign c, whose clock is the returned one and whose metrics go to m
// (nil for none).
func serveClock(tb testing.TB, c bookshop.Campaign, m *telemetry.Metrics) (promotionsv1.PromotionsServiceClient, *promotions.Service, *clock) {
	tb.Helper()
	svc, clk := newService(tb, c, m)
	return serve(tb, svc), svc, clk
}

// runWith runs the Promotions service as `bookshop promotions` does
// (promotions.Run) with cfg, until the test ends or stop is called. It
// returns a client of it.
func runWith(tb testing.TB, cfg promotions.Config) (promotionsv1.PromotionsServiceClient, func()) {
	tb.Helper()
	addr, stop := runAt(tb, cfg)
	return promotionsv1.NewPromotionsServiceClient(rpctest.Dial(tb, addr)), stop
}

// runAt is runWith, returning the address the service serves on. A cfg
// without a Promotion runs "buy two books, get the third free", the
// campaign these tests are of, whichever the shop runs now.
func runAt(tb testing.TB, cfg promotions.Config) (string, func()) {
	tb.Helper()
	if cfg.Promotion.Rule == nil {
		cfg.Promotion = promotions.BuyTwoGetOneFree()
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- promotions.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("promotions.Run: %v", err)
		}
	})
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}
