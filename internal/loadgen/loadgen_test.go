package loadgen_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	accountssqlite "github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	inventorysqlite "github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/loadgen"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	orderssqlite "github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	paymentssqlite "github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	promotionssqlite "github.com/bookshop-go/bookshop/internal/promotions/sqlite"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// testContext returns a context that ends with the test or after 30s.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// fakeTarget counts what Run does with its workers. Every fail-th call
// fails (none when fail is 0); each call takes delay.
type fakeTarget struct {
	fail    int64
	delay   time.Duration
	openErr error

	opened, closed, calls atomic.Int64
}

func (t *fakeTarget) Worker(ctx context.Context, i int) (loadgen.Worker, error) {
	if t.openErr != nil && i == 2 {
		return nil, t.openErr
	}
	t.opened.Add(1)
	return fakeWorker{t}, nil
}

func (t *fakeTarget) Close() error { return nil }

type fakeWorker struct{ t *fakeTarget }

func (w fakeWorker) Call(ctx context.Context) (int, error) {
	n := w.t.calls.Add(1)
	if w.t.delay > 0 {
		select {
		case <-time.After(w.t.delay):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if w.t.fail > 0 && n%w.t.fail == 0 {
		return 0, errors.New("planned failure")
	}
	return 2, nil
}

func (w fakeWorker) Close() error {
	w.t.closed.Add(1)
	return nil
}

func TestRunCount(t *testing.T) {
	target := &fakeTarget{fail: 10}
	res, err := loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 4, Count: 100})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Calls != 90 || res.Errors != 10 || res.Items != 180 {
		t.Errorf("Run(100 calls, every 10th failing) = %d calls, %d errors, %d items; want 90, 10, 180", res.Calls, res.Errors, res.Items)
	}
	if got := target.calls.Load(); got != 100 {
		t.Errorf("the workers made %d calls, want 100", got)
	}
	if target.opened.Load() != 4 || target.closed.Load() != 4 {
		t.Errorf("opened %d workers and closed %d, want 4 and 4", target.opened.Load(), target.closed.Load())
	}
	if len(res.ErrorSamples) != 1 || res.ErrorSamples[0].Count != 10 || res.ErrorSamples[0].Message != "planned failure" {
		t.Errorf("ErrorSamples = %+v, want planned failure × 10", res.ErrorSamples)
	}
	if res.Latency.TotalCount() != 90 {
		t.Errorf("the histogram holds %d calls, want the 90 that succeeded", res.Latency.TotalCount())
	}
}

func TestRunDuration(t *testing.T) {
	target := &fakeTarget{delay: time.Millisecond}
	res, err := loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 2, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Elapsed != 300*time.Millisecond {
		t.Errorf("Elapsed = %v, want the measured 300ms", res.Elapsed)
	}
	if res.Errors != 0 {
		t.Errorf("Errors = %d, want 0: calls cut off by the end of the run are not failures", res.Errors)
	}
	// Each worker makes at most one call a millisecond.
	if res.Calls < 50 || res.Calls > 600 || res.Calls >= target.calls.Load() {
		t.Errorf("Calls = %d of %d made, want about 2 a millisecond for 300ms, the warmup's left out", res.Calls, target.calls.Load())
	}
	if p50 := res.Percentile(50); p50 < time.Millisecond || p50 > 100*time.Millisecond {
		t.Errorf("p50 = %v, want about 1ms", p50)
	}
	if res.Rate() <= 0 {
		t.Errorf("Rate() = %v, want more than 0", res.Rate())
	}
}

func TestRunInterval(t *testing.T) {
	target := &fakeTarget{}
	res, err := loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 5, Duration: 450 * time.Millisecond, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	// Five workers, each at most one call per 100ms after a random start.
	if res.Calls < 5 || res.Calls > 25 {
		t.Errorf("Calls = %d, want about 4 per worker of 5", res.Calls)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := testContext(t)
	for _, tt := range []struct {
		name string
		opts loadgen.Options
	}{
		{"no workers", loadgen.Options{Count: 1}},
		{"no end", loadgen.Options{Concurrency: 1}},
		{"negative duration", loadgen.Options{Concurrency: 1, Duration: -time.Second}},
		{"warmup with a count", loadgen.Options{Concurrency: 1, Count: 5, Warmup: time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := loadgen.Run(ctx, &fakeTarget{}, tt.opts); err == nil {
				t.Errorf("Run(%+v) = nil error, want one", tt.opts)
			}
		})
	}
	t.Run("a worker that cannot open", func(t *testing.T) {
		target := &fakeTarget{openErr: errors.New("refused")}
		_, err := loadgen.Run(ctx, target, loadgen.Options{Concurrency: 4, Count: 10})
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Run = %v, want the open error", err)
		}
		if target.calls.Load() != 0 || target.opened.Load() != target.closed.Load() {
			t.Errorf("made %d calls, opened %d workers and closed %d; want no call and every worker closed",
				target.calls.Load(), target.opened.Load(), target.closed.Load())
		}
	})
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := loadgen.Run(ctx, &fakeTarget{delay: time.Millisecond}, loadgen.Options{Concurrency: 2, Duration: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run with a context that ends = %v, want DeadlineExceeded", err)
		}
	})
}

// stack is the whole system on loopback: one gRPC server with the
// Catalog, Recommendations and the live service over one catalog
// database, Accounts, the Cart, the Inventory, Payments, Orders and
// Promotions;
// another with the Checkout, which calls the first; and a Marketplace
// calling both, which trusts one proxy (the shop's targets send
// X-Forwarded-For). Every database is in memory.
type stack struct {
	grpcAddr string
	siteURL  string
	db       *sqlite.DB
	stock    *inventorysqlite.DB
	orders   *orderssqlite.DB
}

// stackBookCopies is the stack's stock of book 1, which the checkout
// target buys; the other books have the Inventory's seed.
const stackBookCopies = 1000

// open opens a store with open and closes it when the test ends.
func open[T interface{ Close() error }](tb testing.TB, open func() (T, error)) T {
	tb.Helper()
	db, err := open()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func startStack(tb testing.TB) stack {
	tb.Helper()
	seed, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(testContext(tb), sqlite.Memory, seed.Books())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	accountsDB, err := accountssqlite.Open(testContext(tb), accountssqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { accountsDB.Close() })
	accountsSvc, err := accounts.NewService(testContext(tb), accountsDB, accounts.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	cartDB, err := cartsqlite.Open(testContext(tb), cartsqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cartDB.Close() })
	ctx := testContext(tb)
	stock := inventory.SeedStock()
	stock[1] = stackBookCopies
	stockDB := open(tb, func() (*inventorysqlite.DB, error) { return inventorysqlite.Open(ctx, inventorysqlite.Memory, stock) })
	paymentsDB := open(tb, func() (*paymentssqlite.DB, error) { return paymentssqlite.Open(ctx, paymentssqlite.Memory) })
	ordersDB := open(tb, func() (*orderssqlite.DB, error) { return orderssqlite.Open(ctx, orderssqlite.Memory) })
	sagaDB := open(tb, func() (*checkoutsqlite.DB, error) { return checkoutsqlite.Open(ctx, checkoutsqlite.Memory) })
	promotionsDB := open(tb, func() (*promotionssqlite.DB, error) { return promotionssqlite.Open(ctx, promotionssqlite.Memory) })
	offers, err := promotions.NewService(ctx, promotionsDB, promotions.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	books := catalog.NewService(db, "", 0, nil)
	addr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		inventoryv1.RegisterInventoryServiceServer(srv, inventory.NewServer(inventory.NewService(stockDB, inventory.Options{Logger: logger}), logger))
		paymentsv1.RegisterPaymentsServiceServer(srv, payments.NewServer(payments.NewService(paymentsDB, payments.Options{Logger: logger}), logger))
		ordersv1.RegisterOrdersServiceServer(srv, orders.NewServer(orders.NewService(ordersDB, orders.Options{Logger: logger}), logger))
		promotionsv1.RegisterPromotionsServiceServer(srv, promotions.NewServer(offers, logger))
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(recommendations.New(db, nil), logger))
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(books, logger))
		accountsv1.RegisterAccountsServiceServer(srv, accounts.NewServer(accountsSvc, logger))
		cartv1.RegisterCartServiceServer(srv, cart.NewServer(cart.NewService(cartDB, books, cart.Options{Logger: logger}), logger))
		recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, recommendations.NewLiveServer(
			func() *recommendations.Session { return recommendations.NewSession(db, nil) }, logger))
	})
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	checkoutAddr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		svc := checkout.NewService(checkout.Deps{
			Carts:     cartclient.New(conn, 5*time.Second),
			Catalog:   catalogclient.New(conn, 5*time.Second),
			Inventory: inventoryclient.New(conn, 5*time.Second),
			Payments:  paymentsclient.New(conn, 5*time.Second),
			Orders:    ordersclient.New(conn, 5*time.Second),
			Store:     sagaDB,
		}, checkout.Options{Logger: logger})
		checkoutv1.RegisterCheckoutServiceServer(srv, checkout.NewServer(svc, logger))
	})
	checkoutConn, err := rpc.Dial(checkoutAddr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { checkoutConn.Close() })
	shutdown := make(chan struct{})
	site, err := marketplace.NewServer(marketplace.Options{
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Recommender:      recommendationsclient.New(conn, 5*time.Second),
		RecommendTimeout: 5 * time.Second,
		Catalog:          catalogclient.New(conn, 5*time.Second),
		Searcher:         catalogclient.New(conn, 5*time.Second),
		Live:             recommendationsclient.NewLiveClient(conn),
		Accounts:         accountsclient.New(conn, 5*time.Second),
		Carts:            cartclient.New(conn, 5*time.Second),
		Inventory:        inventoryclient.New(conn, 5*time.Second),
		Checkout:         checkoutclient.New(checkoutConn, 30*time.Second),
		Orders:           ordersclient.New(conn, 5*time.Second),
		Promotions:       promotionsclient.New(conn, 5*time.Second),
		Shutdown:         shutdown,
		RateLimit:        rate.Inf,
		TrustedProxies:   1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	web := httptest.NewServer(site)
	tb.Cleanup(func() {
		close(shutdown) // ends the live event streams
		web.Close()
	})
	return stack{grpcAddr: addr, siteURL: web.URL + "/", db: db, stock: stockDB, orders: ordersDB}
}

// TestTargets runs each target for a few calls against the real services
// and checks that every call succeeded and moved what it should.
func TestTargets(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	g := loadgen.GRPCConfig{Addr: s.grpcAddr, Conns: 2}
	all := catalogv1.Category_CATEGORY_UNSPECIFIED
	for _, tt := range []struct {
		target       string
		new          func() (loadgen.Target, error)
		concurrency  int
		count        int64
		itemsPerCall int64 // at least, or exactly with itemsExactly
		itemsExactly bool
		booksAdded   int
	}{
		{"recommend", func() (loadgen.Target, error) { return loadgen.NewRecommend(g, 1, 3) }, 4, 40, 1, true, 0},
		{"export", func() (loadgen.Target, error) { return loadgen.NewExport(g, all, 45) }, 2, 4, 45, false, 0},
		{"import", func() (loadgen.Target, error) { return loadgen.NewImport(g, 100) }, 2, 4, 100, true, 400},
		// After the import, whose books two of the queries find.
		{"search", func() (loadgen.Target, error) { return loadgen.NewSearch(g, nil, 20) }, 3, 27, 1, true, 0},
		{"live", func() (loadgen.Target, error) { return loadgen.NewLive(g, 45) }, 8, 40, 0, false, 0},
		{"home", func() (loadgen.Target, error) { return loadgen.NewPage(s.siteURL, 4) }, 4, 40, 1, true, 0},
		{"home-customer", func() (loadgen.Target, error) { return loadgen.NewCustomerPage(s.siteURL, 3, 4) }, 4, 40, 1, true, 0},
		// Past the 400 adds to one cart, after which a worker starts another.
		{"add-to-cart", func() (loadgen.Target, error) { return loadgen.NewAddToCart(s.siteURL, 4) }, 1, 450, 1, true, 0},
		{"live-web", func() (loadgen.Target, error) { return loadgen.NewLiveWeb(s.siteURL, 45, 4) }, 8, 40, 1, true, 0},
	} {
		t.Run(tt.target, func(t *testing.T) {
			before := s.db.Len()
			target, err := tt.new()
			if err != nil {
				t.Fatalf("new %s target: %v", tt.target, err)
			}
			defer target.Close()
			res, err := loadgen.Run(ctx, target, loadgen.Options{Concurrency: tt.concurrency, Count: tt.count, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("Run(%s) = %v", tt.target, err)
			}
			if res.Calls != tt.count || res.Errors != 0 {
				t.Fatalf("Run(%s, %d calls) = %d calls, %d errors %+v; want every call to succeed", tt.target, tt.count, res.Calls, res.Errors, res.ErrorSamples)
			}
			if min := tt.count * tt.itemsPerCall; res.Items < min || (tt.itemsExactly && res.Items != min) {
				t.Errorf("Run(%s) moved %d items, want %d", tt.target, res.Items, min)
			}
			if got := s.db.Len() - before; got != tt.booksAdded {
				t.Errorf("Run(%s) added %d books to the catalog, want %d", tt.target, got, tt.booksAdded)
			}
		})
	}
}

// TestTargetFailures checks that calls to a service that is not there
// fail, each counted, rather than stop the run.
func TestTargetFailures(t *testing.T) {
	target, err := loadgen.NewRecommend(loadgen.GRPCConfig{Addr: rpctest.ClosedAddr(t)}, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	res, err := loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 2, Count: 10, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Calls != 0 || res.Errors != 10 || len(res.ErrorSamples) == 0 {
		t.Errorf("Run against a closed port = %d calls, %d errors, samples %v; want 10 errors", res.Calls, res.Errors, res.ErrorSamples)
	}
	if _, err := loadgen.NewPage("localhost:8080", 1); err == nil {
		t.Error("NewPage(a URL without a scheme) = nil error, want one")
	}
	if _, err := loadgen.NewImport(loadgen.GRPCConfig{Addr: "localhost:1"}, 0); err == nil {
		t.Error("NewImport(0 books) = nil error, want one")
	}
	if _, err := loadgen.NewSearch(loadgen.GRPCConfig{Addr: "localhost:1"}, []string{}, 20); err == nil {
		t.Error("NewSearch(no queries) = nil error, want one")
	}
}

func TestRecordsAndChart(t *testing.T) {
	res, err := loadgen.Run(testContext(t), &fakeTarget{}, loadgen.Options{Concurrency: 1, Count: 20})
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	for _, label := range []string{"ours", "minimal <gRPC> & co"} {
		for _, c := range []int{1, 4, 16} {
			rec := loadgen.NewRecord(label, "recommend", res)
			rec.Concurrency, rec.Rate, rec.P50, rec.P99 = c, float64(1000*c), 0.1*float64(c), 0.3*float64(c)
			if err := loadgen.WriteRecord(&file, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := loadgen.WriteRecord(&file, loadgen.NewRecord("ours", "home", res)); err != nil {
		t.Fatal(err)
	}
	recs, err := loadgen.ReadRecords(&file)
	if err != nil {
		t.Fatalf("ReadRecords = %v", err)
	}
	if len(recs) != 7 || recs[0].Label != "ours" || recs[0].Calls != 20 || recs[6].Target != "home" {
		t.Fatalf("ReadRecords = %+v, want the 7 records written", recs)
	}

	var svg bytes.Buffer
	if err := loadgen.WriteChart(&svg, "Latency & load", "recommend", recs); err != nil {
		t.Fatalf("WriteChart = %v", err)
	}
	// Well-formed XML, with two series of two lines each, labels escaped.
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	polylines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 4 {
		t.Errorf("the chart has %d lines, want 4 (p50 and p99 of two labels)", polylines)
	}
	if !strings.Contains(svg.String(), "minimal &lt;gRPC&gt; &amp; co p99") {
		t.Error("the chart's legend lacks the escaped label")
	}
	if err := loadgen.WriteChart(io.Discard, "", "export", recs); err == nil {
		t.Error("WriteChart(a target without records) = nil error, want one")
	}
}

// TestRunConcurrentRecord checks, under the race detector, that workers
// record into one result safely.
func TestRunConcurrentRecord(t *testing.T) {
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := loadgen.Run(testContext(t), &fakeTarget{fail: 3}, loadgen.Options{Concurrency: 16, Count: 2000}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
