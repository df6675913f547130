package ordersclient_test

import (
	"context"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// anOrder is a complete order, as Checkout makes it.
func anOrder(customer int32) bookshop.Order {
	return bookshop.Order{
		CustomerID: customer,
		Lines: []bookshop.OrderLine{
			{BookID: 3, Title: "Smilla's Sense of Snow", UnitPrice: eur(1299), Quantity: 3, Total: eur(3897)},
			{BookID: 1, Title: "Solaris", UnitPrice: eur(999), Quantity: 1, Total: eur(999)},
		},
		Subtotal: eur(4896), Discount: eur(1299), Total: eur(3597),
		Promotions: []string{"buy_two_get_one_free"},
		PaymentID:  "ch_abc",
		Shipping:   bookshop.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", Line2: "Flat 2", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
	}
}

// serve serves a real Orders service, its database in memory, on
// loopback until the test ends, and returns a client of it.
func serve(tb testing.TB) *ordersclient.Client {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(rpctest.Context(tb), sqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := orders.NewGRPCServer(orders.NewService(db, orders.Options{}), process.Deps{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Orders: %v", err)
		}
		db.Close()
	})
	return ordersclient.New(rpctest.Dial(tb, lis.Addr().String()), 5*time.Second)
}

func TestConvertRoundTrip(t *testing.T) {
	o := anOrder(7)
	o.ID, o.State = orders.NewOrderID(), ordersclient.StateCancelled
	o.Created = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	o.Updated = o.Created.Add(time.Minute)
	if got := ordersclient.OrderFromProto(ordersclient.OrderToProto(o)); !reflect.DeepEqual(got, o) {
		t.Errorf("OrderFromProto(OrderToProto(o)) = %+v\nwant %+v", got, o)
	}
	empty := ordersclient.OrderToProto(bookshop.Order{})
	if empty.GetSubtotal() != nil || empty.GetCreateTime() != nil || empty.GetState() != 0 {
		t.Errorf("OrderToProto(zero) = %v: want no amounts, no times, no state", empty)
	}
	if got := ordersclient.OrderFromProto(nil); got.ID != "" || len(got.Lines) != 0 || !got.Created.IsZero() {
		t.Errorf("OrderFromProto(nil) = %+v, want the zero order", got)
	}
}

// TestClient drives every method of the client against a real server,
// checking what it returns and the kernel errors it maps the statuses to.
func TestClient(t *testing.T) {
	ctx := context.Background() // the client's own timeout bounds each call
	c := serve(t)
	placed, err := c.Create(ctx, "checkout-1", anOrder(7))
	if err != nil {
		t.Fatal(err)
	}
	want := anOrder(7)
	want.ID, want.State, want.Created, want.Updated = placed.ID, ordersclient.StatePlaced, placed.Created, placed.Updated
	if !reflect.DeepEqual(placed, want) || time.Since(placed.Created) > time.Minute {
		t.Errorf("Create = %+v\nwant %+v, now", placed, want)
	}
	if again, err := c.Create(ctx, "checkout-1", anOrder(7)); err != nil || !reflect.DeepEqual(again, placed) {
		t.Errorf("Create again = %+v, %v; want the order recorded", again, err)
	}
	if got, err := c.Order(ctx, 7, placed.ID); err != nil || !reflect.DeepEqual(got, placed) {
		t.Errorf("Order = %+v, %v; want %+v", got, err, placed)
	}
	second, err := c.Create(ctx, "checkout-2", anOrder(7))
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.List(ctx, 7, "", 1)
	if err != nil || len(page.Orders) != 1 || page.Next == "" {
		t.Fatalf("List(7, 1) = %+v, %v; want 1 order and a next page", page, err)
	}
	rest, err := c.List(ctx, 7, page.Next, 1)
	if err != nil || len(rest.Orders) != 1 || rest.Next != "" {
		t.Fatalf("List(7, next, 1) = %+v, %v; want the last order", rest, err)
	}
	// Newest first: by time, then by id, as both may be of the same
	// millisecond.
	newest := []string{second.ID, placed.ID}
	if second.Created.Equal(placed.Created) && second.ID < placed.ID {
		newest = []string{placed.ID, second.ID}
	}
	if got := []string{page.Orders[0].ID, rest.Orders[0].ID}; !reflect.DeepEqual(got, newest) {
		t.Errorf("List(7) = %v, want newest first: %v", got, newest)
	}
	all, err := c.ListAll(ctx, "", 0)
	if err != nil || len(all.Orders) != 2 {
		t.Errorf("ListAll = %d orders, %v; want 2", len(all.Orders), err)
	}
	cancelled, err := c.Cancel(ctx, placed.ID)
	if err != nil || cancelled.State != ordersclient.StateCancelled {
		t.Errorf("Cancel = %+v, %v; want cancelled", cancelled, err)
	}

	other := anOrder(7)
	other.Lines[1].Quantity = 2
	for _, tt := range []struct {
		name string
		err  error
		code bookshop.Code
		msg  string
	}{
		{"an order that does not add up", errOf(c.Create(ctx, "checkout-3", other)), bookshop.Invalid, "line 2 (book 1): total 9.99 EUR: want 2 × 9.99 EUR = 19.98 EUR"},
		{"a key used for another order", errOf(c.Create(ctx, "checkout-1", anOrder(8))), bookshop.Conflict, "use a new key for each order"},
		{"another customer's order", errOf(c.Order(ctx, 8, placed.ID)), bookshop.NotFound, "no such order"},
		{"a malformed id", errOf(c.Order(ctx, 7, "o_nope")), bookshop.Invalid, "order id"},
		{"a page too large", errOfPage(c.List(ctx, 7, "", 51)), bookshop.Invalid, "page size 51"},
		{"a page too large for all", errOfPage(c.ListAll(ctx, "", 1000)), bookshop.Invalid, "page size 1000"},
		{"a huge page size", errOfPage(c.List(ctx, 7, "", 1<<40)), bookshop.Invalid, "page size 2147483647"},
		{"cancel an unknown order", errOf(c.Cancel(ctx, orders.NewOrderID())), bookshop.NotFound, "no such order"},
	} {
		if bookshop.ErrorCode(tt.err) != tt.code || !strings.Contains(bookshop.ErrorMessage(tt.err), tt.msg) {
			t.Errorf("%s: %v, want %s with %q", tt.name, tt.err, tt.code, tt.msg)
		}
	}
}

func errOf(_ bookshop.Order, err error) error         { return err }
func errOfPage(_ bookshop.OrderPage, err error) error { return err }

// TestClientUnavailable calls a port nothing listens on: Unavailable,
// within the client's timeout.
func TestClientUnavailable(t *testing.T) {
	c := ordersclient.New(rpctest.Dial(t, rpctest.ClosedAddr(t)), time.Second)
	start := time.Now()
	_, err := c.Create(context.Background(), "k", anOrder(7))
	if bookshop.ErrorCode(err) != bookshop.Unavailable || time.Since(start) > 3*time.Second {
		t.Errorf("Create on a closed port = %v after %v, want Unavailable within the timeout", err, time.Since(start))
	}
}
