package checkout_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionstest"
	promotionssqlite "github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

// The carts of the promotion's tests: two copies of The Maltese Falcon
// (€12.50) and one of Dune (€10.99), €35.99 in all; the promotion makes
// the Dune free, €25.00.
var (
	fullPrice  = eur(2*1250 + 1099)
	discounted = eur(2 * 1250)
)

// The messages of a checkout whose shopper confirmed the discounted
// total, €25.00, and whose claim was refused: another checkout of the
// customer holds the use, or has spent it.
const (
	refusedHeld = "the total is now €35.99, not the €25.00 you confirmed. The offer was not applied: another checkout of yours, still in progress, is using it. Check the new total and confirm it."
	refusedUsed = "the total is now €35.99, not the €25.00 you confirmed. The offer was not applied: you have already used it. Check the new total and confirm it."
)

// noStock is for invariants whose stock is checked otherwise: two
// checkouts changed it.
var noStock = map[int32]inventoryclient.Level{}

// fillThree fills cart id with the three books of the promotion's tests.
func (s *shop) fillThree(tb testing.TB, id string) { s.fill(tb, id, 1, 2, 2, 1) }

// placeIn returns what customer confirms at checkout for cart: total, with
// key and the approved card.
func placeIn(customer int32, cart, key string, total bookshop.Money) bookshop.PlaceOrder {
	req := order(customer, key, total, paymentsclient.TestCardApproved)
	req.CartID = cart
	return req
}

// TestPromotionOncePerCustomer has one customer check out 20 carts of
// three books at once, each shopper confirming the discounted total that
// their quote showed: exactly one order gets the discount, and the other
// shoppers are told the new total, nothing charged. Each then confirms
// the new total, and is charged it: every order is paid by one charge of
// its total, the total that its shopper confirmed, and one alone has the
// discount.
func TestPromotionOncePerCustomer(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	for _, id := range []int32{1, 2} {
		if err := s.stock.SetStock(ctx, id, 100); err != nil {
			t.Fatal(err)
		}
	}
	const (
		customer = 60
		n        = 20
	)
	carts := make([]string, n)
	for i := range carts {
		carts[i] = fmt.Sprintf("c-%d-%d", customer, i)
		s.fillThree(t, carts[i])
		q, err := c.client.Quote(ctx, customer, carts[i])
		if err != nil || q.Total != discounted || q.Discount != eur(1099) {
			t.Fatalf("Quote(%s) = %+v, %v; want €25.00, Dune free", carts[i], q, err)
		}
	}
	before := s.levels(t, 1, 2)

	// Round 1: all at once, each confirming the discounted total.
	type outcome struct {
		order bookshop.Order
		err   error
	}
	outcomes := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			o, err := c.client.Place(ctx, placeIn(customer, carts[i], fmt.Sprintf("k-once-%d", i), discounted))
			outcomes[i] = outcome{o, err}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d checkouts of one customer at once: %v", n, time.Since(began).Round(time.Millisecond))
	var winners []int
	for i, oc := range outcomes {
		r, err := c.log.Get(ctx, customer, fmt.Sprintf("k-once-%d", i))
		if err != nil || r == nil {
			t.Fatalf("the saga log's record of checkout %d: %+v, %v", i, r, err)
		}
		switch {
		case oc.err == nil:
			winners = append(winners, i)
			if oc.order.Total != discounted || oc.order.Discount != eur(1099) || !reflect.DeepEqual(oc.order.Promotions, []string{promotionsclient.BuyTwoGetOneFreeCode}) {
				t.Errorf("checkout %d placed %+v, want the discounted order", i, oc.order)
			}
		case bookshop.ErrorCode(oc.err) == bookshop.Conflict && (bookshop.ErrorMessage(oc.err) == refusedHeld || bookshop.ErrorMessage(oc.err) == refusedUsed):
			// Nothing charged, nothing held, and nothing claimed.
			if _, err := s.charges.ChargeByKey(ctx, r.PayKey()); bookshop.ErrorCode(err) != bookshop.NotFound {
				t.Errorf("checkout %d, refused, has a charge: %v", i, err)
			}
			if r.State != saga.Failed || r.Claim != saga.Refused {
				t.Errorf("checkout %d, refused, is %s, its claim %q; want failed, refused", i, r.State, r.Claim)
			}
		default:
			t.Errorf("checkout %d: Place = %v; want the order, or told the total is now €35.99", i, oc.err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d checkouts placed their order with the discount (%v), want exactly 1", len(winners), winners)
	}

	// Round 2: each refused shopper is shown the new total, confirms it,
	// and is charged it.
	for i := range n {
		if i == winners[0] {
			continue
		}
		q, err := c.client.Quote(ctx, customer, carts[i])
		if err != nil || q.Total != fullPrice || q.Discount != eur(0) {
			t.Fatalf("Quote(%s), the promotion used = %+v, %v; want €35.99, no discount", carts[i], q, err)
		}
		o, err := c.client.Place(ctx, placeIn(customer, carts[i], fmt.Sprintf("k-again-%d", i), q.Total))
		if err != nil || o.Total != fullPrice || o.Discount != eur(0) || o.Promotions != nil {
			t.Errorf("Place(%s) at the new total = %+v, %v; want the order at €35.99, no promotion", carts[i], o, err)
		}
	}

	// Every order: paid by the one charge of its checkout, of its total,
	// the total its shopper confirmed; one alone with the discount.
	page, err := s.orderBook.List(ctx, customer, "", 50)
	if err != nil || len(page.Orders) != n {
		t.Fatalf("the customer's orders: %d, %v; want %d", len(page.Orders), err, n)
	}
	byID := make(map[string]bookshop.Order, n)
	withDiscount := 0
	for _, o := range page.Orders {
		byID[o.ID] = o
		if o.Discount.Units > 0 {
			withDiscount++
		}
	}
	for i := range n {
		key := fmt.Sprintf("k-again-%d", i)
		if i == winners[0] {
			key = fmt.Sprintf("k-once-%d", i)
		}
		r, err := c.log.Get(ctx, customer, key)
		if err != nil || r == nil || r.State != saga.Done {
			t.Fatalf("checkout %s: %+v, %v; want done", key, r, err)
		}
		o, ok := byID[r.Order.ID]
		charge, err := s.charges.ChargeByKey(ctx, r.PayKey())
		if !ok || err != nil || charge.State != paymentsclient.StateApproved || charge.ID != o.PaymentID ||
			charge.Amount != o.Total || charge.Amount != r.Confirmed {
			t.Errorf("checkout %s: order %+v paid by %+v (%v), confirmed %s; want one approved charge of the order's total, the one confirmed", key, o, charge, err, r.Confirmed)
		}
	}
	if withDiscount != 1 {
		t.Errorf("%d of the customer's orders have the discount, want 1", withDiscount)
	}
	checkPromotion(t, s.promos, customer, true)
	after := s.levels(t, 1, 2)
	for id, was := range before {
		bought := map[int32]int{1: 2 * n, 2: n}[id]
		if got := after[id]; got.OnHand != was.OnHand-bought || got.Held != 0 {
			t.Errorf("book %d: %d on hand, %d held; want %d on hand, none held", id, got.OnHand, got.Held, was.OnHand-bought)
		}
	}
}

// TestQuoteNamesTheFreeBook checks that a quote says which book its
// discount makes free, and which promotion gave it, for the checkout page
// to name them: the cheapest book of a cart of three, of equally cheap
// books the one with the lowest id; nothing for a cart that earns no
// discount, or for a customer who has used the promotion.
func TestQuoteNamesTheFreeBook(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{})
	promo := []string{promotionsclient.BuyTwoGetOneFreeCode}
	for _, tc := range []struct {
		name     string
		customer int32
		pairs    []int // book, quantity, ...
		discount bookshop.Money
		free     int32
		promos   []string
	}{
		{"two Maltese Falcons and a Dune: the Dune", 80, []int{1, 2, 2, 1}, eur(1099), 2, promo},
		{"Solaris among dearer books: Solaris", 81, []int{1, 1, 3, 1, 2, 1}, eur(900), 3, promo},
		{"three copies of one book: that book", 82, []int{2, 3}, eur(1099), 2, promo},
		{"two books: no free book", 83, []int{1, 1, 2, 1}, eur(0), 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.fill(t, cartOf(tc.customer), tc.pairs...)
			q, err := c.client.Quote(ctx, tc.customer, cartOf(tc.customer))
			if err != nil || q.Discount != tc.discount || q.FreeBookID != tc.free || !reflect.DeepEqual(q.Promotions, tc.promos) {
				t.Errorf("Quote = %+v, %v; want a discount of %s, free book %d, promotions %q", q, err, tc.discount, tc.free, tc.promos)
			}
		})
	}
	// Once the customer has used the promotion: no free book.
	lines := []bookshop.PromoLine{{BookID: 2, UnitPrice: eur(1099), Quantity: 3}}
	if _, outcome, err := s.promos.Claim(ctx, 80, "k-used", lines); err != nil || outcome != bookshop.ClaimGranted {
		t.Fatalf("Claim(80) = %v, %v", outcome, err)
	}
	if err := s.promos.Confirm(ctx, 80, "k-used"); err != nil {
		t.Fatal(err)
	}
	if q, err := c.client.Quote(ctx, 80, cartOf(80)); err != nil || q.Total != fullPrice || q.FreeBookID != 0 || q.Promotions != nil {
		t.Errorf("Quote, the promotion used = %+v, %v; want the full price, no free book, no promotion", q, err)
	}
}

// TestPromotionsDown checks out while Promotions is down. A shopper who
// confirmed the discount their quote showed before it went down is told
// the new total, the full price, with nothing charged; a quote shows the
// full price, and the shopper who confirms it is charged it. The claims
// that Promotions could not answer are released once it is back, and
// neither customer has used the promotion.
func TestPromotionsDown(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckout(t, s, checkout.Options{CallTimeout: time.Second})
	s.fillThree(t, cartOf(61))
	s.fillThree(t, cartOf(62))
	before := s.levels(t, 1, 2)
	if q, err := c.client.Quote(ctx, 61, cartOf(61)); err != nil || q.Total != discounted {
		t.Fatalf("Quote = %+v, %v; want the discount", q, err)
	}
	s.promotions.stop()

	refused := order(61, "k-promo-down-1", discounted, paymentsclient.TestCardApproved)
	_, err := c.client.Place(ctx, refused)
	if want := "the total is now €35.99, not the €25.00 you confirmed"; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), want) {
		t.Errorf("Place(the discount), Promotions down = %v; want a Conflict: %q", err, want)
	}
	if r, _ := c.log.Get(ctx, 61, refused.Key); r == nil || r.Claim != saga.Unanswered || r.ChargeID != "" || r.State != saga.Undoing {
		t.Errorf("the refused checkout: %+v; want it undoing, its claim unanswered (to release), nothing charged", r)
	}

	began := time.Now()
	q, err := c.client.Quote(ctx, 62, cartOf(62))
	if err != nil || q.Total != fullPrice || q.Discount != eur(0) || q.FreeBookID != 0 || q.Promotions != nil {
		t.Fatalf("Quote, Promotions down = %+v, %v; want the full price, €35.99, no free book", q, err)
	}
	t.Logf("Promotions down: quoted in %v", time.Since(began).Round(time.Millisecond))
	placed := order(62, "k-promo-down-2", q.Total, paymentsclient.TestCardApproved)
	o, err := c.client.Place(ctx, placed)
	if err != nil || o.Total != fullPrice || o.Discount != eur(0) || o.Promotions != nil {
		t.Fatalf("Place(the full price), Promotions down = %+v, %v; want the order at the full price", o, err)
	}
	if r, _ := c.log.Get(ctx, 62, placed.Key); r == nil || r.State != saga.Ordered || r.Claim != saga.Unanswered {
		t.Errorf("the placed checkout: %+v; want it ordered, its claim unanswered (to release)", r)
	}
	if n, err := s.carts.Count(ctx, cartOf(62)); err != nil || n != 0 {
		t.Errorf("the cart after the order holds %d copies, %v; want none: the claim waits, not the cart", n, err)
	}

	s.promotions.start()
	c.recoverUntilEnded(t, 61, refused.Key)
	c.recoverUntilEnded(t, 62, placed.Key)
	// The stock as the placed checkout left it (the refused one held
	// none: no book is held).
	if r := c.invariants(t, s, 61, refused.Key, noStock, 3); r.State != saga.Failed || r.Claim != saga.Released {
		t.Errorf("the refused checkout is %s, its claim %q; want failed, released", r.State, r.Claim)
	}
	if r := c.invariants(t, s, 62, placed.Key, before, 3); r.State != saga.Done || r.Claim != saga.Released {
		t.Errorf("the placed checkout is %s, its claim %q; want done, released", r.State, r.Claim)
	}
	// The promotion is still theirs to use.
	s.fillThree(t, cartOf(62))
	if q, err := c.client.Quote(ctx, 62, cartOf(62)); err != nil || q.Total != discounted {
		t.Errorf("Quote, Promotions back = %+v, %v; want the discount", q, err)
	}
}

// slowPromotions is Promotions answering later than the Checkout waits:
// a cart priced after delay, and a claim made at once but answered after
// delay, as when an answer is lost on the way back.
type slowPromotions struct {
	checkout.Promotions
	delay time.Duration
}

func (p *slowPromotions) Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	select {
	case <-time.After(p.delay):
	case <-ctx.Done():
		return bookshop.Discount{}, false, bookshop.Errorf(bookshop.Unavailable, "deadline exceeded")
	}
	return p.Promotions.Price(ctx, customerID, lines)
}

func (p *slowPromotions) Claim(ctx context.Context, customerID int32, key string, lines []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	d, outcome, err := p.Promotions.Claim(context.WithoutCancel(ctx), customerID, key, lines)
	select {
	case <-time.After(p.delay):
	case <-ctx.Done():
		return bookshop.Discount{}, "", bookshop.Errorf(bookshop.Unavailable, "deadline exceeded")
	}
	return d, outcome, err
}

// TestPromotionsSlow has Promotions answer later than a call's deadline:
// the quote is given in time, at the full price; the shopper who confirms
// it is charged it, though the claim was made at Promotions (its answer
// came too late), and that claim is released: the customer has not used
// the promotion.
func TestPromotionsSlow(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	// A call timeout of a second, which every call of the Checkout has
	// (to the Cart, the Inventory and the rest, which a loaded machine
	// may take some hundred milliseconds to answer), and so the wait for
	// Promotions; Promotions answers in 3 s.
	c := startCheckoutWith(t, s, checkout.Options{CallTimeout: time.Second}, func(d *checkout.Deps) {
		d.Promotions = &slowPromotions{Promotions: d.Promotions, delay: 3 * time.Second}
	})
	s.fillThree(t, cartOf(65))
	before := s.levels(t, 1, 2)
	began := time.Now()
	q, err := c.client.Quote(ctx, 65, cartOf(65))
	elapsed := time.Since(began)
	if err != nil || q.Total != fullPrice {
		t.Fatalf("Quote, Promotions slow = %+v, %v; want the full price", q, err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Quote, Promotions slow, answered in %v; want within 2 s (its 1 s wait for Promotions, and the rest)", elapsed)
	}
	t.Logf("Promotions slower (3s) than a call's deadline (1s): quoted in %v", elapsed.Round(time.Millisecond))
	req := order(65, "k-promo-slow", q.Total, paymentsclient.TestCardApproved)
	o, err := c.client.Place(ctx, req)
	if err != nil || o.Total != fullPrice || o.Promotions != nil {
		t.Fatalf("Place(the full price), Promotions slow = %+v, %v; want the order at the full price", o, err)
	}
	r := c.invariants(t, s, 65, req.Key, before, 3)
	if r.State != saga.Done || r.Claim != saga.Released {
		t.Errorf("checkout is %s, its claim %q; want done, released", r.State, r.Claim)
	}
}

// The budgets of the Marketplace, whose pages call the Checkout, with its
// default call timeout of 1 s: three of it for a quote (the checkout
// page), nine for a checkout (the form sent).
const (
	pageQuoteBudget = 3 * time.Second
	pagePlaceBudget = 9 * time.Second
)

// TestPromotionsHung has Promotions accept calls and answer none (its
// handlers block until the caller gives up: its database blackholed, say),
// with the Checkout's default call timeout, 3 s. A quote under the
// deadline the checkout page gives it, 3 s, is answered in time, at the
// full price, whether the Checkout had the offer before Promotions hung
// or not; and the shopper who confirms that total is charged it, within
// 3 s (a second for the claim, when the Checkout had the offer, and one
// for its release after the order), well within the 9 s of the page's
// form.
func TestPromotionsHung(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	for i, tc := range []struct {
		name       string
		offerKnown bool // the Checkout quoted with the offer before Promotions hung
	}{
		{"hung after the offer was given", true},
		{"hung from the start", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			promos := promotionstest.StartHangable(t, promotions.BuyTwoGetOneFree())
			c := startCheckoutWith(t, s, checkout.Options{CallTimeout: checkout.DefaultCallTimeout}, func(d *checkout.Deps) {
				d.Promotions = promotionsclient.New(dial(t, promos.Addr), checkout.DefaultCallTimeout)
			})
			customer := int32(121 + i)
			s.fillThree(t, cartOf(customer))
			if tc.offerKnown {
				if q, err := c.client.Quote(ctx, customer, cartOf(customer)); err != nil || q.Total != discounted {
					t.Fatalf("Quote, Promotions answering = %+v, %v; want the discount", q, err)
				}
			}
			promos.Hang()

			qctx, cancel := context.WithTimeout(ctx, pageQuoteBudget)
			began := time.Now()
			q, err := c.client.Quote(qctx, customer, cartOf(customer))
			elapsed := time.Since(began)
			cancel()
			t.Logf("Promotions hung: quoted in %v (%v, %d calls held)", elapsed.Round(time.Millisecond), err, promos.Held())
			if err != nil || q.Total != fullPrice || q.Discount != eur(0) || q.Promotions != nil {
				t.Fatalf("Quote under the checkout page's %v, Promotions hung = %+v, %v; want the full price, %s", pageQuoteBudget, q, err, fullPrice.Format())
			}
			if limit := 2500 * time.Millisecond; elapsed > limit {
				t.Errorf("Quote, Promotions hung, answered in %v; want within %v", elapsed, limit)
			}
			if promos.Held() == 0 {
				t.Fatal("Promotions held no call: the test did not have the quote wait for it")
			}

			req := order(customer, fmt.Sprintf("k-hung-%d", i), q.Total, paymentsclient.TestCardApproved)
			pctx, cancel := context.WithTimeout(ctx, pagePlaceBudget)
			began = time.Now()
			o, err := c.client.Place(pctx, req)
			elapsed = time.Since(began)
			cancel()
			t.Logf("Promotions hung: placed in %v", elapsed.Round(time.Millisecond))
			if err != nil || o.Total != fullPrice || o.Discount != eur(0) || o.Promotions != nil {
				t.Fatalf("Place(the full price) under the checkout form's %v, Promotions hung = %+v, %v; want the order at the full price", pagePlaceBudget, o, err)
			}
			// A second for the claim, and one for its release after the
			// order, not the call timeout (3 s) each: within 5 s, which
			// leaves the other calls and writes time on a loaded machine.
			if limit := 5 * time.Second; elapsed > limit {
				t.Errorf("Place, Promotions hung, answered in %v; want within %v", elapsed, limit)
			}
			// A claim made (the Checkout had the offer) and not answered
			// waits to be released, the order placed; none made otherwise.
			wantClaim := saga.NoClaim
			if tc.offerKnown {
				wantClaim = saga.Unanswered
			}
			r, err := c.log.Get(ctx, customer, req.Key)
			if err != nil || r == nil || r.Order.ID != o.ID || r.Claim != wantClaim {
				t.Fatalf("the checkout's record = %+v, %v; want order %s, its claim %q", r, err, o.ID, wantClaim)
			}
			if charge, err := s.charges.ChargeByKey(ctx, r.PayKey()); err != nil || charge.Amount != fullPrice {
				t.Errorf("the order's charge = %+v, %v; want the full price, %s", charge, err, fullPrice.Format())
			}
		})
	}
}

// lateBy is how late the Promotions of TestPromotionsLate answers: later
// than a quote waits for it (a second), sooner than the Checkout's call
// timeout (3 s, its default).
const lateBy = 1500 * time.Millisecond

// TestPromotionsLate has Promotions answer every call lateBy late, its
// claims granted after their caller gave up (see
// promotionstest.Hangable's Slow: its database slow, say), with the
// Checkout's default call timeout, 3 s. A first-time buyer of three books
// is quoted the full price, in a second, and the checkout at that total
// places the order at once, at the full price, with no discount (it is
// not refused as one the promotion now applies to: the next quote would
// show the full price again, and the shopper could never check out), and
// the claim that Promotions granted too late is released: the customer
// has not used the promotion. So whether the Checkout had the offer
// before Promotions slowed or not. When Promotions answers at once again
// by the time the order is sent, the claim is granted in time: the
// shopper is told that the promotion now applies, and their next quote
// shows it, at which the order is placed with the discount.
func TestPromotionsLate(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	for i, tc := range []struct {
		name       string
		offerKnown bool // the Checkout quoted with the offer before Promotions slowed
		fastAgain  bool // Promotions answers at once again before the order is sent
	}{
		{"late after the offer was given", true, false},
		{"late from the start", false, false},
		{"at once again when the order is sent", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			promos := promotionstest.StartHangable(t, promotions.BuyTwoGetOneFree())
			c := startCheckoutWith(t, s, checkout.Options{CallTimeout: checkout.DefaultCallTimeout}, func(d *checkout.Deps) {
				d.Promotions = promotionsclient.New(dial(t, promos.Addr), checkout.DefaultCallTimeout)
			})
			// The invariants asked of this Promotions, which answers
			// at once by then.
			ps := *s
			ps.promos = promotionsclient.New(dial(t, promos.Addr), 10*time.Second)
			customer := int32(131 + i)
			s.fillThree(t, cartOf(customer))
			before := s.levels(t, 1, 2)
			if tc.offerKnown {
				if q, err := c.client.Quote(ctx, customer, cartOf(customer)); err != nil || q.Total != discounted {
					t.Fatalf("Quote, Promotions answering at once = %+v, %v; want the discount", q, err)
				}
			}
			promos.Slow(lateBy)

			qctx, cancel := context.WithTimeout(ctx, pageQuoteBudget)
			began := time.Now()
			q, err := c.client.Quote(qctx, customer, cartOf(customer))
			elapsed := time.Since(began)
			cancel()
			t.Logf("Promotions %v late: quoted in %v", lateBy, elapsed.Round(time.Millisecond))
			if err != nil || q.Total != fullPrice || q.Discount != eur(0) || q.Promotions != nil {
				t.Fatalf("Quote under the checkout page's %v, Promotions %v late = %+v, %v; want the full price, %s", pageQuoteBudget, lateBy, q, err, fullPrice.Format())
			}
			if tc.fastAgain {
				promos.Slow(0)
			}

			req := order(customer, fmt.Sprintf("k-late-%d", i), q.Total, paymentsclient.TestCardApproved)
			pctx, cancel := context.WithTimeout(ctx, pagePlaceBudget)
			began = time.Now()
			o, err := c.client.Place(pctx, req)
			elapsed = time.Since(began)
			cancel()
			t.Logf("Promotions %v late (at once again: %v): placed in %v (%v)", lateBy, tc.fastAgain, elapsed.Round(time.Millisecond), err)
			if tc.fastAgain {
				// Granted in time: the shopper is shown the discount, and
				// confirms it.
				want := "the total is now €25.00, not the €35.99 you confirmed: the promotion now applies to your order"
				if bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), want) {
					t.Fatalf("Place(the full price), Promotions answering at once again = %+v, %v; want a Conflict: %q", o, err, want)
				}
				if q, err = c.client.Quote(ctx, customer, cartOf(customer)); err != nil || q.Total != discounted {
					t.Fatalf("Quote after the Conflict = %+v, %v; want the discount", q, err)
				}
				req = order(customer, fmt.Sprintf("k-late-%d-again", i), q.Total, paymentsclient.TestCardApproved)
				if o, err = c.client.Place(ctx, req); err != nil || o.Total != discounted || o.Discount != eur(1099) {
					t.Fatalf("Place(the discount) = %+v, %v; want the order with the discount, %s", o, err, discounted.Format())
				}
				c.recoverUntilEnded(t, customer, fmt.Sprintf("k-late-%d", i))
				if r := c.invariants(t, &ps, customer, req.Key, before, 3); r.State != saga.Done || r.Claim != saga.Confirmed {
					t.Errorf("the checkout with the discount is %s, its claim %q; want done, confirmed", r.State, r.Claim)
				}
				return
			}
			if err != nil || o.Total != fullPrice || o.Discount != eur(0) || o.Promotions != nil {
				t.Fatalf("Place(the full price) under the checkout form's %v, Promotions %v late = %+v, %v; want the order at the full price", pagePlaceBudget, lateBy, o, err)
			}
			if limit := 3 * time.Second; elapsed > limit {
				t.Errorf("Place, Promotions %v late, answered in %v; want within %v", lateBy, elapsed, limit)
			}
			// The claim, granted after the Checkout stopped waiting, was not
			// answered, nor was its release, in the second they had: the
			// order placed, the release waits for the recoverer.
			if r, err := c.log.Get(ctx, customer, req.Key); err != nil || r == nil || r.State != saga.Ordered || r.Claim != saga.Unanswered {
				t.Fatalf("the checkout's record = %+v, %v; want it ordered, its claim unanswered", r, err)
			}
			// The recoverer of the Checkout started again (killed once the
			// order was placed), which knows the checkout by its record
			// alone, releases the claim by its key, waiting for Promotions
			// the call timeout.
			again := restartCheckout(t, s, c, promotionsclient.New(dial(t, promos.Addr), checkout.DefaultCallTimeout))
			recoverUntilEnded(t, again, c.log, customer, req.Key)
			promos.Slow(0)
			r := c.invariants(t, &ps, customer, req.Key, before, 3)
			if r.State != saga.Done || r.Claim != saga.Released {
				t.Errorf("the checkout is %s, its claim %q; want done, released", r.State, r.Claim)
			}
		})
	}
}

// flakyPromotions is Promotions whose Confirm and Release cannot be
// reached while down is set.
type flakyPromotions struct {
	checkout.Promotions
	down atomic.Bool
}

func (p *flakyPromotions) Confirm(ctx context.Context, customerID int32, key string) error {
	if p.down.Load() {
		return bookshop.Errorf(bookshop.Unavailable, "connection refused")
	}
	return p.Promotions.Confirm(ctx, customerID, key)
}

func (p *flakyPromotions) Release(ctx context.Context, customerID int32, key string) error {
	if p.down.Load() {
		return bookshop.Errorf(bookshop.Unavailable, "connection refused")
	}
	return p.Promotions.Release(ctx, customerID, key)
}

// TestPromotionSettledLater has Promotions grant claims and then go down
// before they can be confirmed or released: a checkout charged with the
// discount is answered that its order is being completed, and its order
// is recorded by the recoverer once Promotions is back and confirms its
// claim (the use spent); a checkout undone (its card declined) is
// answered at once, its claim released by the recoverer (the use free
// again). Until then, the claims hold the customers' uses.
func TestPromotionSettledLater(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	promos := &flakyPromotions{}
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		promos.Promotions = d.Promotions
		d.Promotions = promos
	})
	s.fillThree(t, cartOf(63))
	s.fillThree(t, cartOf(64))
	before := s.levels(t, 1, 2)
	promos.down.Store(true)

	placed := order(63, "k-confirm-later", discounted, paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, placed); bookshop.ErrorCode(err) != bookshop.Unavailable || !strings.Contains(fmt.Sprint(err), "your payment went through") {
		t.Fatalf("Place, Confirm down = %v; want Unavailable: your payment went through, the order being completed", err)
	}
	if r, _ := c.log.Get(ctx, 63, placed.Key); r == nil || r.State != saga.Charged || r.Claim != saga.Granted {
		t.Fatalf("checkout = %+v; want it charged, its claim granted, to confirm before the stock is taken", r)
	}
	if page, err := s.orderBook.List(ctx, 63, "", 50); err != nil || len(page.Orders) != 0 {
		t.Fatalf("the customer's orders before the claim is confirmed: %+v, %v; want none", page.Orders, err)
	}
	declined := order(64, "k-release-later", discounted, paymentsclient.TestCardDeclined)
	if _, err := c.client.Place(ctx, declined); bookshop.ErrorCode(err) != bookshop.Conflict || !strings.Contains(bookshop.ErrorMessage(err), "card declined") {
		t.Fatalf("Place(a declined card), Release down = %v; want a Conflict: card declined", err)
	}
	if r, _ := c.log.Get(ctx, 64, declined.Key); r == nil || r.State != saga.Undoing || r.Claim != saga.Granted {
		t.Fatalf("checkout = %+v; want it undoing, its claim granted, to release", r)
	}
	for _, customer := range []int32{63, 64} {
		if _, ok, err := s.promos.Price(ctx, customer, threeBooks); err != nil || ok {
			t.Errorf("Price(customer %d) while their claim is unsettled = %v, %v; want no discount: the claim holds the use", customer, ok, err)
		}
	}
	if n, err := c.svc.Recover(ctx); n != 2 || err != nil {
		t.Errorf("Recover, Promotions still down = %d, %v; want 2 taken up (and stalled)", n, err)
	}

	promos.down.Store(false)
	c.recoverUntilEnded(t, 63, placed.Key)
	c.recoverUntilEnded(t, 64, declined.Key)
	// The stock as the placed checkout left it (checked below).
	if r := c.invariants(t, s, 63, placed.Key, noStock, 3); r.State != saga.Done || r.Claim != saga.Confirmed {
		t.Errorf("the placed checkout is %s, its claim %q; want done, confirmed", r.State, r.Claim)
	}
	if r := c.invariants(t, s, 64, declined.Key, noStock, 3); r.State != saga.Failed || r.Claim != saga.Released {
		t.Errorf("the declined checkout is %s, its claim %q; want failed, released", r.State, r.Claim)
	}
	after := s.levels(t, 1, 2)
	for id, was := range before {
		bought := map[int32]int{1: 2, 2: 1}[id]
		if got := after[id]; got.OnHand != was.OnHand-bought || got.Held != 0 {
			t.Errorf("book %d: %d on hand, %d held; want %d on hand, none held", id, got.OnHand, got.Held, was.OnHand-bought)
		}
	}
}

// TestPromotionClaimExpiresBeforeOrder has a checkout charged with the
// discount whose order cannot be recorded for longer than Promotions
// keeps a claim held (1 s here), and a second checkout of the same
// customer meanwhile. Each case ends with exactly one order with the
// discount, every charge the total of its order or refunded.
//
// Orders down: the first checkout's claim was confirmed before its order
// was asked for, so the second, which confirms the discount its quote
// showed before, is told the full price, nothing charged, and is charged
// it when confirmed; both orders are recorded once Orders is back, the
// first alone with the discount.
//
// Confirm down: the first checkout's claim cannot be confirmed, expires,
// and the second claims the use; once Promotions confirms again, the
// second's order has the discount, and the first, whose claim was taken,
// is refunded with no order recorded and its books given back: its claim
// is confirmed before its stock is taken, so nothing is lost; its
// shopper, sending the form again, is told why and that the payment was
// refunded (FAILED_PRECONDITION, as the contract says).
func TestPromotionClaimExpiresBeforeOrder(t *testing.T) {
	const ttl = time.Second
	for _, tc := range []struct {
		name        string
		customer    int32
		ordersDown  bool // else Promotions' Confirm is down
		firstPlaced bool // the first checkout's order has the discount
	}{
		{"orders down", 70, true, true},
		{"confirm down", 71, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			s := startShop(t, shopOptions{claimTTL: ttl})
			promos := &flakyPromotions{}
			c := startCheckoutWith(t, s, checkout.Options{CallTimeout: time.Second}, func(d *checkout.Deps) {
				promos.Promotions = d.Promotions
				d.Promotions = promos
			})
			first, second := fmt.Sprintf("c-%d-1", tc.customer), fmt.Sprintf("c-%d-2", tc.customer)
			s.fillThree(t, first)
			s.fillThree(t, second)
			before := s.levels(t, 1, 2)
			if tc.ordersDown {
				s.orders.stop()
			} else {
				promos.down.Store(true)
			}

			a := placeIn(tc.customer, first, "k-first", discounted)
			if _, err := c.client.Place(ctx, a); bookshop.ErrorCode(err) != bookshop.Unavailable || !strings.Contains(fmt.Sprint(err), "your payment went through") {
				t.Fatalf("Place(first) = %v; want Unavailable: your payment went through", err)
			}
			time.Sleep(ttl + 500*time.Millisecond) // the claim, if held, expires

			b := placeIn(tc.customer, second, "k-second", discounted)
			_, err := c.client.Place(ctx, b)
			if tc.firstPlaced {
				// The use is spent: told the full price, nothing charged.
				if want := "the total is now €35.99, not the €25.00 you confirmed"; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), want) {
					t.Fatalf("Place(second, the discount) = %v; want a Conflict: %q", err, want)
				}
				if q, err := c.client.Quote(ctx, tc.customer, second); err != nil || q.Total != fullPrice {
					t.Fatalf("Quote(second) = %+v, %v; want the full price", q, err)
				}
				b = placeIn(tc.customer, second, "k-second-full", fullPrice)
				_, err = c.client.Place(ctx, b)
			}
			if bookshop.ErrorCode(err) != bookshop.Unavailable || !strings.Contains(fmt.Sprint(err), "your payment went through") {
				t.Fatalf("Place(second) = %v; want Unavailable: your payment went through", err)
			}

			if tc.ordersDown {
				s.orders.start()
			} else {
				promos.down.Store(false)
			}
			c.recoverUntilEnded(t, tc.customer, a.Key)
			c.recoverUntilEnded(t, tc.customer, b.Key)

			page, err := s.orderBook.List(ctx, tc.customer, "", 50)
			if err != nil {
				t.Fatal(err)
			}
			byID := make(map[string]bookshop.Order, len(page.Orders))
			withDiscount := 0
			for _, o := range page.Orders {
				byID[o.ID] = o
				if o.Discount.Units > 0 || o.Promotions != nil {
					withDiscount++
				}
			}
			if withDiscount != 1 {
				t.Errorf("%d of the customer's orders %+v have the discount, want exactly 1", withDiscount, page.Orders)
			}
			wantOrders := 1
			if tc.firstPlaced {
				wantOrders = 2
			}
			if len(page.Orders) != wantOrders {
				t.Errorf("the customer has %d orders, want %d", len(page.Orders), wantOrders)
			}
			for _, key := range []string{a.Key, b.Key} {
				r, err := c.log.Get(ctx, tc.customer, key)
				if err != nil || r == nil {
					t.Fatalf("the record of %s: %+v, %v", key, r, err)
				}
				charge, err := s.charges.ChargeByKey(ctx, r.PayKey())
				if err != nil {
					t.Fatalf("the charge of %s: %v", key, err)
				}
				placed := key == b.Key || tc.firstPlaced
				if !placed {
					if r.State != saga.Failed || charge.State != paymentsclient.StateRefunded || r.Order.ID != "" || r.Claim != saga.Released {
						t.Errorf("checkout %s: %s (%s), claim %q, charge %+v; want failed, refunded, its claim released", key, r.State, r.ErrMessage, r.Claim, charge)
					}
					// Its shopper, sending the form again, is told why, as
					// the contract says: FAILED_PRECONDITION, the payment
					// refunded; and a quote shows the total now.
					_, err := c.client.Place(ctx, a)
					if want := "the total is now €35.99, not the €25.00 you confirmed: the promotion is for one order per customer, and another order of yours has it; your payment was refunded"; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), want) {
						t.Errorf("Place(first) again = %v; want a Conflict: %q", err, want)
					}
					if q, err := c.client.Quote(ctx, tc.customer, first); err != nil || q.Total != fullPrice || q.FreeBookID != 0 {
						t.Errorf("Quote(first) after its refund = %+v, %v; want the full price", q, err)
					}
					continue
				}
				o, ok := byID[r.Order.ID]
				if r.State != saga.Done || !ok || charge.State != paymentsclient.StateApproved || charge.ID != o.PaymentID || charge.Amount != o.Total || charge.Amount != r.Confirmed {
					t.Errorf("checkout %s: %s, order %+v paid by %+v, confirmed %s; want done, paid by one charge of its total, the one confirmed", key, r.State, o, charge, r.Confirmed)
				}
				if discount := o.Discount.Units > 0; discount != (r.Claim == saga.Confirmed) {
					t.Errorf("checkout %s: order %+v, claim %q; want the discount with its claim confirmed, or neither", key, o, r.Claim)
				}
			}
			checkPromotion(t, s.promos, tc.customer, true)
			// The stock of the orders recorded is taken, and only theirs: the
			// undone checkout's hold is released, none is left held.
			after := s.levels(t, 1, 2)
			for id, was := range before {
				bought := map[int32]int{1: 2 * wantOrders, 2: wantOrders}[id]
				if got := after[id]; got.OnHand != was.OnHand-bought || got.Held != 0 {
					t.Errorf("book %d: %d on hand, %d held; want %d on hand, none held", id, got.OnHand, got.Held, was.OnHand-bought)
				}
			}
		})
	}
}

// TestPromotionHoldEndsBeforeCommit has the hold of a checkout charged
// with the discount expire while the card is charged (the processor
// slower than the hold): its claim is confirmed once the charge went
// through, the stock then cannot be taken, and the checkout is undone:
// the charge refunded, no order, no stock taken, and the confirmed claim
// released, so that the customer's use is theirs again and their next
// checkout gets the discount.
func TestPromotionHoldEndsBeforeCommit(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{paymentsLatency: 1500 * time.Millisecond})
	c := startCheckout(t, s, checkout.Options{HoldTTL: time.Second, CallTimeout: 5 * time.Second})
	const customer = 66
	s.fillThree(t, cartOf(customer))
	before := s.levels(t, 1, 2)
	req := order(customer, "k-hold-ends", discounted, paymentsclient.TestCardApproved)
	_, err := c.client.Place(ctx, req)
	if bookshop.ErrorCode(err) != bookshop.Unavailable || !strings.Contains(fmt.Sprint(err), "your payment was refunded") {
		t.Fatalf("Place, the hold expired = %v; want Unavailable, the payment refunded", err)
	}
	r := c.invariants(t, s, customer, req.Key, before, 3)
	if r.State != saga.Failed || r.Claim != saga.Released {
		t.Errorf("checkout is %s, its claim %q; want failed, released", r.State, r.Claim)
	}
	if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); err != nil || ch.State != paymentsclient.StateRefunded || ch.Amount != discounted {
		t.Errorf("the charge = %+v, %v; want the discounted total, refunded", ch, err)
	}
	// The use is theirs again: a quote shows the discount.
	if q, err := c.client.Quote(ctx, customer, cartOf(customer)); err != nil || q.Total != discounted {
		t.Errorf("Quote after the checkout was undone = %+v, %v; want the discount", q, err)
	}
}

// codelessPromotions is Promotions whose discounts name no promotion: a
// malformed answer.
type codelessPromotions struct{ checkout.Promotions }

func (p codelessPromotions) Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	d, ok, err := p.Promotions.Price(ctx, customerID, lines)
	d.Code = ""
	return d, ok, err
}

func (p codelessPromotions) Claim(ctx context.Context, customerID int32, key string, lines []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	d, outcome, err := p.Promotions.Claim(ctx, customerID, key, lines)
	d.Code = ""
	return d, outcome, err
}

// TestPromotionWithoutCode has Promotions answer with discounts that name
// no promotion: malformed, as one that does not fit the cart. The cart is
// quoted at its full price, naming no promotion; a checkout charges the
// full price, records no promotion, and releases the claim it was
// granted (Unanswered): the customer has not used the promotion.
func TestPromotionWithoutCode(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		d.Promotions = codelessPromotions{d.Promotions}
	})
	const customer = 67
	s.fillThree(t, cartOf(customer))
	before := s.levels(t, 1, 2)
	q, err := c.client.Quote(ctx, customer, cartOf(customer))
	if err != nil || q.Total != fullPrice || q.Discount != eur(0) || q.Promotions != nil || q.FreeBookID != 0 {
		t.Fatalf("Quote, a discount without a code = %+v, %v; want the full price, no promotion", q, err)
	}
	req := order(customer, "k-codeless", q.Total, paymentsclient.TestCardApproved)
	o, err := c.client.Place(ctx, req)
	if err != nil || o.Total != fullPrice || o.Discount != eur(0) || o.Promotions != nil {
		t.Fatalf("Place(the full price), a discount without a code = %+v, %v; want the order at the full price, no promotion", o, err)
	}
	if r := c.invariants(t, s, customer, req.Key, before, 3); r.State != saga.Done || r.Claim != saga.Released {
		t.Errorf("checkout is %s, its claim %q; want done, released (unanswered)", r.State, r.Claim)
	}
}

// countingPromotions is Promotions that counts what it is asked, and,
// when minBooks is set, gives an offer with that MinBooks.
type countingPromotions struct {
	checkout.Promotions
	minBooks               *int
	offers, prices, claims atomic.Int32
}

func (p *countingPromotions) Offer(ctx context.Context, customerID int32) (bookshop.Offer, error) {
	p.offers.Add(1)
	o, err := p.Promotions.Offer(ctx, customerID)
	if p.minBooks != nil {
		o.MinBooks = *p.minBooks
	}
	return o, err
}

func (p *countingPromotions) Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	p.prices.Add(1)
	return p.Promotions.Price(ctx, customerID, lines)
}

func (p *countingPromotions) Claim(ctx context.Context, customerID int32, key string, lines []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	p.claims.Add(1)
	return p.Promotions.Claim(ctx, customerID, key, lines)
}

// TestPromotionsAskedByMinBooks checks that the Checkout asks Promotions
// about the carts its offer's MinBooks says may earn a discount, and no
// other, knowing nothing more of the campaign: a cart of two books is
// quoted and placed without a call (and without a claim in its record),
// one of three is priced and claimed; the offer itself is asked once,
// and kept. An offer without a bound (MinBooks 0, from a Promotions of
// before the field) has every cart asked about: two books are priced
// and claimed, refused, at the full price.
func TestPromotionsAskedByMinBooks(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	promos := &countingPromotions{}
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		promos.Promotions = d.Promotions
		d.Promotions = promos
	})
	s.fill(t, cartOf(90), 1, 1, 2, 1)
	q, err := c.client.Quote(ctx, 90, cartOf(90))
	if err != nil || q.Discount != eur(0) {
		t.Fatalf("Quote(two books) = %+v, %v; want no discount", q, err)
	}
	req := order(90, "k-two", q.Total, paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, req); err != nil {
		t.Fatalf("Place(two books) = %v", err)
	}
	if r, _ := c.log.Get(ctx, 90, req.Key); r == nil || r.Claim != saga.NoClaim {
		t.Errorf("the two books' checkout = %+v; want no claim", r)
	}
	if n, m := promos.prices.Load(), promos.claims.Load(); n != 0 || m != 0 {
		t.Errorf("two books: Promotions priced %d carts and took %d claims; want none", n, m)
	}

	s.fillThree(t, cartOf(91))
	if q, err := c.client.Quote(ctx, 91, cartOf(91)); err != nil || q.Total != discounted {
		t.Fatalf("Quote(three books) = %+v, %v; want the discount", q, err)
	}
	if _, err := c.client.Place(ctx, order(91, "k-three", discounted, paymentsclient.TestCardApproved)); err != nil {
		t.Fatalf("Place(three books) = %v", err)
	}
	if n, m, o := promos.prices.Load(), promos.claims.Load(), promos.offers.Load(); n != 1 || m != 1 || o != 1 {
		t.Errorf("three books: Promotions priced %d carts, took %d claims, gave %d offers; want 1, 1 and 1", n, m, o)
	}

	// No bound: every cart is asked about.
	none := 0
	unbound := &countingPromotions{minBooks: &none}
	c = startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		unbound.Promotions = d.Promotions
		d.Promotions = unbound
	})
	s.fill(t, cartOf(92), 1, 1, 2, 1)
	q, err = c.client.Quote(ctx, 92, cartOf(92))
	if err != nil || q.Discount != eur(0) || unbound.prices.Load() != 1 {
		t.Fatalf("Quote(two books), no bound = %+v, %v, %d prices; want no discount, asked", q, err, unbound.prices.Load())
	}
	req = order(92, "k-unbound", q.Total, paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, req); err != nil {
		t.Fatalf("Place(two books), no bound = %v", err)
	}
	if r, _ := c.log.Get(ctx, 92, req.Key); r == nil || r.Claim != saga.Refused || unbound.claims.Load() != 1 {
		t.Errorf("the two books' checkout, no bound = %+v, %d claims; want one claim, refused", r, unbound.claims.Load())
	}
}

// TestPromotionsDownFromTheStart starts a Checkout while Promotions is
// down: it has no offer, so it asks about no cart, and a cart of three
// books is quoted and placed at the full price, with no claim to release
// later. Once Promotions is back, the Checkout asks for the offer again
// (a few seconds after the failed call) and the discount is quoted.
func TestPromotionsDownFromTheStart(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	var ahead atomic.Int64 // how far the Checkout's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	s.promotions.stop()
	c := startCheckout(t, s, checkout.Options{Now: now, CallTimeout: time.Second})
	s.fillThree(t, cartOf(93))
	q, err := c.client.Quote(ctx, 93, cartOf(93))
	if err != nil || q.Total != fullPrice {
		t.Fatalf("Quote, Promotions down from the start = %+v, %v; want the full price", q, err)
	}
	req := order(93, "k-down", q.Total, paymentsclient.TestCardApproved)
	if o, err := c.client.Place(ctx, req); err != nil || o.Total != fullPrice || o.Promotions != nil {
		t.Fatalf("Place, Promotions down from the start = %+v, %v; want the order at the full price", o, err)
	}
	if r, _ := c.log.Get(ctx, 93, req.Key); r == nil || r.State != saga.Done || r.Claim != saga.NoClaim {
		t.Errorf("the checkout = %+v; want it done, with no claim", r)
	}

	s.promotions.start()
	s.fillThree(t, cartOf(94))
	// Each try is a few seconds later on the Checkout's clock: the
	// connection to Promotions may take a moment to come back.
	waitUntil(t, "the discount quoted once Promotions is back", func() bool {
		ahead.Add(int64(10 * time.Second))
		q, err := c.client.Quote(ctx, 94, cartOf(94))
		return err == nil && q.Total == discounted
	})
}

// refusingPromotions is Promotions whose claims are all refused with
// outcome, or, when outcome is "", not answered; it claims nothing.
type refusingPromotions struct {
	checkout.Promotions
	outcome bookshop.ClaimOutcome
}

func (p refusingPromotions) Claim(context.Context, int32, string, []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	if p.outcome == "" {
		return bookshop.Discount{}, "", bookshop.Errorf(bookshop.Unavailable, "connection refused")
	}
	return bookshop.Discount{}, p.outcome, nil
}

// TestPromotionRefusalTold has a shopper confirm the discount their quote
// showed, and Promotions refuse the claim, for each reason the contract
// gives (or not answer): nothing is charged, and the shopper is told the
// new total and, in a sentence for them, why the offer was not applied.
func TestPromotionRefusalTold(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	for i, tc := range []struct {
		outcome  bookshop.ClaimOutcome
		sentence string
	}{
		{bookshop.ClaimUsed, "The offer was not applied: you have already used it."},
		{bookshop.ClaimHeld, "The offer was not applied: another checkout of yours, still in progress, is using it."},
		{bookshop.ClaimInactive, "The offer was not applied: it has ended."},
		{bookshop.ClaimNotEarned, "The offer was not applied: your order no longer qualifies for it."},
		{bookshop.ClaimRefused, "The offer was not applied to your order."},
		{"", "The offer could not be applied right now."},
	} {
		t.Run(string(cmp.Or(tc.outcome, "unanswered")), func(t *testing.T) {
			c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
				d.Promotions = refusingPromotions{Promotions: d.Promotions, outcome: tc.outcome}
			})
			customer := int32(95 + i)
			s.fillThree(t, cartOf(customer))
			if q, err := c.client.Quote(ctx, customer, cartOf(customer)); err != nil || q.Total != discounted {
				t.Fatalf("Quote = %+v, %v; want the discount", q, err)
			}
			req := order(customer, "k-refused", discounted, paymentsclient.TestCardApproved)
			_, err := c.client.Place(ctx, req)
			want := "the total is now €35.99, not the €25.00 you confirmed. " + tc.sentence + " Check the new total and confirm it."
			if bookshop.ErrorCode(err) != bookshop.Conflict || bookshop.ErrorMessage(err) != want {
				t.Errorf("Place = %v; want a Conflict: %q", err, want)
			}
			if r, _ := c.log.Get(ctx, customer, req.Key); r == nil || r.ChargeID != "" || r.ChargeTried {
				t.Errorf("the refused checkout = %+v; want nothing charged", r)
			}
		})
	}
}

// TestDiscountOfAnotherShape runs Promotions with a campaign whose
// discounts are not one copy of a book (promotionstest.TenPercentOff, 10%
// off the order): the quote shows it, with its label and no free book,
// and a checkout confirming it is charged it, as its claim was granted. A
// total that a discount of "buy two, get one free" would have left (one
// copy free) is not the discount granted: refused, nothing charged, the
// total now told.
func TestDiscountOfAnotherShape(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{promotion: promotionstest.TenPercentOff()})
	c := startCheckout(t, s, checkout.Options{})
	s.fillThree(t, cartOf(101))
	q, err := c.client.Quote(ctx, 101, cartOf(101))
	off, total := eur(359), eur(3599-359)
	if err != nil || q.Discount != off || q.Total != total || q.FreeBookID != 0 || q.DiscountLabel != promotionstest.TenPercentOffLabel {
		t.Fatalf("Quote = %+v, %v; want %s off, %s, labelled, no free book", q, err, off.Format(), total.Format())
	}
	o, err := c.client.Place(ctx, order(101, "k-ten", q.Total, paymentsclient.TestCardApproved))
	if err != nil || o.Total != total || o.Discount != off {
		t.Fatalf("Place(the quote's total) = %+v, %v; want the order at %s, %s off", o, err, total.Format(), off.Format())
	}

	s.fillThree(t, cartOf(102))
	req := order(102, "k-one-free", discounted, paymentsclient.TestCardApproved)
	_, err = c.client.Place(ctx, req)
	if want := "the total is now €32.40, not the €25.00 you confirmed: a price or your cart changed"; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.HasPrefix(bookshop.ErrorMessage(err), want) {
		t.Errorf("Place(one copy free) = %v; want a Conflict: %q", err, want)
	}
	if r, _ := c.log.Get(ctx, 102, req.Key); r == nil || r.ChargeID != "" || r.Claim == saga.Granted && r.State != saga.Undoing && r.State != saga.Failed {
		t.Errorf("the refused checkout = %+v; want nothing charged, undone", r)
	}
}

// TestPromotionsOlderThanCheckout runs the Checkout against a Promotions
// of the version from before the Checkout asked it for its offer, as
// during a deploy that has reached the Checkout first: over mutual TLS,
// with that version's policy, which lets identity checkout price carts
// and claim, but refuses it GetOffer (PERMISSION_DENIED). The Checkout
// then asks about every cart, as before the offer said which: a cart of
// three books is quoted with its discount and placed with it; one of two
// books is quoted and placed at its full price, its claim refused as not
// earned.
func TestPromotionsOlderThanCheckout(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	set, err := certs.Generate(certs.Options{Identities: []string{"checkout"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	in := func(name string) string { return filepath.Join(dir, name) }
	serverTLS, err := rpc.ServerTLS(in("server.crt"), in("server.key"), in("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	older := promotions.Policy()
	older[promotionsv1.PromotionsService_GetOffer_FullMethodName] = []string{"marketplace", rpc.IdentityAdmin}
	db, err := promotionssqlite.Open(ctx, promotionssqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := promotions.NewService(ctx, db, promotions.Options{Promotion: promotions.BuyTwoGetOneFree()})
	if err != nil {
		t.Fatal(err)
	}
	old := serve(t, func(ctx context.Context, lis net.Listener) error {
		d := deps(lis)
		d.ServerTLS = serverTLS
		cfg, err := rpc.ServiceConfig(d, older, promotions.Validators())
		if err != nil {
			return err
		}
		srv := rpc.NewServer(cfg)
		promotionsv1.RegisterPromotionsServiceServer(srv, promotions.NewServer(svc, discard))
		return srv.Run(ctx, lis)
	})
	clientTLS, err := rpc.ClientTLS(in("ca.crt"), in("checkout.crt"), in("checkout.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(old.addr)
	conn, err := rpc.Dial("localhost:"+port, rpc.ClientConfig{TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	oldClient := promotionsclient.New(conn, 5*time.Second)
	if _, err := oldClient.Offer(ctx, 0); !promotionsclient.Outdated(err) {
		t.Fatalf("GetOffer of the older Promotions as checkout = %v, want it refused as outdated (PERMISSION_DENIED)", err)
	}
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) { d.Promotions = oldClient })

	s.fillThree(t, cartOf(110))
	q, err := c.client.Quote(ctx, 110, cartOf(110))
	if err != nil || q.Total != discounted || q.Discount != eur(1099) {
		t.Fatalf("Quote(three books), an older Promotions = %+v, %v; want the discount, €25.00", q, err)
	}
	o, err := c.client.Place(ctx, order(110, "k-older-three", discounted, paymentsclient.TestCardApproved))
	if err != nil || o.Total != discounted || !reflect.DeepEqual(o.Promotions, []string{promotionsclient.BuyTwoGetOneFreeCode}) {
		t.Fatalf("Place(the discount), an older Promotions = %+v, %v; want the order with the discount", o, err)
	}

	s.fill(t, cartOf(111), 1, 1, 2, 1)
	q, err = c.client.Quote(ctx, 111, cartOf(111))
	if err != nil || q.Discount != eur(0) {
		t.Fatalf("Quote(two books), an older Promotions = %+v, %v; want no discount", q, err)
	}
	req := order(111, "k-older-two", q.Total, paymentsclient.TestCardApproved)
	if _, err := c.client.Place(ctx, req); err != nil {
		t.Fatalf("Place(two books), an older Promotions = %v", err)
	}
	if r, _ := c.log.Get(ctx, 111, req.Key); r == nil || r.State != saga.Done || r.Claim != saga.Refused {
		t.Errorf("the two books' checkout, an older Promotions = %+v; want it done, its claim asked and refused", r)
	}
}

// TestDiscountConfirmedWithoutOffer has a shopper confirm a discount
// that another replica quoted them, at a Checkout that has no offer yet
// (Promotions was down when it asked, a moment ago on its clock): the
// discount cannot be applied right now, and the shopper is told so, with
// the new total, the full price; nothing is recorded. Confirmed, the full
// price is charged.
func TestDiscountConfirmedWithoutOffer(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	frozen := time.Now()
	s.promotions.stop()
	c := startCheckout(t, s, checkout.Options{Now: func() time.Time { return frozen }, CallTimeout: time.Second})
	s.fillThree(t, cartOf(112))
	if q, err := c.client.Quote(ctx, 112, cartOf(112)); err != nil || q.Total != fullPrice {
		t.Fatalf("Quote, Promotions down = %+v, %v; want the full price", q, err)
	}
	s.promotions.start()
	req := order(112, "k-no-offer", discounted, paymentsclient.TestCardApproved)
	_, err := c.client.Place(ctx, req)
	want := "the total is now €35.99, not the €25.00 you confirmed. The offer could not be applied right now. Check the new total and confirm it."
	if bookshop.ErrorCode(err) != bookshop.Conflict || bookshop.ErrorMessage(err) != want {
		t.Errorf("Place(a discount), no offer = %v; want a Conflict: %q", err, want)
	}
	if r, _ := c.log.Get(ctx, 112, req.Key); r != nil {
		t.Errorf("the refused checkout was recorded: %+v", r)
	}
	req = order(112, "k-no-offer-full", fullPrice, paymentsclient.TestCardApproved)
	if o, err := c.client.Place(ctx, req); err != nil || o.Total != fullPrice {
		t.Errorf("Place(the full price), no offer = %+v, %v; want the order at the full price", o, err)
	}
}

// gatedOffers is Promotions whose Offer answers once open is closed, or
// fails when its context ends first.
type gatedOffers struct {
	checkout.Promotions
	open chan struct{}
}

func (p gatedOffers) Offer(ctx context.Context, customerID int32) (bookshop.Offer, error) {
	select {
	case <-p.open:
	case <-ctx.Done():
		return bookshop.Offer{}, bookshop.Errorf(bookshop.Unavailable, "deadline exceeded")
	}
	return p.Promotions.Offer(ctx, customerID)
}

// TestOfferAskedApartFromCaller has the first quote of a Checkout give up
// (its deadline ends) while the Checkout waits for Promotions' offer: the
// call goes on without it, and its answer is kept, so that the next quote
// has the offer at once, with the discount, rather than going without an
// offer until the Checkout asks again (its clock stands still).
func TestOfferAskedApartFromCaller(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	frozen := time.Now()
	gate := make(chan struct{})
	c := startCheckoutWith(t, s, checkout.Options{Now: func() time.Time { return frozen }}, func(d *checkout.Deps) {
		d.Promotions = gatedOffers{Promotions: d.Promotions, open: gate}
	})
	s.fillThree(t, cartOf(113))
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	q, err := c.client.Quote(short, 113, cartOf(113))
	cancel()
	if err == nil && q.Total != fullPrice {
		t.Fatalf("Quote, the offer not given in time = %+v; want the full price, or the deadline's error", q)
	}
	close(gate)
	if q, err := c.client.Quote(ctx, 113, cartOf(113)); err != nil || q.Total != discounted {
		t.Errorf("Quote once the offer is given = %+v, %v; want the discount: the first quote's giving up kept no failed try", q, err)
	}
}
