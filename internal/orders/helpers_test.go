package orders_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

var (
	testContext = rpctest.Context
	discard     = slog.New(slog.DiscardHandler)
)

// eur returns an amount in euro cents.
func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// line returns a line of qty copies of book id at cents each, its total
// right.
func line(id int32, cents int64, qty int) bookshop.OrderLine {
	return bookshop.OrderLine{BookID: id, Title: "Book " + string(rune('A'+id%26)), UnitPrice: eur(cents), Quantity: qty, Total: eur(cents * int64(qty))}
}

// address is a complete shipping address.
var address = bookshop.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"}

// newOrder returns a valid order of customer with lines, its amounts
// adding up, no discount, paid by charge "ch_test".
func newOrder(customer int32, lines ...bookshop.OrderLine) bookshop.Order {
	if len(lines) == 0 {
		lines = []bookshop.OrderLine{line(1, 1299, 2), line(2, 850, 1)}
	}
	var sum int64
	for _, l := range lines {
		sum += l.Total.Units
	}
	return bookshop.Order{CustomerID: customer, Lines: lines, Subtotal: eur(sum), Total: eur(sum), PaymentID: "ch_test", Shipping: address}
}

// clock is a clock that moves only when told: the Service's Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openDB opens the orders database at path (or sqlite.Memory), closed
// when the test ends.
func openDB(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("sqlite.Open(%q): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newService returns a Service over an in-memory database, with the clock
// c (time.Now when nil), counting in m (nothing when nil).
func newService(tb testing.TB, c *clock, m *telemetry.Metrics) *orders.Service {
	tb.Helper()
	opts := orders.Options{Logger: discard, Metrics: m}
	if c != nil {
		opts.Now = c.Now
	}
	return orders.NewService(openDB(tb, sqlite.Memory), opts)
}

// runOrders runs the Orders service as `bookshop orders` does
// (orders.Run), with its database at db, until the test ends or stop is
// called. It returns a client of it.
func runOrders(tb testing.TB, db string) (ordersv1.OrdersServiceClient, func()) {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := orders.DefaultConfig()
	cfg.DB = db
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- orders.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("orders.Run: %v", err)
		}
	})
	tb.Cleanup(stop)
	return ordersv1.NewOrdersServiceClient(rpctest.Dial(tb, lis.Addr().String())), stop
}
