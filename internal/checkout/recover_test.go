package checkout_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// TestRecoverStuckLeaveOthersTheirTurn fills the saga log with 150
// checkouts being undone whose refunds cannot be made (Payments is down),
// all older than one paid checkout whose services work (Orders was down
// when it was placed, and is back): the recoverer finishes the paid one
// within a few passes, takes each stuck one up and postpones it, and
// counts every unfinished checkout, not a page of them.
func TestRecoverStuckLeaveOthersTheirTurn(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	m := telemetry.NewMetrics()
	c := startCheckout(t, s, checkout.Options{CallTimeout: time.Second, Metrics: m})

	// The paid checkout: charged, its stock taken, its order not recorded.
	s.fill(t, "c-40", 2, 1)
	before := s.levels(t, 2)
	s.orders.stop()
	paid := order(40, "k-paid", eur(1099), paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, paid); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, Orders down = %v, want Unavailable", err)
	}
	s.orders.start()
	waitUntil(t, "Orders to be reached again", func() bool { // by the client the Checkout uses
		_, err := s.orderBook.List(ctx, 40, "", 1)
		return err == nil
	})
	s.payments.stop()

	// The stuck ones: recorded before it, each to be refunded.
	const stuck = 150
	start := time.Now().UTC().Add(-time.Hour)
	for i := range stuck {
		customer := int32(1000 + i)
		at := start.Add(time.Duration(i) * time.Millisecond)
		r := &saga.Record{
			CustomerID: customer, Key: "k-stuck", ID: bookshop.NewID(), Request: "fp", State: saga.Undoing,
			CartID:   cartOf(customer),
			Lines:    []bookshop.OrderLine{{BookID: 1, Title: "The Maltese Falcon", UnitPrice: eur(1250), Quantity: 1, Total: eur(1250)}},
			Subtotal: eur(1250), Discount: eur(0), Total: eur(1250), Shipping: address,
			ChargeTried: true, ErrCode: bookshop.Unavailable, ErrMessage: "the payment service could not take your payment",
			Created: at, Updated: at,
		}
		if err := c.log.Begin(ctx, r, saga.Lease{}, saga.NoMark); err != nil {
			t.Fatal(err)
		}
	}

	passes := 0
	for ; passes < 3; passes++ {
		begun := time.Now()
		n, err := c.svc.Recover(ctx)
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		r, err := c.log.Get(ctx, 40, paid.Key)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %d taken up in %v; the paid checkout is %s", passes+1, n, time.Since(begun).Round(time.Millisecond), r.State)
		if r.State == saga.Done {
			break
		}
	}
	if passes == 3 {
		t.Fatalf("the paid checkout is not done after 3 passes of the recoverer: stuck checkouts kept it waiting")
	}

	// Every stuck one is taken up within a few passes, and each that
	// stalled waits before its next try.
	for range 3 {
		if _, err := c.svc.Recover(ctx); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	for i := range stuck {
		r, err := c.log.Get(ctx, int32(1000+i), "k-stuck")
		if err != nil {
			t.Fatal(err)
		}
		if r.State != saga.Undoing || r.Attempts < 1 || !r.NextTry.After(r.Updated) || r.NextTry.After(now.Add(5*time.Minute)) {
			t.Fatalf("stuck checkout %d: %s, %d attempts, next try %v; want it undoing, tried, and postponed by at most 5m", i, r.State, r.Attempts, r.NextTry)
		}
	}
	metrics := scrape(t, m)
	if want := "bookshop_checkout_unfinished " + strconv.Itoa(stuck) + "\n"; !strings.Contains(metrics, want) {
		t.Errorf("the metrics have no %q:\n%s", want, metricLines(metrics, "bookshop_checkout_unfinished"))
	}
	if age := metricValue(t, metrics, "bookshop_checkout_unfinished_oldest_age_seconds"); age < 3600 || age > 3600+60 {
		t.Errorf("bookshop_checkout_unfinished_oldest_age_seconds = %v, want about 3600 (an hour)", age)
	}
	s.payments.start()
	waitUntil(t, "Payments to be reached again", func() bool {
		_, err := s.charges.ChargeByKey(ctx, "none")
		return bookshop.ErrorCode(err) == bookshop.NotFound
	})
	c.invariants(t, s, 40, paid.Key, before, 1)
}

// scrape returns the text of the metrics m serves.
func scrape(tb testing.TB, m *telemetry.Metrics) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

// metricLines returns the lines of text that start with prefix.
func metricLines(text, prefix string) string {
	var lines []string
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "")
}

// metricValue returns the value of the series name, without labels, in
// the metrics' text.
func metricValue(tb testing.TB, text, name string) float64 {
	tb.Helper()
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	tb.Fatalf("no series %s in the metrics", name)
	return 0
}

// lostAnswerOrders is the Orders service, whose answer to the first
// order recorded is lost: the order is recorded, and the Checkout told
// UNAVAILABLE, as when the connection drops after Orders committed.
type lostAnswerOrders struct {
	checkout.Orders
	lost atomic.Bool
}

func (o *lostAnswerOrders) Create(ctx context.Context, key string, order bookshop.Order) (bookshop.Order, error) {
	got, err := o.Orders.Create(ctx, key, order)
	if err == nil && o.lost.CompareAndSwap(false, true) {
		return bookshop.Order{}, bookshop.Errorf(bookshop.Unavailable, "the connection was lost")
	}
	return got, err
}

// sweptInventory is the Inventory once swept is set, as its sweeper
// leaves it after the records of the reservations that ended are deleted
// (a week after): Commit finds no reservation.
type sweptInventory struct {
	checkout.Inventory
	swept atomic.Bool
}

func (i *sweptInventory) Commit(ctx context.Context, id string) (bookshop.Reservation, error) {
	if i.swept.Load() {
		return bookshop.Reservation{}, bookshop.Errorf(bookshop.NotFound, "reservation %q: not found", id)
	}
	return i.Inventory.Commit(ctx, id)
}

// TestOrderRecordedHoldSwept has Orders record a checkout's order and the
// answer lost, and then the hold's record swept away before the
// recoverer takes the checkout up: the recoverer must record the order
// (the one recorded, by its key) and never take the stock again, nor
// refund a paid order.
func TestOrderRecordedHoldSwept(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	orders := &lostAnswerOrders{}
	inventory := &sweptInventory{}
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		orders.Orders, inventory.Inventory = d.Orders, d.Inventory
		d.Orders, d.Inventory = orders, inventory
	})
	s.fill(t, "c-41", 1, 1, 2, 1)
	before := s.levels(t, 1, 2)
	req := order(41, "k-swept", eur(1250+1099), paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, req); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, the order's answer lost = %v, want Unavailable", err)
	}
	page, err := s.orderBook.List(ctx, 41, "", 10)
	if err != nil || len(page.Orders) != 1 {
		t.Fatalf("orders = %+v, %v; want the one recorded", page.Orders, err)
	}
	inventory.swept.Store(true)
	c.recoverUntilEnded(t, 41, req.Key)
	r := c.invariants(t, s, 41, req.Key, before, 2)
	if r.State != saga.Done || r.Order.ID != page.Orders[0].ID {
		t.Errorf("the checkout is %s (%q), order %q; want done, with order %s", r.State, r.ErrMessage, r.Order.ID, page.Orders[0].ID)
	}
	if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); err != nil || ch.State != paymentsclient.StateApproved {
		t.Errorf("the charge = %+v, %v; want it approved, not refunded", ch, err)
	}
}
