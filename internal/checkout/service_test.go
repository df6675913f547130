package checkout_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// TestPlace checks out a cart of three books, two of one: the quote
// prices them from the Catalog, with the promotion's discount (the
// cheapest free: the customer's first order), the order is placed at that
// total, with the discount and the promotion's code, paid, its stock
// taken, the customer's use of the promotion spent, and the cart emptied
// of what was bought. A second order of three books gets no discount.
func TestPlace(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-1", 1, 2, 3, 1)
	before := s.levels(t, 1, 3)

	q, err := c.client.Quote(ctx, 1, "c-1")
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	wantQuote := bookshop.Quote{
		Lines: []bookshop.OrderLine{
			{BookID: 1, Title: "The Maltese Falcon", UnitPrice: eur(1250), Quantity: 2, Total: eur(2500)},
			{BookID: 3, Title: "Solaris", UnitPrice: eur(900), Quantity: 1, Total: eur(900)},
		},
		Subtotal: eur(3400), Discount: eur(900), Total: eur(2500),
		FreeBookID: 3, Promotions: []string{promotionsclient.BuyTwoGetOneFreeCode}, // Solaris free
		DiscountLabel: "Buy two, get one free: one Solaris free", // in the words of Promotions
		LinesDigest:   checkout.LinesDigest([]bookshop.StockLine{{BookID: 3, Quantity: 1}, {BookID: 1, Quantity: 2}}),
	}
	if !reflect.DeepEqual(q, wantQuote) {
		t.Errorf("Quote = %+v, want %+v", q, wantQuote)
	}
	o, err := c.client.Place(ctx, order(1, "k-place", q.Total, paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if !strings.HasPrefix(o.ID, "o_") || o.CustomerID != 1 || o.Subtotal != eur(3400) || o.Discount != eur(900) || o.Total != eur(2500) ||
		!reflect.DeepEqual(o.Promotions, []string{promotionsclient.BuyTwoGetOneFreeCode}) || o.State != ordersclient.StatePlaced ||
		!reflect.DeepEqual(o.Lines, wantQuote.Lines) || o.Shipping != address || o.PaymentID == "" {
		t.Errorf("Place = %+v, want the order of the quote, with its discount, placed, shipped to %+v", o, address)
	}
	r := c.invariants(t, s, 1, "k-place", before, 3)
	if r.State != saga.Done || r.Claim != saga.Confirmed {
		t.Errorf("checkout is %s, its claim %q; want done, confirmed", r.State, r.Claim)
	}
	if got, err := s.orderBook.Order(ctx, 1, o.ID); err != nil || !reflect.DeepEqual(got, o) {
		t.Errorf("Orders has %+v, %v; want %+v", got, err, o)
	}
	// The same key again, as a reload of the POST: the same order, and
	// nothing more.
	again, err := c.client.Place(ctx, order(1, "k-place", q.Total, paymentsclient.TestCardApproved))
	if err != nil || !reflect.DeepEqual(again, o) {
		t.Errorf("Place again = %+v, %v; want %+v", again, err, o)
	}
	c.invariants(t, s, 1, "k-place", before, 3)

	// A second order of three books: the promotion is used, no discount.
	s.fill(t, "c-1", 1, 1, 2, 2)
	q, err = c.client.Quote(ctx, 1, "c-1")
	if err != nil || q.Discount != eur(0) || q.Total != eur(1250+2*1099) {
		t.Fatalf("Quote, the promotion used = %+v, %v; want no discount, €34.48", q, err)
	}
	second, err := c.client.Place(ctx, order(1, "k-place-2", q.Total, paymentsclient.TestCardApproved))
	if err != nil || second.Discount != eur(0) || second.Total != eur(1250+2*1099) || second.Promotions != nil {
		t.Fatalf("Place, the promotion used = %+v, %v; want the full price, no promotion", second, err)
	}
	r, err = c.log.Get(ctx, 1, "k-place-2")
	if err != nil || r.Claim != saga.Refused {
		t.Errorf("the second checkout's claim = %+v, %v; want refused", r, err)
	}
	if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); err != nil || ch.Amount != second.Total {
		t.Errorf("the second order's charge = %+v, %v; want %s", ch, err, second.Total)
	}
}

// TestPlaceRefused checks the checkouts refused, each with a message for
// the shopper: nothing charged, no order, no stock held, the cart kept.
func TestPlaceRefused(t *testing.T) {
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	for _, tc := range []struct {
		name     string
		customer int32
		fill     []int
		change   func(*bookshop.PlaceOrder)
		code     bookshop.Code
		msg      string
		recorded bool // whether the saga log records it
	}{
		{name: "a total no longer the cart's", customer: 11, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Total = eur(1000) },
			code: bookshop.Conflict, msg: "the total is now €12.50, not the €10.00 you confirmed"},
		{name: "an empty cart", customer: 12, change: func(p *bookshop.PlaceOrder) { p.Total = eur(1000) },
			code: bookshop.Conflict, msg: "your cart is empty"},
		{name: "too few copies", customer: 13, fill: []int{3, 3},
			code: bookshop.Conflict, msg: `sold out: “Solaris” has only 2 copies left`, recorded: true},
		{name: "a declined card", customer: 14, fill: []int{1, 1, 2, 1}, change: func(p *bookshop.PlaceOrder) { p.Card = card(paymentsclient.TestCardDeclined) },
			code: bookshop.Conflict, msg: "card declined: insufficient funds", recorded: true},
		{name: "a card that fails Luhn", customer: 15, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Card = card("4242 4242 4242 4241") },
			code: bookshop.Invalid, msg: "card number: ", recorded: true},
		{name: "an expired card", customer: 16, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Card.ExpYear = 2001 },
			code: bookshop.Invalid, msg: "expiry: ", recorded: true},
		{name: "no card number", customer: 17, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Card.Number = " " },
			code: bookshop.Invalid, msg: "card number: required"},
		{name: "no city", customer: 18, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Shipping.City = "" },
			code: bookshop.Invalid, msg: "shipping address: city: required"},
		{name: "a name that shows nothing", customer: 23, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Shipping.Name = "\u200b" },
			code: bookshop.Invalid, msg: "shipping address: name: required"},
		{name: "a bad country", customer: 19, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Shipping.Country = "Germany" },
			code: bookshop.Invalid, msg: "shipping address: country: want a code of two capital letters"},
		{name: "a malformed key", customer: 20, fill: []int{1, 1}, change: func(p *bookshop.PlaceOrder) { p.Key = "k/1" },
			code: bookshop.Invalid, msg: `idempotency key "k/1"`},
		{name: "a total past what one payment can take", customer: 21,
			fill: []int{101, 10, 102, 10, 103, 10, 104, 10, 105, 10, 106, 10, 107, 10, 108, 10, 109, 10, 110, 10, 111, 10},
			code: bookshop.Conflict, msg: "your order comes to €1,090,000.00, more than one payment can take (€999,999.99)"},
		{name: "a total past what one payment can take that the cart cannot come to", customer: 22,
			fill:   []int{101, 10, 102, 10, 103, 10, 104, 10, 105, 10, 106, 10, 107, 10, 108, 10, 109, 10, 110, 10, 111, 10},
			change: func(p *bookshop.PlaceOrder) { p.Total = eur(math.MaxInt64) },
			code:   bookshop.Conflict, msg: "the total is now €1,090,000.00, not the €92,233,720,368,547,758.07 you confirmed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			s.fill(t, cartOf(tc.customer), tc.fill...)
			before := s.levels(t, 1, 2, 3)
			var total bookshop.Money
			if len(tc.fill) > 0 {
				q, err := c.client.Quote(ctx, tc.customer, cartOf(tc.customer))
				if err != nil {
					t.Fatal(err)
				}
				total = q.Total
			}
			req := order(tc.customer, fmt.Sprintf("k-refused-%d", tc.customer), total, paymentsclient.TestCardApproved)
			if tc.change != nil {
				tc.change(&req)
			}
			_, placeErr := c.client.Place(ctx, req)
			if bookshop.ErrorCode(placeErr) != tc.code || !strings.Contains(bookshop.ErrorMessage(placeErr), tc.msg) {
				t.Fatalf("Place = %v, want %s with %q", placeErr, tc.code, tc.msg)
			}
			count := 0
			for i := 1; i < len(tc.fill); i += 2 {
				count += tc.fill[i]
			}
			r, err := c.log.Get(ctx, tc.customer, req.Key)
			switch {
			case err != nil:
				t.Fatal(err)
			case (r != nil) != tc.recorded:
				t.Fatalf("the saga log's record: %+v, want one: %v", r, tc.recorded)
			case r != nil:
				checkInvariants(t, s, r, before, count)
				if r.State != saga.Failed || r.ErrCode != tc.code {
					t.Errorf("checkout is %s (%s), want failed with %s", r.State, r.ErrCode, tc.code)
				}
				// The same key again: the same answer, nothing done again;
				// also for another address or total: the key's checkout
				// ended, and its outcome stands.
				other := req
				other.Shipping.City, other.Total = "Paris", eur(other.Total.Units+1)
				for _, again := range []bookshop.PlaceOrder{req, other} {
					if _, err := c.client.Place(ctx, again); bookshop.ErrorMessage(err) != bookshop.ErrorMessage(placeErr) {
						t.Errorf("Place again (%s, %s) = %v, want %v", again.Shipping.City, again.Total, err, placeErr)
					}
				}
				checkInvariants(t, s, r, before, count)
			default:
				if n, _ := s.carts.Count(ctx, cartOf(tc.customer)); n != count {
					t.Errorf("the cart holds %d copies, want %d", n, count)
				}
			}
		})
	}
}

// TestKeyOfAPlacedOrder sends the key of a checkout that placed its
// order again: as it was (a reload), it answers the order; with another
// total, another address, or other books in the cart at the same total,
// it answers that the form placed that order, and places no other.
func TestKeyOfAPlacedOrder(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-2", 5, 2) // 2 × €7.00
	req := order(2, "k-reused", eur(1400), paymentsclient.TestCardApproved)
	o, err := c.client.Place(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.client.Place(ctx, req); err != nil || again.ID != o.ID {
		t.Errorf("Place(the same request again) = %+v, %v; want order %s", again, err, o.ID)
	}
	other := func(change func(*bookshop.PlaceOrder)) bookshop.PlaceOrder {
		p := req
		change(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		req  bookshop.PlaceOrder
		fill []int // added to the cart before
	}{
		{name: "another total", req: other(func(p *bookshop.PlaceOrder) { p.Total = eur(2198) })},
		{name: "another address", req: other(func(p *bookshop.PlaceOrder) { p.Shipping.City = "Paris" })},
		// The same form, the cart since filled with other books that cost
		// as much: €5.00 + €9.00.
		{name: "other books at the same total", req: req, fill: []int{4, 1, 3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.fill(t, "c-2", tc.fill...)
			_, err := c.client.Place(ctx, tc.req)
			if want := "this checkout form already placed order " + o.ID; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.Contains(bookshop.ErrorMessage(err), want) {
				t.Errorf("Place = %v, want a Conflict with %q", err, want)
			}
		})
	}
	if page, err := s.orderBook.List(ctx, 2, "", 10); err != nil || len(page.Orders) != 1 {
		t.Errorf("orders = %+v, %v; want one", page.Orders, err)
	}
}

// TestKeyUnderWay sends a checkout's key again with another address and
// then another total while the checkout is under way (charged, Orders
// down), as a shopper does who was told the outcome is not known and
// changed the form: each is answered from the checkout under way, never
// as another checkout, and once Orders is back the one order is placed,
// paid once.
func TestKeyUnderWay(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{CallTimeout: time.Second})
	s.fill(t, "c-12", 1, 1)
	before := s.levels(t, 1)
	s.orders.stop()
	req := order(12, "k-under-way", eur(1250), paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, req); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, Orders down = %v, want Unavailable", err)
	}
	moved := req
	moved.Shipping.City = "Paris"
	_, err := c.svc.Place(ctx, moved) // the Service's own message, which the client does not pass on
	if bookshop.ErrorCode(err) != bookshop.Unavailable || !strings.Contains(bookshop.ErrorMessage(err), "your payment went through") {
		t.Errorf("Place(another address), the checkout under way = %v, want Unavailable: being completed", err)
	}
	s.orders.start()
	more := req
	more.Total = eur(2500)
	var o bookshop.Order
	waitUntil(t, "the checkout to be placed", func() bool {
		o, err = c.client.Place(ctx, more)
		return err == nil
	})
	r := c.invariants(t, s, 12, req.Key, before, 1)
	if r.State != saga.Done || o.ID != r.Order.ID || o.Shipping.City != address.City || o.Total != eur(1250) {
		t.Errorf("Place(another total), Orders back = %+v; want the checkout's order %s, as first asked", o, r.Order.ID)
	}
}

// TestQuoteUnavailable checks that a quote whose Inventory cannot be
// reached says so, UNAVAILABLE, without a checkout's words of a charge;
// and that a client with Bookshop's settings (the Marketplace's, which
// retry UNAVAILABLE) asks once: the Checkout, which asked the Inventory
// through retries of its own, says not to retry its answer.
func TestQuoteUnavailable(t *testing.T) {
	s := startShop(t, shopOptions{})
	var calls rpctest.Calls
	c := startCheckoutWith(t, s, checkout.Options{CallTimeout: time.Second, Logger: slog.New(&calls)}, func(d *checkout.Deps) {
		d.Inventory = inventoryclient.New(dial(t, rpctest.ClosedAddr(t)), time.Second)
	})
	s.fill(t, "c-4", 1, 1)
	for _, client := range []*checkoutclient.Client{c.client, checkoutclient.New(dial(t, c.addr), 5*time.Second)} {
		_, err := client.Quote(testContext(t), 4, "c-4")
		if bookshop.ErrorCode(err) != bookshop.Unavailable || !strings.Contains(err.Error(), "the stock service cannot be reached right now: please try again in a moment") || strings.Contains(err.Error(), "charged") {
			t.Errorf("Quote with the Inventory down = %v, want Unavailable saying the stock service cannot be reached, and nothing of a charge", err)
		}
	}
	if n := calls.Of(checkoutv1.CheckoutService_GetQuote_FullMethodName); n != 2 {
		t.Errorf("the Checkout served %d quotes for 2 requests, want 2", n)
	}
}

// TestQuoteShort quotes a cart with more copies than the stock has: the
// line is short, with the copies left, and Place refuses it.
func TestQuoteShort(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-3", 5, 4, 1, 1)
	q, err := c.client.Quote(ctx, 3, "c-3")
	if err != nil {
		t.Fatal(err)
	}
	// Five books: one of the cheapest, "Three Left", is free.
	if want := []bookshop.SoldOut{{BookID: 5, Available: 3}}; !reflect.DeepEqual(q.Short, want) || q.Total != eur(3*700+1250) || q.Discount != eur(700) {
		t.Errorf("Quote = %+v, want short %+v, a discount of €7.00 and total €33.50", q, want)
	}
	if q, err := c.client.Quote(ctx, 3, "c-empty"); err != nil || len(q.Lines) != 0 || q.Total != (bookshop.Money{}) {
		t.Errorf("Quote(an empty cart) = %+v, %v; want no lines", q, err)
	}
	for _, tc := range []struct {
		customer int32
		cart     string
		msg      string
	}{
		{0, "c-3", "customer id 0"},
		{3, "", "cart id"},
		{3, "c 3", "cart id"},
	} {
		if _, err := c.client.Quote(ctx, tc.customer, tc.cart); bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tc.msg) {
			t.Errorf("Quote(%d, %q) = %v, want Invalid with %q", tc.customer, tc.cart, err, tc.msg)
		}
	}
}

// TestDoubleSubmit posts the same checkout ten times at once, as a double
// click and reloads do: one order, one charge, and every answer is that
// order.
func TestDoubleSubmit(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-4", 1, 1, 2, 2)
	before := s.levels(t, 1, 2)
	req := order(4, "k-double", eur(1250+1099), paymentsclient.TestCardApproved) // a copy of Dune free
	const n = 10
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		placed = make(map[string]int)
	)
	for range n {
		wg.Go(func() {
			o, err := c.client.Place(ctx, req)
			if err != nil {
				t.Errorf("Place: %v", err)
				return
			}
			mu.Lock()
			placed[o.ID]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(placed) != 1 {
		t.Errorf("10 identical Place = orders %v, want one order answered ten times", placed)
	}
	r := c.invariants(t, s, 4, "k-double", before, 3)
	t.Logf("10 identical requests at once: %d order(s), answered %v; charge key %s", len(placed), placed, r.PayKey())
}

// TestFormsOfOneCart sends checkouts of one customer's cart under many
// keys at once, as forms open in several tabs sent together: one order,
// one charge, and every other form is refused (another checkout is under
// way, or the cart is now empty or changed), nothing charged for it.
func TestFormsOfOneCart(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-6", 1, 1, 2, 1) // two books: no discount, which only one checkout could claim
	before := s.levels(t, 1, 2)
	total := eur(1250 + 1099)
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		placed  []string
		refused = make(map[string]int)
	)
	for i := range n {
		wg.Go(func() {
			_, err := c.client.Place(ctx, order(6, fmt.Sprintf("k-tab-%d", i), total, paymentsclient.TestCardApproved))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				placed = append(placed, fmt.Sprintf("k-tab-%d", i))
			case bookshop.ErrorCode(err) == bookshop.Conflict:
				refused[strings.SplitN(bookshop.ErrorMessage(err), ",", 2)[0]]++
			default:
				t.Errorf("Place %d: %v, want an order or Conflict", i, err)
			}
		})
	}
	wg.Wait()
	if len(placed) != 1 {
		t.Fatalf("%d forms of one cart sent at once placed %d orders (%v), want 1; refused %v", n, len(placed), placed, refused)
	}
	c.invariants(t, s, 6, placed[0], before, 2)
	for i := range n {
		key := fmt.Sprintf("k-tab-%d", i)
		r, err := c.log.Get(ctx, 6, key)
		if err != nil {
			t.Fatal(err)
		}
		if key == placed[0] || r == nil {
			continue
		}
		if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); bookshop.ErrorCode(err) != bookshop.NotFound {
			t.Errorf("form %s, refused, has charge %+v, %v; want none", key, ch, err)
		}
	}
	t.Logf("%d forms of one cart at once: 1 order; refused: %v", n, refused)
}

// TestCartBoughtWhilePriced has a checkout's cart bought by another
// checkout of the customer, another form, between its reading to price it
// and its record. With the saga log's mark (the SQLite log's), read
// before the cart, Begin refuses the checkout, nothing recorded or
// charged, and the cart is read once. With a log that keeps no marks
// (PostgreSQL's), the checkout reads the cart again once recorded, finds
// it changed, and fails, nothing charged; the other form's checkout runs
// on another Checkout, with a log of its own, so that the reading again
// alone keeps the cart from being bought twice. Either way, the other's
// order is the only one.
func TestCartBoughtWhilePriced(t *testing.T) {
	for _, tc := range []struct {
		name      string
		marks     bool
		reads     int32  // the readings of the cart by the checkout
		wantErr   string // the start of its message
		wantState saga.State
	}{
		{"mark", true, 1, "another checkout of this cart is under way, or has just placed its order", ""},
		{"reading again", false, 2, "your cart changed while it was checked out", saga.Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			s := startShop(t, shopOptions{})
			total := eur(1250 + 1099) // two books: no discount, which only one checkout could claim
			var (
				once  sync.Once
				reads atomic.Int32
				other *checkoutUnderTest
				first bookshop.Order
				err   error
			)
			c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
				d.Carts = cartsReadHook{Carts: d.Carts, after: func() {
					reads.Add(1)
					once.Do(func() {
						first, err = other.client.Place(ctx, order(7, "k-other-tab", total, paymentsclient.TestCardApproved))
					})
				}}
				if !tc.marks {
					d.Store = noMarks{d.Store}
				}
			})
			other = startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
				if tc.marks {
					d.Store = c.log // the one log a Checkout's replicas share
				}
			})
			s.fill(t, "c-7", 1, 1, 2, 1)
			before := s.levels(t, 1, 2)
			_, late := c.client.Place(ctx, order(7, "k-this-tab", total, paymentsclient.TestCardApproved))
			if err != nil {
				t.Fatalf("the other form's checkout: %v", err)
			}
			if bookshop.ErrorCode(late) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(late), tc.wantErr) {
				t.Fatalf("the checkout whose cart was bought meanwhile = %v, want Conflict: %s", late, tc.wantErr)
			}
			if n := reads.Load(); n != tc.reads {
				t.Errorf("the checkout read the cart %d times, want %d", n, tc.reads)
			}
			r, err := c.log.Get(ctx, 7, "k-this-tab")
			switch {
			case err != nil:
				t.Fatal(err)
			case tc.wantState == "" && r != nil:
				t.Errorf("its record is %+v, want none: Begin refused it", r)
			case tc.wantState != "" && (r == nil || r.State != tc.wantState):
				t.Fatalf("its record is %+v, want one, %s", r, tc.wantState)
			}
			if r != nil {
				if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); bookshop.ErrorCode(err) != bookshop.NotFound {
					t.Errorf("its charge is %+v, %v; want none", ch, err)
				}
			}
			if n, err := s.carts.Count(ctx, "c-7"); n != 0 || err != nil {
				t.Errorf("the cart holds %d copies, %v; want none: the other form bought them", n, err)
			}
			page, err := s.orderBook.List(ctx, 7, "", 10)
			if err != nil || len(page.Orders) != 1 || page.Orders[0].ID != first.ID {
				t.Errorf("orders of the customer = %+v, %v; want the other form's %s alone", page.Orders, err, first.ID)
			}
			if l := s.levels(t, 1, 2); l[1].OnHand != before[1].OnHand-1 || l[2].OnHand != before[2].OnHand-1 {
				t.Errorf("stock after = %+v, want what one order took from %+v", l, before)
			}
		})
	}
}

// noMarks is a saga log that keeps no marks, as package postgres's: a
// checkout reads its cart again once it has begun.
type noMarks struct{ checkout.Store }

func (noMarks) PlacedMark(context.Context) (saga.Mark, error) { return saga.NoMark, nil }

// TestCartUnreadWhenRechecked has the Cart fail the second reading of a
// checkout's cart, once the checkout is recorded in a log that keeps no
// marks (see TestCartBoughtWhilePriced): the checkout ends, not placed,
// with nothing held or charged, and the same form sent again places the
// order.
func TestCartUnreadWhenRechecked(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	var reads atomic.Int32
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		d.Carts = failingRead{Carts: d.Carts, fail: func() bool { return reads.Add(1) == 2 }}
		d.Store = noMarks{d.Store}
	})
	s.fill(t, "c-9", 1, 1, 2, 1)
	before := s.levels(t, 1, 2)
	req := order(9, "k-unread", eur(1250+1099), paymentsclient.TestCardApproved)
	_, err := c.client.Place(ctx, req)
	if bookshop.ErrorCode(err) != bookshop.Unavailable || !checkoutclient.NotPlaced(err) {
		t.Fatalf("Place, the cart unread once recorded = %v, want UNAVAILABLE, not placed", err)
	}
	r := mustRecord(t, c, 9, "k-unread")
	if !r.Retryable() {
		t.Errorf("its record is %s (%s %q), want failed with Unavailable: the key tries again", r.State, r.ErrCode, r.ErrMessage)
	}
	if l := s.levels(t, 1, 2); !reflect.DeepEqual(l, before) {
		t.Errorf("stock after = %+v, want %+v: nothing held", l, before)
	}
	if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("its charge = %+v, %v; want none", ch, err)
	}
	if _, err := c.client.Place(ctx, req); err != nil {
		t.Fatalf("the same form again = %v, want the order", err)
	}
	c.invariants(t, s, 9, "k-unread", before, 2)
}

// failingRead is a checkout.Carts whose reading of a cart's lines fails
// with Unavailable when fail reports true.
type failingRead struct {
	checkout.Carts
	fail func() bool
}

func (f failingRead) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	if f.fail() {
		return nil, bookshop.Errorf(bookshop.Unavailable, "the cart service is down (a test)")
	}
	return f.Carts.Lines(ctx, id)
}

// cartsReadHook is a checkout.Carts that calls after once a reading of a
// cart's lines has returned, before its caller goes on.
type cartsReadHook struct {
	checkout.Carts
	after func()
}

func (h cartsReadHook) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	lines, err := h.Carts.Lines(ctx, id)
	h.after()
	return lines, err
}

// TestLinesConfirmed has a shopper confirm a cart's quote, and the cart
// change in another tab to other books at the same total: the form, which
// carries the quote's lines digest, is refused, nothing charged; the new
// quote's digest places the order of the books it shows.
func TestLinesConfirmed(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{promotion: noDiscount})
	c := startCheckout(t, s, checkout.Options{})
	for _, id := range []int32{4, 5} {
		if err := s.stock.SetStock(ctx, id, 100); err != nil {
			t.Fatal(err)
		}
	}
	s.fill(t, "c-8", 5, 5) // 5 × €7.00
	seen, err := c.client.Quote(ctx, 8, "c-8")
	if err != nil || seen.Total != eur(3500) || !bookshop.ValidLinesDigest(seen.LinesDigest) {
		t.Fatalf("Quote = %+v, %v; want €35.00 with a lines digest", seen, err)
	}
	// Another tab: the same total, in other books.
	if _, err := s.carts.RemoveLines(ctx, "c-8", []bookshop.StockLine{{BookID: 5, Quantity: 5}}, "k-other-tab"); err != nil {
		t.Fatal(err)
	}
	s.fill(t, "c-8", 4, 7) // 7 × €5.00
	before := s.levels(t, 4, 5)
	req := order(8, "k-seen", seen.Total, paymentsclient.TestCardApproved)
	req.LinesDigest = seen.LinesDigest
	_, err = c.client.Place(ctx, req)
	if bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), "your cart changed since you confirmed it") {
		t.Fatalf("Place(the lines seen, the cart's others at the same total) = %v, want Conflict: the cart changed", err)
	}
	if r, err := c.log.Get(ctx, 8, "k-seen"); r != nil || err != nil {
		t.Errorf("the refused checkout has a record %+v, %v; want none: nothing was done", r, err)
	}
	if l := s.levels(t, 4, 5); !reflect.DeepEqual(l, before) {
		t.Errorf("stock after the refusal = %+v, want %+v", l, before)
	}
	now, err := c.client.Quote(ctx, 8, "c-8")
	if err != nil || now.Total != seen.Total || now.LinesDigest == seen.LinesDigest {
		t.Fatalf("Quote again = %+v, %v; want the same total, another digest", now, err)
	}
	req = order(8, "k-now", now.Total, paymentsclient.TestCardApproved)
	req.LinesDigest = now.LinesDigest
	o, err := c.client.Place(ctx, req)
	if err != nil || len(o.Lines) != 1 || o.Lines[0].BookID != 4 || o.Lines[0].Quantity != 7 {
		t.Fatalf("Place(the lines now) = %+v, %v; want the order of 7 copies of book 4", o, err)
	}
	if ch, err := s.charges.ChargeByKey(ctx, mustRecord(t, c, 8, "k-now").PayKey()); err != nil || ch.Amount != now.Total || ch.ID != o.PaymentID {
		t.Errorf("the order's charge = %+v, %v; want %s, paying order %s", ch, err, now.Total, o.ID)
	}
	if l := s.levels(t, 4, 5); l[4].OnHand != before[4].OnHand-7 || l[5] != before[5] {
		t.Errorf("stock after the order = %+v, want 7 copies of book 4 fewer than %+v", l, before)
	}
}

// mustRecord returns the saga log's record of customer's key, failing
// the test when there is none.
func mustRecord(tb testing.TB, c *checkoutUnderTest, customer int32, key string) *saga.Record {
	tb.Helper()
	r, err := c.log.Get(testContext(tb), customer, key)
	if err != nil || r == nil {
		tb.Fatalf("the saga log's record of %d/%s: %+v, %v", customer, key, r, err)
	}
	return r
}

// noDiscount is a campaign that gives no discount: the quotes of a test
// that wants totals of the lines alone.
var noDiscount = promotions.Promotion{
	Code: "NONE", Name: "No offer", Banner: "No offer today.", MinBooks: 1000,
	Rule: func([]bookshop.PromoLine) (bookshop.Discount, bool) { return bookshop.Discount{}, false },
}

// TestLastCopies has many customers check out the last copies of a book
// at once: exactly as many orders and charges as copies, the others told
// it sold out, charged nothing, their carts kept; the stock at 0 and
// nothing held.
func TestLastCopies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		book    int32
		buyers  int
		copies  int
		startID int32
	}{
		{"1 copy, 50 buyers", 4, 50, 1, 100},
		{"3 copies, 20 buyers", 5, 20, 3, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			s := startShop(t, shopOptions{})
			c := startCheckout(t, s, checkout.Options{})
			price := books[tc.book-1].Price
			for i := range tc.buyers {
				s.fill(t, cartOf(tc.startID+int32(i)), int(tc.book), 1)
			}
			var (
				wg              sync.WaitGroup
				mu              sync.Mutex
				orders, soldOut int
				others          []error
			)
			start := time.Now()
			for i := range tc.buyers {
				customer := tc.startID + int32(i)
				wg.Go(func() {
					_, err := c.client.Place(ctx, order(customer, "k-last", price, paymentsclient.TestCardApproved))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						orders++
					case bookshop.ErrorCode(err) == bookshop.Conflict && strings.HasPrefix(bookshop.ErrorMessage(err), "sold out: "):
						soldOut++
					default:
						others = append(others, err)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			if orders != tc.copies || soldOut != tc.buyers-tc.copies || len(others) > 0 {
				t.Errorf("%d buyers of %d copies: %d orders, %d sold out, others %v; want %d orders, %d sold out", tc.buyers, tc.copies, orders, soldOut, others, tc.copies, tc.buyers-tc.copies)
			}
			if l := s.levels(t, tc.book)[tc.book]; l.OnHand != 0 || l.Held != 0 || l.Available != 0 {
				t.Errorf("stock after = %+v, want 0 on hand, 0 held", l)
			}
			// Each buyer has an order, paid by an approved charge, and an
			// empty cart; or none, no charge made, and their cart as it was.
			total, charged := 0, 0
			for i := range tc.buyers {
				customer := tc.startID + int32(i)
				page, err := s.orderBook.List(ctx, customer, "", 10)
				if err != nil {
					t.Fatal(err)
				}
				total += len(page.Orders)
				r, err := c.log.Get(ctx, customer, "k-last")
				if err != nil || r == nil {
					t.Fatalf("the saga log has no record of customer %d's checkout: %v", customer, err)
				}
				charge, err := s.charges.ChargeByKey(ctx, r.PayKey())
				switch {
				case err == nil && charge.State == paymentsclient.StateApproved:
					charged++
				case bookshop.ErrorCode(err) != bookshop.NotFound:
					t.Errorf("customer %d's charge = %+v, %v; want an approved one or none", customer, charge, err)
				}
				n, err := s.carts.Count(ctx, cartOf(customer))
				if err != nil {
					t.Fatal(err)
				}
				if want := 1 - len(page.Orders); n != want {
					t.Errorf("customer %d, with %d orders, has %d copies in their cart, want %d", customer, len(page.Orders), n, want)
				}
			}
			if total != tc.copies || charged != tc.copies {
				t.Errorf("Orders has %d orders, Payments %d approved charges; want %d of each", total, charged, tc.copies)
			}
			t.Logf("%d buyers of %d copies at once: %d orders, %d sold out, in %v", tc.buyers, tc.copies, orders, soldOut, elapsed.Round(time.Millisecond))
		})
	}
}

// restorable is the Catalog of a Checkout whose catalog is restored, under
// the same ids, at a moment of the test's choosing: the books of before
// until then, those of after from then on.
type restorable struct {
	before, after checkout.Catalog
	restored      atomic.Bool
}

func (c *restorable) Books(ctx context.Context, ids []int32) ([]bookshop.Book, error) {
	if c.restored.Load() {
		return c.after.Books(ctx, ids)
	}
	return c.before.Books(ctx, ids)
}

// TestPriceChangedSinceQuote has a book's price change between the quote
// a shopper confirmed and their order (the catalog restored, under the
// same ids, with Dune 2 euros dearer): the order is refused, nothing held
// or charged, with the total the cart comes to now; the shopper confirms
// that one, and the order is placed and charged at it.
func TestPriceChangedSinceQuote(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	restored := slices.Clone(books)
	restored[1].Price = eur(1299) // Dune, 10.99 before
	after := serveCatalog(t, restored)
	catalogs := &restorable{after: catalogclient.New(dial(t, after.addr), 5*time.Second)}
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		catalogs.before = d.Catalog
		d.Catalog = catalogs
	})
	s.fill(t, "c-9", 2, 1)
	before := s.levels(t, 2)
	q, err := c.client.Quote(ctx, 9, "c-9")
	if err != nil || q.Total != eur(1099) {
		t.Fatalf("Quote = %+v, %v; want a total of 10.99", q, err)
	}

	catalogs.restored.Store(true)
	req := order(9, "k-price", q.Total, paymentsclient.TestCardApproved)
	_, err = c.client.Place(ctx, req)
	want := "the total is now €12.99, not the €10.99 you confirmed: a price or your cart changed"
	if bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), want) {
		t.Fatalf("Place at the old total = %v; want a Conflict beginning %q", err, want)
	}
	if r, err := c.log.Get(ctx, 9, req.Key); r != nil || err != nil {
		t.Errorf("the saga log has %+v, %v for the refused order; want nothing recorded: nothing held, nothing charged", r, err)
	}
	if l := s.levels(t, 2)[2]; l != before[2] {
		t.Errorf("stock after the refusal = %+v, want %+v", l, before[2])
	}

	// The shopper sees the new total, and confirms it, with the same form.
	if q, err = c.client.Quote(ctx, 9, "c-9"); err != nil || q.Total != eur(1299) {
		t.Fatalf("Quote, the catalog restored = %+v, %v; want a total of 12.99", q, err)
	}
	req.Total = q.Total
	o, err := c.client.Place(ctx, req)
	if err != nil || o.Total != eur(1299) {
		t.Fatalf("Place at the new total = %+v, %v; want an order of 12.99", o, err)
	}
	c.invariants(t, s, 9, req.Key, before, 1)
}

// TestPaymentsUnavailable charges the test card that the processor cannot
// take: the shopper is told at once that nothing was charged, the hold is
// released, and the same form sent again (the same key) with another
// card and another address places the order, as sent.
func TestPaymentsUnavailable(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-5", 2, 1)
	before := s.levels(t, 2)
	req := order(5, "k-unavailable", eur(1099), paymentsclient.TestCardUnavailable)
	start := time.Now()
	_, err := c.client.Place(ctx, req)
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place(the unavailable card) = %v, want Unavailable", err)
	}
	// Known not placed, and said so, across the wire: the Marketplace
	// tells the shopper nothing was charged, not that the outcome is not
	// known.
	if !checkoutclient.NotPlaced(err) || !strings.Contains(bookshop.ErrorMessage(err), "nothing was charged") {
		t.Errorf("Place(the unavailable card) = %v (reason %q, message %q), want it known not placed, saying nothing was charged",
			err, bookshop.ErrorReason(err), bookshop.ErrorMessage(err))
	}
	elapsed := time.Since(start)
	t.Logf("the processor unavailable: answered in %v", elapsed.Round(time.Millisecond))
	if elapsed > 3*time.Second {
		t.Errorf("Place(the unavailable card) answered in %v, want within 3 s: Payments answers at once that the processor cannot be reached", elapsed)
	}
	r := c.invariants(t, s, 5, req.Key, before, 1)
	if r.State != saga.Failed || !strings.Contains(r.ErrMessage, "nothing was charged") {
		t.Errorf("checkout is %s (%q), want failed: nothing was charged", r.State, r.ErrMessage)
	}
	// Nothing was charged: the key may try again, as the request it now
	// is (another card, and another address).
	req.Card = card(paymentsclient.TestCardApproved)
	req.Shipping.City = "Paris"
	o, err := c.client.Place(ctx, req)
	if err != nil {
		t.Fatalf("Place again, with another card and address: %v", err)
	}
	if r2 := c.invariants(t, s, 5, req.Key, before, 1); r2.ID == r.ID || r2.Order.ID != o.ID || o.Shipping.City != "Paris" {
		t.Errorf("the second try is checkout %s (order %s to %s), want a new one, of order %s, to Paris", r2.ID, r2.Order.ID, o.Shipping.City, o.ID)
	}
	// The first try's charge key is cancelled: it can never charge.
	if _, err := s.charges.Charge(ctx, r.PayKey(), eur(1099), card(paymentsclient.TestCardApproved)); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Errorf("Charge with the first try's key = %v, want it refused", err)
	}
}

// TestNotPlacedNotRetried checks out with the card whose processor
// cannot be reached, through a client with Bookshop's settings (the
// Marketplace's), which retries UNAVAILABLE: the Checkout serves the
// request once, as its answer ("not placed") says not to retry it, and
// Payments is asked three times, by the Checkout's own client, the one
// layer of retries, nearest the failure. Before, the Marketplace's client
// made three checkouts of the request, of three charges each.
func TestNotPlacedNotRetried(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	var calls rpctest.Calls
	c := startCheckout(t, s, checkout.Options{Logger: slog.New(&calls)})
	s.fill(t, "c-5", 2, 1)
	before := s.levels(t, 2)
	client := checkoutclient.New(dial(t, c.addr), 30*time.Second)
	_, err := client.Place(ctx, order(5, "k-not-retried", eur(1099), paymentsclient.TestCardUnavailable))
	if !checkoutclient.NotPlaced(err) {
		t.Fatalf("Place(the unavailable card) = %v, want it not placed", err)
	}
	if n := calls.Of(checkoutv1.CheckoutService_PlaceOrder_FullMethodName); n != 1 {
		t.Errorf("the Checkout served the request %d times, want once", n)
	}
	if n := s.paymentsCalls.Of(paymentsv1.PaymentsService_Charge_FullMethodName); n != 3 {
		t.Errorf("Payments served %d charges for one request, want 3: one attempt and the Checkout's two retries", n)
	}
	if r := c.invariants(t, s, 5, "k-not-retried", before, 1); r.State != saga.Failed {
		t.Errorf("checkout is %s, want failed", r.State)
	}
}

// TestPaymentsSlow has a processor slower than the Checkout waits for: the
// shopper gets an answer within the call's deadline and a little more,
// nothing is charged (the charge's key cancelled, so that the slow charge
// takes nothing), and the hold is released.
func TestPaymentsSlow(t *testing.T) {
	ctx := testContext(t)
	// A call timeout of a second, for every call of the Checkout (which
	// a loaded machine may take some hundred milliseconds to answer);
	// the processor takes 5 s.
	s := startShop(t, shopOptions{paymentsLatency: 5 * time.Second})
	c := startCheckout(t, s, checkout.Options{CallTimeout: time.Second})
	s.fill(t, "c-6", 1, 1)
	before := s.levels(t, 1)
	start := time.Now()
	_, err := c.client.Place(ctx, order(6, "k-slow", eur(1250), paymentsclient.TestCardApproved))
	elapsed := time.Since(start)
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Place, Payments slow = %v, want Unavailable", err)
	}
	if elapsed > 3500*time.Millisecond {
		t.Errorf("Place, Payments slow, answered in %v, want within 3.5 s, well before the charge's 5 s", elapsed)
	}
	t.Logf("Payments slower (5s) than the call timeout (1s): answered in %v", elapsed.Round(time.Millisecond))
	time.Sleep(time.Until(start.Add(6 * time.Second))) // the slow charge has had its time
	if r := c.invariants(t, s, 6, "k-slow", before, 1); !strings.Contains(r.ErrMessage, "nothing was charged") {
		t.Errorf("checkout failed with %q, want: nothing was charged", r.ErrMessage)
	}
}

// TestPaymentsDown checks out while Payments is down: the shopper is told
// the outcome is not known yet; the checkout waits, recorded, its stock
// held; once Payments is back, the recoverer undoes it (nothing was
// charged), and the same form sent again places the order.
func TestPaymentsDown(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{CallTimeout: time.Second})
	s.fill(t, "c-7", 3, 1)
	before := s.levels(t, 3)
	s.payments.stop()
	req := order(7, "k-down", eur(900), paymentsclient.TestCardApproved)
	start := time.Now()
	_, err := c.client.Place(ctx, req)
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, Payments down = %v, want Unavailable", err)
	}
	elapsed := time.Since(start)
	t.Logf("Payments down: answered %q in %v", bookshop.ErrorMessage(err), elapsed.Round(time.Millisecond))
	if elapsed > 3500*time.Millisecond {
		t.Errorf("Place, Payments down, answered in %v, want within 3.5 s: a Payments stopped is refused at once, and the call's deadline is 1 s", elapsed)
	}
	if r, _ := c.log.Get(ctx, 7, req.Key); r == nil || r.State.Ended() {
		t.Fatalf("checkout = %+v, want it unfinished, for the recoverer", r)
	}
	if n, err := c.svc.Recover(ctx); n != 1 || err != nil {
		t.Errorf("Recover, Payments still down = %d, %v; want 1 taken up (and stalled)", n, err)
	}
	if r, _ := c.log.Get(ctx, 7, req.Key); r == nil || r.State != saga.Reserving {
		t.Fatalf("checkout = %+v, want it still waiting for Payments", r)
	}
	s.payments.start()
	c.recoverUntilEnded(t, 7, req.Key)
	if r := c.invariants(t, s, 7, req.Key, before, 1); r.State != saga.Failed {
		t.Errorf("checkout is %s, want failed: undone", r.State)
	}
	if _, err := c.client.Place(ctx, req); err != nil {
		t.Fatalf("Place again, Payments back: %v", err)
	}
	c.invariants(t, s, 7, req.Key, before, 1)
}

// TestOrdersDown checks out while Orders is down: the card is charged and
// the stock taken (recorded: committed), the shopper told the order is
// being completed; once Orders is back, the recoverer records the order
// and empties the cart.
func TestOrdersDown(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{CallTimeout: time.Second})
	s.fill(t, "c-8", 1, 1)
	before := s.levels(t, 1)
	s.orders.stop()
	req := order(8, "k-orders-down", eur(1250), paymentsclient.TestCardApproved)
	_, err := c.client.Place(ctx, req)
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, Orders down = %v, want Unavailable", err)
	}
	if r, _ := c.log.Get(ctx, 8, req.Key); r == nil || r.State != saga.Committed {
		t.Fatalf("checkout = %+v, want it committed, waiting for Orders", r)
	}
	s.orders.start()
	c.recoverUntilEnded(t, 8, req.Key)
	if r := c.invariants(t, s, 8, req.Key, before, 1); r.State != saga.Done {
		t.Errorf("checkout is %s, want done", r.State)
	}
	o, err := c.client.Place(ctx, req)
	if err != nil || o.PaymentID == "" {
		t.Errorf("Place again = %+v, %v; want the order", o, err)
	}
}

// TestCartDown places an order while the Cart cannot take its lines out
// (it goes down while the card is charged): the order is placed all the
// same, and the lines are taken out once the Cart is back.
func TestCartDown(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{paymentsLatency: time.Second})
	c := startCheckout(t, s, checkout.Options{CallTimeout: 3 * time.Second})
	s.fill(t, "c-9", 2, 2)
	before := s.levels(t, 2)
	go func() {
		time.Sleep(300 * time.Millisecond) // the cart read, the card being charged
		s.cart.stop()
	}()
	o, err := c.client.Place(ctx, order(9, "k-cart-down", eur(2198), paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatalf("Place, the Cart down after it was read = %v, want the order", err)
	}
	if r, _ := c.log.Get(ctx, 9, "k-cart-down"); r == nil || r.State != saga.Ordered || r.Order.ID != o.ID {
		t.Fatalf("checkout = %+v, want it ordered, its lines still in the cart", r)
	}
	s.cart.start()
	c.recoverUntilEnded(t, 9, "k-cart-down")
	if r := c.invariants(t, s, 9, "k-cart-down", before, 2); r.State != saga.Done {
		t.Errorf("checkout is %s, want done", r.State)
	}
}

// TestHoldEndsBeforePayment has the hold expire while the card is charged
// (the processor slower than the hold): the stock cannot be taken, so the
// charge is refunded and no order recorded.
func TestHoldEndsBeforePayment(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{paymentsLatency: 1500 * time.Millisecond})
	c := startCheckout(t, s, checkout.Options{HoldTTL: time.Second, CallTimeout: 5 * time.Second})
	s.fill(t, "c-10", 1, 1)
	before := s.levels(t, 1)
	_, err := c.client.Place(ctx, order(10, "k-expired", eur(1250), paymentsclient.TestCardApproved))
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, the hold expired = %v, want Unavailable", err)
	}
	r := c.invariants(t, s, 10, "k-expired", before, 1)
	if !strings.Contains(r.ErrMessage, "your payment was refunded") {
		t.Errorf("checkout failed with %q, want: refunded", r.ErrMessage)
	}
	if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); err != nil || ch.State != paymentsclient.StateRefunded {
		t.Errorf("the charge = %+v, %v; want it refunded", ch, err)
	}
}

// TestPlaceOutlivesItsCaller gives up on a checkout before it ends: the
// caller is told the outcome is not known, the checkout ends all the
// same, and the same request then gets the order.
func TestPlaceOutlivesItsCaller(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{paymentsLatency: time.Second})
	c := startCheckout(t, s, checkout.Options{})
	s.fill(t, "c-11", 2, 1)
	before := s.levels(t, 2)
	req := order(11, "k-impatient", eur(1099), paymentsclient.TestCardApproved)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.client.Place(short, req); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("Place, given up on = %v, want Unavailable", err)
	}
	o, err := c.client.Place(ctx, req) // waits for the checkout running
	if err != nil {
		t.Fatalf("Place again: %v", err)
	}
	if r := c.invariants(t, s, 11, req.Key, before, 1); r.Order.ID != o.ID {
		t.Errorf("Place again = order %s, want %s", o.ID, r.Order.ID)
	}
}

// TestNoCardDataKept places orders with cards of every kind (approved,
// declined, refused, unavailable) and then reads the Checkout's log and
// every file of its saga log, write-ahead log included: no card number is
// in them, in any form, and no field of a card.
func TestNoCardDataKept(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	var logs syncBuffer
	c := startCheckout(t, s, checkout.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	numbers := []string{paymentsclient.TestCardApproved, paymentsclient.TestCardDeclined, paymentsclient.TestCardUnavailable, "4242 4242 4242 4241", "5555 5555 5555 4444"}
	for i, number := range numbers {
		customer := int32(300 + i)
		s.fill(t, cartOf(customer), 1, 1)
		_, _ = c.client.Place(ctx, order(customer, "k-card", eur(1250), number))
	}
	// A card that has expired, refused by Payments after the checkout is
	// recorded: its refusal is logged and kept, its expiry is not.
	expired := order(299, "k-card", eur(1250), paymentsclient.TestCardApproved)
	expired.Card.ExpMonth, expired.Card.ExpYear = 3, 2024
	s.fill(t, cartOf(299), 1, 1)
	if _, err := c.client.Place(ctx, expired); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Place with a card that expired in 03/2024 = %v, want Invalid", err)
	}
	c.svc.Wait(ctx)
	files, err := filepath.Glob(c.path + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("the saga log's files: %v, %v", files, err)
	}
	kept := map[string]string{"the log": logs.String()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kept[f] = string(b)
	}
	for where, text := range kept {
		for _, number := range numbers {
			for _, form := range []string{number, strings.ReplaceAll(number, " ", "")} {
				if strings.Contains(text, form) {
					t.Errorf("%s holds the card number %s", where, form)
				}
			}
		}
		// A field as a dump of the card would name it: "CVC" alone is in
		// a request id of the log now and then (26 random capitals and
		// digits).
		for _, field := range []string{"CVC:", "CVC=", "\"CVC\"", "cvc=", "\"cvc\"", "ExpMonth", "\"Card\"", "03/2024", "3/2024"} {
			if strings.Contains(text, field) {
				t.Errorf("%s holds a card's field %s", where, field)
			}
		}
	}
	if !strings.Contains(logs.String(), "the card has expired") {
		t.Errorf("the log shows no card refused as expired; was the checkout recorded before the charge?\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "order placed") {
		t.Errorf("the log shows no order placed; is it the Checkout's?\n%s", logs.String())
	}
}

// TestBusy sends a checkout's key again while the only slot is taken by
// the key's first request, still charging: the second is told to send the
// same order again to learn the outcome, and not that nothing was
// charged, which it cannot know; sent again, it gets the one order.
func TestBusy(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{paymentsLatency: time.Second})
	c := startCheckout(t, s, checkout.Options{MaxCheckouts: 1})
	s.fill(t, "c-13", 2, 1)
	before := s.levels(t, 2)
	req := order(13, "k-busy", eur(1099), paymentsclient.TestCardApproved)
	first := make(chan error, 1)
	go func() {
		_, err := c.svc.Place(ctx, req)
		first <- err
	}()
	waitUntil(t, "the first request to be charging", func() bool {
		r, err := c.log.Get(ctx, 13, req.Key)
		return err == nil && r != nil
	})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := c.svc.Place(short, req)
	if msg := bookshop.ErrorMessage(err); bookshop.ErrorCode(err) != bookshop.Unavailable ||
		strings.Contains(msg, "nothing was charged") || !strings.Contains(msg, "send the same order again") {
		t.Errorf("Place, the slot taken by the key's first request = %v; want Unavailable, to send the same order again, not that nothing was charged", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first Place: %v", err)
	}
	o, err := c.client.Place(ctx, req)
	if r := c.invariants(t, s, 13, req.Key, before, 1); err != nil || o.ID != r.Order.ID {
		t.Errorf("Place again = %+v, %v; want order %s", o, err, r.Order.ID)
	}
}
