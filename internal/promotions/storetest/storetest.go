// Package storetest is the contract of promotions.Store as tests: one
// suite that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/claim"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionstest"
)

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. open returns the implementation's error when it cannot
// open the Store.
type NewDatabase func(tb testing.TB) (open func() (promotions.Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"Update", testUpdate},
		{"Sweep", testSweep},
		{"AnotherHandle", testAnotherHandle},
		{"DiscountWithoutBook", testDiscountWithoutBook},
		{"OncePerCustomer", testOncePerCustomer},
		{"SameKey", testSameKey},
		{"ConfirmLateOrClaimAnother", testConfirmLateOrClaimAnother},
		{"OncePerCampaign", testOncePerCampaign},
		{"NextCampaign", testNextCampaign},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a Store on a new database, and returns it and how to open
// another handle on the same database.
func open(tb testing.TB, newDB NewDatabase) (promotions.Store, func() promotions.Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener()
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() promotions.Store {
		tb.Helper()
		again, err := opener()
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

// code is the campaign of the claims of the store's tests, "buy two
// books, get the third free"; next is another, "ten percent off".
const (
	code = promotionsclient.BuyTwoGetOneFreeCode
	next = promotionstest.TenPercentOffCode
)

var discount = bookshop.Discount{Amount: bookshop.Money{Units: 899, Currency: "EUR"}, BookID: 2, Code: code}

// held is customer's claim under key, held until expires.
func held(customer int32, key string, expires time.Time) claim.Claim {
	return claim.Claim{CustomerID: customer, Key: key, State: claim.Held, Discount: discount, Expires: expires}
}

// to returns a Decide that records c, whatever it is given, and stores
// what it was given in own and live.
func to(c claim.Claim, own, live **claim.Claim) claim.Decide {
	return func(o, l *claim.Claim) (claim.Claim, error) {
		*own, *live = o, l
		return c, nil
	}
}

// keep is a Decide that writes nothing.
func keep(own, _ *claim.Claim) (claim.Claim, error) {
	if own == nil {
		return claim.Claim{}, nil
	}
	return *own, nil
}

func usage(tb testing.TB, db promotions.Store, customer int32, code string, now time.Time) claim.Usage {
	tb.Helper()
	u, err := db.Usage(testContext(tb), customer, code, now)
	if err != nil {
		tb.Fatalf("Usage(%d, %s): %v", customer, code, err)
	}
	return u
}

// testUpdate checks what Update gives its rule and what it writes: the
// key's claim and the customer's live one, the expiry of the customer's
// claims past theirs, nothing written on an error or on no change, and
// the times as written.
func testUpdate(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	var own, live *claim.Claim

	got, expired, err := db.Update(ctx, 1, code, "a", t0, to(held(1, "a", t0.Add(time.Minute)), &own, &live))
	want := held(1, "a", t0.Add(time.Minute))
	want.Updated = t0
	if err != nil || expired != 0 || got != want || own != nil || live != nil {
		t.Fatalf("Update(1, a) = %+v, %d, %v, given %v and %v; want %+v, given nothing", got, expired, err, own, live, want)
	}
	if u := usage(t, db, 1, code, t0); u != (claim.Usage{Held: true}) {
		t.Errorf("Usage(1) = %+v, want held", u)
	}
	if u := usage(t, db, 1, code, t0.Add(time.Minute)); u != (claim.Usage{}) {
		t.Errorf("Usage(1) at the claim's expiry = %+v, want nothing: it holds nothing from then", u)
	}

	// Another key of the customer sees "a" live; a failed rule writes
	// nothing.
	refused := errors.New("refused")
	_, _, err = db.Update(ctx, 1, code, "b", t0, func(o, l *claim.Claim) (claim.Claim, error) {
		own, live = o, l
		return held(1, "b", t0), refused
	})
	if !errors.Is(err, refused) || own != nil || live == nil || *live != want {
		t.Errorf("Update(1, b) = %v, given %v and %v; want refused, given no claim of b and a's %+v", err, own, live, want)
	}
	if _, _, err := db.Update(ctx, 1, code, "b", t0, keep); err != nil {
		t.Fatal(err)
	}

	// A second claim held or confirmed is refused by the unique index,
	// whatever the rule says.
	if _, _, err := db.Update(ctx, 1, code, "b", t0, to(held(1, "b", t0.Add(time.Minute)), &own, &live)); err == nil {
		t.Error("Update(1, b) to held while a is held = nil, want the unique index's refusal")
	}
	c := held(1, "b", t0)
	c.State = claim.Confirmed
	if _, _, err := db.Update(ctx, 1, code, "b", t0, to(c, &own, &live)); err == nil {
		t.Error("Update(1, b) to confirmed while a is held = nil, want the unique index's refusal")
	}

	// At a's expiry, the next Update of the customer records it expired,
	// and b may hold.
	later := t0.Add(time.Minute)
	got, expired, err = db.Update(ctx, 1, code, "b", later, to(held(1, "b", later.Add(time.Minute)), &own, &live))
	if err != nil || expired != 1 || live != nil || got.State != claim.Held {
		t.Errorf("Update(1, b) at a's expiry = %+v, %d expired, %v, given live %v; want b held, 1 expired, no live claim", got, expired, err, live)
	}
	_, _, err = db.Update(ctx, 1, code, "a", later, to(claim.Claim{}, &own, &live))
	if err == nil || own == nil || own.State != claim.Expired || !own.Updated.Equal(later) || live == nil || live.Key != "b" {
		t.Errorf("Update(1, a) after: %v, given %+v and %+v; want a expired at %v, b live, and an error for a zero claim", err, own, live, later)
	}

	// The claim of another customer under the same key is another claim.
	if _, _, err := db.Update(ctx, 2, code, "a", t0, to(held(2, "a", later), &own, &live)); err != nil || own != nil || live != nil {
		t.Errorf("Update(2, a) = %v, given %v and %v; want nothing of customer 1's", err, own, live)
	}
	// A rule that returns another claim than its key's is refused.
	if _, _, err := db.Update(ctx, 3, code, "a", t0, to(held(4, "a", later), &own, &live)); err == nil {
		t.Error("Update(3, a) writing customer 4's claim = nil, want an error")
	}
}

// testSweep checks Expire and DeleteEnded: claims held past their expiry
// are recorded expired; released and expired records a week old go, in
// batches; confirmed ones stay for good.
func testSweep(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	var own, live *claim.Claim
	const n = 600 // more than a batch
	for i := range int32(n) {
		if _, _, err := db.Update(ctx, i+1, code, "k", t0, to(held(i+1, "k", t0.Add(time.Minute)), &own, &live)); err != nil {
			t.Fatal(err)
		}
	}
	c := held(n+1, "k", t0.Add(time.Minute))
	c.State = claim.Confirmed
	if _, _, err := db.Update(ctx, n+1, code, "k", t0, to(c, &own, &live)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Expire(ctx, t0.Add(time.Minute-time.Millisecond)); got != 0 || err != nil {
		t.Errorf("Expire before = %d, %v; want 0", got, err)
	}
	if got, err := db.Expire(ctx, t0.Add(time.Minute)); got != n || err != nil {
		t.Errorf("Expire at the expiry = %d, %v; want %d", got, err, n)
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Minute)); got != 0 || err != nil {
		t.Errorf("DeleteEnded(the instant they expired) = %d, %v; want 0", got, err)
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Hour)); got != n || err != nil {
		t.Errorf("DeleteEnded later = %d, %v; want %d", got, err, n)
	}
	if u := usage(t, db, n+1, code, t0.AddDate(1, 0, 0)); !u.Spent {
		t.Errorf("Usage(%d) a year on = %+v, want spent: a use is kept for good", n+1, u)
	}
}

// testAnotherHandle checks that the first start and the claims written
// through one handle are those another handle (a restart, or another
// replica) finds.
func testAnotherHandle(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	if start, err := db.FirstStart(ctx, code, t0); err != nil || !start.Equal(t0) {
		t.Errorf("FirstStart(t0) of a new database = %v, %v; want %v", start, err, t0)
	}
	if start, err := db.FirstStart(ctx, code, t0.Add(time.Hour)); err != nil || !start.Equal(t0) {
		t.Errorf("FirstStart again = %v, %v; want %v, the first", start, err, t0)
	}
	c := held(1, "k", t0.Add(time.Minute))
	c.State = claim.Confirmed
	var own, live *claim.Claim
	if _, _, err := db.Update(ctx, 1, code, "k", t0, to(c, &own, &live)); err != nil {
		t.Fatal(err)
	}

	other := again()
	if start, err := other.FirstStart(ctx, code, t0.Add(48*time.Hour)); err != nil || !start.Equal(t0) {
		t.Errorf("FirstStart through another handle = %v, %v; want %v", start, err, t0)
	}
	if _, _, err := other.Update(ctx, 1, code, "k", t0, keep); err != nil {
		t.Fatal(err)
	}
	if u := usage(t, other, 1, code, t0); !u.Spent {
		t.Errorf("Usage(1) through another handle = %+v, want spent", u)
	}
}

// testDiscountWithoutBook writes and reads back a claim whose discount
// makes no book free (book 0), as a campaign of another shape gives.
func testDiscountWithoutBook(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	var own, live *claim.Claim
	bookless := held(3, "k", t0.Add(time.Hour))
	bookless.Discount = bookshop.Discount{Amount: bookshop.Money{Units: 370, Currency: "EUR"}, Code: next}
	c, _, err := db.Update(ctx, 3, next, "k", t0, to(bookless, &own, &live))
	if err != nil || c.Discount != bookless.Discount {
		t.Errorf("Update(a discount that makes no book free) = %+v, %v; want it written", c, err)
	}
	if _, _, err := db.Update(ctx, 3, next, "k", t0, func(own, _ *claim.Claim) (claim.Claim, error) {
		if own == nil || own.Discount != bookless.Discount {
			return claim.Claim{}, fmt.Errorf("read back %+v, want %+v", own, bookless.Discount)
		}
		return *own, nil
	}); err != nil {
		t.Error(err)
	}
}

// clock is a clock that a test sets, shared by the services of a test. It
// is safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

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

// claimTTL is how long the claims of the services' tests hold a use.
const claimTTL = time.Minute

// services returns a Promotions service on each of n handles of one new
// database ("replicas"), running "buy two books, get the third free"
// (whichever campaign the shop runs now) from before t0, and whose clock
// is the returned one, standing at t0.
func services(tb testing.TB, newDB NewDatabase, n int) ([]*promotions.Service, *clock) {
	tb.Helper()
	db, again := open(tb, newDB)
	clk := &clock{now: t0}
	opts := promotions.Options{Now: clk.Now, ClaimTTL: claimTTL, Campaign: bookshop.Campaign{Starts: t0.Add(-time.Hour)}, Promotion: promotions.BuyTwoGetOneFree()}
	var svcs []*promotions.Service
	for i := range n {
		store := db
		if i > 0 {
			store = again()
		}
		svc, err := promotions.NewService(testContext(tb), store, opts)
		if err != nil {
			tb.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	return svcs, clk
}

// three are lines that earn the promotion: three books, the cheapest
// free.
var three = []bookshop.PromoLine{
	{BookID: 1, Title: "Dune", UnitPrice: bookshop.Money{Units: 1099, Currency: "EUR"}, Quantity: 2},
	{BookID: 2, Title: "Solaris", UnitPrice: bookshop.Money{Units: 899, Currency: "EUR"}, Quantity: 1},
}

// testOncePerCustomer has each of several customers' checkouts claim the
// promotion at once, each under a key of its own, through three handles
// on one database ("replicas"): for each customer exactly one checkout is
// granted the discount, and the others are told another checkout of
// theirs holds it; then each customer's checkouts confirm at once, and
// only the winner's confirmation goes through.
func testOncePerCustomer(t *testing.T, newDB NewDatabase) {
	const customers, checkouts = 8, 6
	svcs, _ := services(t, newDB, 3)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners = make(map[int32][]string)
	)
	start := make(chan struct{})
	for c := range int32(customers) {
		for k := range checkouts {
			svc := svcs[(int(c)+k)%len(svcs)]
			key := fmt.Sprintf("checkout-%d", k)
			wg.Go(func() {
				<-start
				d, outcome, err := svc.Claim(testContext(t), c+1, key, three)
				switch {
				case err != nil:
					t.Errorf("Claim(%d, %s): %v", c+1, key, err)
				case outcome == bookshop.ClaimGranted:
					if d.Amount.Units != 899 {
						t.Errorf("Claim(%d, %s) granted %+v, want 8.99 off", c+1, key, d)
					}
					mu.Lock()
					winners[c+1] = append(winners[c+1], key)
					mu.Unlock()
				case outcome != bookshop.ClaimHeld:
					t.Errorf("Claim(%d, %s) = %v, want granted or held by another checkout", c+1, key, outcome)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	var confirmed atomic.Int32
	for c := range int32(customers) {
		if got := winners[c+1]; len(got) != 1 {
			t.Errorf("customer %d: the discount was granted to %v, want exactly one checkout", c+1, got)
			continue
		}
		for k := range checkouts {
			svc := svcs[k%len(svcs)]
			key := fmt.Sprintf("checkout-%d", k)
			wg.Go(func() {
				err := svc.Confirm(testContext(t), c+1, key)
				switch {
				case err == nil:
					if key != winners[c+1][0] {
						t.Errorf("Confirm(%d, %s) went through, but %s holds the use", c+1, key, winners[c+1][0])
					}
					confirmed.Add(1)
				case key == winners[c+1][0]:
					t.Errorf("Confirm(%d, %s), the winner: %v", c+1, key, err)
				}
			})
		}
	}
	wg.Wait()
	if confirmed.Load() != customers {
		t.Errorf("%d confirmations went through, want %d: one a customer", confirmed.Load(), customers)
	}
	for c := range int32(customers) {
		o, err := svcs[int(c)%len(svcs)].Offer(testContext(t), c+1)
		if err != nil || o.Eligible {
			t.Errorf("Offer(%d) = %+v, %v; want the use spent", c+1, o, err)
		}
	}
}

// testSameKey retries one checkout's claim from many goroutines on two
// handles at once: every call is granted the same discount, and the key
// holds one claim, which one confirmation spends.
func testSameKey(t *testing.T, newDB NewDatabase) {
	svcs, _ := services(t, newDB, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 16 {
		svc := svcs[i%len(svcs)]
		wg.Go(func() {
			<-start
			d, outcome, err := svc.Claim(testContext(t), 7, "one-checkout", three)
			if err != nil || outcome != bookshop.ClaimGranted || d.Amount.Units != 899 || d.BookID != 2 {
				t.Errorf("Claim(7, one-checkout) = %+v, %v, %v; want 8.99 off, granted", d, outcome, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if _, outcome, err := svcs[1].Claim(testContext(t), 7, "another", three); err != nil || outcome != bookshop.ClaimHeld {
		t.Errorf("Claim(7, another) = %v, %v; want held by the first", outcome, err)
	}
	c, err := svcs[0].ConfirmClaim(testContext(t), 7, "one-checkout")
	if err != nil || c.State != claim.Confirmed || c.Discount.Amount.Units != 899 {
		t.Errorf("ConfirmClaim(7, one-checkout) = %+v, %v; want it confirmed with 8.99 off", c, err)
	}
}

// testConfirmLateOrClaimAnother has a customer's claim expire, and then,
// at once, through two handles, its checkout confirm it late while
// another checkout of the customer claims the promotion: exactly one of
// them gets the use, whichever comes first, over many customers.
func testConfirmLateOrClaimAnother(t *testing.T, newDB NewDatabase) {
	const customers = 24
	svcs, clk := services(t, newDB, 2)
	ctx := testContext(t)
	for c := range int32(customers) {
		if _, outcome, err := svcs[0].Claim(ctx, c+1, "late", three); err != nil || outcome != bookshop.ClaimGranted {
			t.Fatalf("Claim(%d, late) = %v, %v", c+1, outcome, err)
		}
	}
	clk.Advance(claimTTL)
	var (
		wg                  sync.WaitGroup
		lateWon, anotherWon [customers]bool
	)
	start := make(chan struct{})
	for c := range int32(customers) {
		wg.Go(func() {
			<-start
			err := svcs[int(c)%2].Confirm(testContext(t), c+1, "late")
			switch {
			case err == nil:
				lateWon[c] = true
			case bookshop.ErrorCode(err) != bookshop.Conflict:
				t.Errorf("Confirm(%d, late) = %v, want it confirmed or a conflict", c+1, err)
			}
		})
		wg.Go(func() {
			<-start
			_, outcome, err := svcs[1-int(c)%2].Claim(testContext(t), c+1, "another", three)
			switch {
			case err != nil:
				t.Errorf("Claim(%d, another): %v", c+1, err)
			case outcome == bookshop.ClaimGranted:
				anotherWon[c] = true
			case outcome != bookshop.ClaimUsed:
				t.Errorf("Claim(%d, another) = %v, want granted or used", c+1, outcome)
			}
		})
	}
	close(start)
	wg.Wait()
	for c := range customers {
		if lateWon[c] == anotherWon[c] {
			t.Errorf("customer %d: the late confirmation went through: %v, the other claim: %v; want exactly one", c+1, lateWon[c], anotherWon[c])
		}
	}
}

// look returns a Decide that writes nothing, and stores what it was given
// in own and live.
func look(own, live **claim.Claim) claim.Decide {
	return func(o, l *claim.Claim) (claim.Claim, error) {
		*own, *live = o, l
		return keep(o, l)
	}
}

// testOncePerCampaign checks that a customer has a use of each campaign:
// each campaign's first start is its own; a customer's claim confirmed of
// one campaign is not the live claim of another, which they may hold and
// spend beside it; and the unique index refuses a second claim held or
// confirmed of one campaign, not of two.
func testOncePerCampaign(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	later := t0.Add(24 * time.Hour)
	other := again()
	for _, tc := range []struct {
		store     promotions.Store
		code      string
		now, want time.Time
	}{
		{db, code, t0, t0},
		{db, next, later, later},
		{db, code, later, t0},
		{other, next, later.Add(time.Hour), later},
		{other, code, later.Add(time.Hour), t0},
	} {
		if start, err := tc.store.FirstStart(ctx, tc.code, tc.now); err != nil || !start.Equal(tc.want) {
			t.Errorf("FirstStart(%s, %v) = %v, %v; want %v, the first start of %s", tc.code, tc.now, start, err, tc.want, tc.code)
		}
	}

	var own, live *claim.Claim
	used := held(1, "used", t0.Add(time.Minute))
	used.State = claim.Confirmed
	if _, _, err := db.Update(ctx, 1, code, "used", t0, to(used, &own, &live)); err != nil {
		t.Fatal(err)
	}
	if u := usage(t, db, 1, next, later); u != (claim.Usage{}) {
		t.Errorf("Usage(1, %s) = %+v, want nothing: customer 1 used %s only", next, u, code)
	}
	tenOff := func(customer int32, key string, state string) claim.Claim {
		return claim.Claim{CustomerID: customer, Key: key, State: state, Expires: later.Add(time.Minute),
			Discount: bookshop.Discount{Amount: bookshop.Money{Units: 309, Currency: "EUR"}, Code: next}}
	}
	got, _, err := db.Update(ctx, 1, next, "next", later, to(tenOff(1, "next", claim.Held), &own, &live))
	if err != nil || got.State != claim.Held || own != nil || live != nil {
		t.Errorf("Update(1, %s, next) = %+v, %v, given %v and %v; want it held, given no claim: customer 1's use of %s is not one of %s", next, got, err, own, live, code, next)
	}
	if u := usage(t, db, 1, next, later); u != (claim.Usage{Held: true}) {
		t.Errorf("Usage(1, %s) = %+v, want held", next, u)
	}
	if u := usage(t, db, 1, code, later); u != (claim.Usage{Spent: true}) {
		t.Errorf("Usage(1, %s) = %+v, want spent, and held by none", code, u)
	}
	for _, tc := range []struct {
		code, live string
	}{{code, "used"}, {next, "next"}} {
		if _, _, err := db.Update(ctx, 1, tc.code, "another", later, look(&own, &live)); err != nil || own != nil || live == nil || live.Key != tc.live {
			t.Errorf("Update(1, %s, another) = %v, given %v and %+v; want the live claim of %s, %q", tc.code, err, own, live, tc.code, tc.live)
		}
	}
	for _, state := range []string{claim.Held, claim.Confirmed} {
		if _, _, err := db.Update(ctx, 1, next, "another", later, to(tenOff(1, "another", state), &own, &live)); err == nil {
			t.Errorf("Update(1, %s, another) to %s while next is held = nil, want the unique index's refusal", next, state)
		}
	}
	c := tenOff(1, "next", claim.Confirmed)
	if _, _, err := other.Update(ctx, 1, next, "next", later, to(c, &own, &live)); err != nil {
		t.Errorf("Update(1, %s, next) to confirmed: %v", next, err)
	}
	if u := usage(t, other, 1, next, later); !u.Spent {
		t.Errorf("Usage(1, %s) after its claim was confirmed = %+v, want spent", next, u)
	}

	// A claim of each campaign held at once, by one customer.
	if _, _, err := db.Update(ctx, 2, code, "a", later, to(held(2, "a", later.Add(time.Minute)), &own, &live)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Update(ctx, 2, next, "b", later, to(tenOff(2, "b", claim.Held), &own, &live)); err != nil || live != nil {
		t.Errorf("Update(2, %s, b) while customer 2 holds a claim of %s = %v, given live %v; want it held, given none", next, code, err, live)
	}
}

// testNextCampaign runs "buy two books, get the third free", each of its
// services from the first start of its campaign as the shop runs it, and
// then, on the same database, as the shop's next release would, another
// campaign (promotionstest.TenPercentOff), from its own first start: a
// customer who used the first sees the next one's banner and is granted
// its discount, once; a claim of the first that its checkout confirms
// after the switch is confirmed as the first's, against the first's
// claims (held: confirmed; expired and taken by none: confirmed; expired
// and spent by another checkout: refused).
func testNextCampaign(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	clk := &clock{now: t0}
	service := func(store promotions.Store, p promotions.Promotion) *promotions.Service {
		t.Helper()
		svc, err := promotions.NewService(ctx, store, promotions.Options{Now: clk.Now, ClaimTTL: claimTTL, Promotion: p})
		if err != nil {
			t.Fatalf("NewService(%s): %v", p.Code, err)
		}
		return svc
	}
	grant := func(svc *promotions.Service, customer int32, key string) bookshop.Discount {
		t.Helper()
		d, outcome, err := svc.Claim(ctx, customer, key, three)
		if err != nil || outcome != bookshop.ClaimGranted {
			t.Fatalf("Claim(%d, %s) of %s = %v, %v; want it granted", customer, key, svc.Promotion().Code, outcome, err)
		}
		return d
	}
	confirm := func(svc *promotions.Service, customer int32, key string) {
		t.Helper()
		if err := svc.Confirm(ctx, customer, key); err != nil {
			t.Fatalf("Confirm(%d, %s) through %s: %v", customer, key, svc.Promotion().Code, err)
		}
	}

	first := service(db, promotions.BuyTwoGetOneFree())
	if s := first.Campaign().Starts; !s.Equal(t0) {
		t.Errorf("the first campaign starts at %v, want %v, its first start", s, t0)
	}
	grant(first, 1, "first")
	confirm(first, 1, "first")
	grant(first, 3, "late") // expires, and is confirmed after the switch
	grant(first, 4, "late") // expires, and another checkout spends the use
	clk.Advance(claimTTL)
	grant(first, 4, "other")
	confirm(first, 4, "other")
	clk.Advance(24 * time.Hour)
	grant(first, 2, "in-flight") // held at the switch

	switched := clk.Now()
	nextSvc := service(again(), promotionstest.TenPercentOff())
	o, err := nextSvc.Offer(ctx, 1)
	if err != nil || o.Code != next || o.Banner != promotionstest.TenPercentOffBanner || !o.Active || !o.Eligible || !o.Starts.Equal(switched) {
		t.Errorf("Offer(1) of the next campaign = %+v, %v; want its banner, active and eligible, from its own first start %v", o, err, switched)
	}
	if s := service(db, promotions.BuyTwoGetOneFree()).Campaign().Starts; !s.Equal(t0) {
		t.Errorf("the first campaign, run again after the next started, starts at %v; want its own first start %v", s, t0)
	}
	want := bookshop.Discount{Amount: bookshop.Money{Units: 309, Currency: "EUR"}, Code: next, Label: promotionstest.TenPercentOffLabel} // 10% of 30.97
	if d, ok, err := nextSvc.Price(ctx, 1, three); err != nil || !ok || d != want {
		t.Errorf("Price(1) of the next campaign = %+v, %v, %v; want %+v", d, ok, err, want)
	}
	if d := grant(nextSvc, 1, "next"); d != want {
		t.Errorf("Claim(1, next) of the next campaign granted %+v, want %+v", d, want)
	}
	confirm(nextSvc, 1, "next")
	if o, err := nextSvc.Offer(ctx, 1); err != nil || o.Eligible {
		t.Errorf("Offer(1) of the next campaign after its use = %+v, %v; want it spent", o, err)
	}
	if _, outcome, err := nextSvc.Claim(ctx, 1, "again", three); err != nil || outcome != bookshop.ClaimUsed {
		t.Errorf("Claim(1, again) of the next campaign = %v, %v; want used: once per campaign", outcome, err)
	}
	if d := grant(nextSvc, 1, "first"); d.Code != code || d.Amount.Units != 899 {
		t.Errorf("Claim(1, first) again, its order placed under the first campaign = %+v, want the first's discount", d)
	}

	// Customer 2 holds a claim of the first at the switch: it does not
	// stand in the way of the next, and is confirmed as the first's.
	grant(nextSvc, 2, "ten")
	c, err := nextSvc.ConfirmClaim(ctx, 2, "in-flight")
	if err != nil || c.State != claim.Confirmed || c.Discount.Code != code {
		t.Errorf("ConfirmClaim(2, in-flight) after the switch = %+v, %v; want it confirmed, of %s", c, err, code)
	}
	confirm(nextSvc, 2, "ten")
	// Customer 3's claim of the first expired, and no other took the use.
	c, err = nextSvc.ConfirmClaim(ctx, 3, "late")
	if err != nil || c.State != claim.Confirmed || c.Discount.Code != code {
		t.Errorf("ConfirmClaim(3, late) after the switch, expired = %+v, %v; want it confirmed, of %s", c, err, code)
	}
	if o, err := nextSvc.Offer(ctx, 3); err != nil || !o.Eligible {
		t.Errorf("Offer(3) of the next campaign = %+v, %v; want eligible: customer 3 used the first only", o, err)
	}
	// Customer 4's expired, and another checkout of theirs spent the use.
	if err := nextSvc.Confirm(ctx, 4, "late"); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Errorf("Confirm(4, late) after the switch, expired and the use spent by another = %v, want a conflict", err)
	}
}

// RowsBeforeCampaigns are rows of a database of the schema before
// campaigns were told apart (SQLite's 0002, PostgreSQL's 0001), in SQL
// that both take: the service's first start at t0, the use of customer 1
// spent, that of customer 2 held (until an hour after t0), and a claim of
// customer 3 released, all of "buy two books, get the third free", the
// one campaign run then.
func RowsBeforeCampaigns() []string {
	return []string{
		fmt.Sprintf(`INSERT INTO service_start VALUES (1, %d)`, t0.UnixMilli()),
		`INSERT INTO claims VALUES (1, 'placed', 'confirmed', 899, 'EUR', 2, 'buy_two_get_one_free', 0, 0, 0)`,
		fmt.Sprintf(`INSERT INTO claims VALUES (2, 'pending', 'held', 899, 'EUR', 2, 'buy_two_get_one_free', 0, %d, 0)`, t0.Add(time.Hour).UnixMilli()),
		`INSERT INTO claims VALUES (3, 'failed', 'released', 899, 'EUR', 2, 'buy_two_get_one_free', 0, 0, 0)`,
	}
}

// CheckMigratedToCampaigns checks db, opened on a database that held
// RowsBeforeCampaigns and was migrated since: the first start recorded is
// that of "buy two books, get the third free", and the next campaign
// gets one of its own; the uses are kept, each customer may still use
// "buy two" once, and every one of them may use the next campaign beside
// it.
func CheckMigratedToCampaigns(t *testing.T, db promotions.Store) {
	t.Helper()
	ctx := testContext(t)
	later := t0.Add(24 * time.Hour)
	for _, tc := range []struct {
		code string
		want time.Time
	}{{code, t0}, {next, later}} {
		if start, err := db.FirstStart(ctx, tc.code, later); err != nil || !start.Equal(tc.want) {
			t.Errorf("FirstStart(%s) after the migration = %v, %v; want %v", tc.code, start, err, tc.want)
		}
	}
	for _, tc := range []struct {
		customer int32
		code     string
		want     claim.Usage
	}{
		{1, code, claim.Usage{Spent: true}},
		{2, code, claim.Usage{Held: true}},
		{3, code, claim.Usage{}},
		{1, next, claim.Usage{}},
		{2, next, claim.Usage{}},
	} {
		if u := usage(t, db, tc.customer, tc.code, t0); u != tc.want {
			t.Errorf("Usage(%d, %s) after the migration = %+v, want %+v", tc.customer, tc.code, u, tc.want)
		}
	}
	var own, live *claim.Claim
	if _, _, err := db.Update(ctx, 2, code, "another", t0, to(held(2, "another", t0.Add(time.Hour)), &own, &live)); err == nil {
		t.Errorf("a second claim of %s held by customer 2 was written after the migration", code)
	}
	if _, _, err := db.Update(ctx, 3, code, "again", t0, to(held(3, "again", t0.Add(time.Hour)), &own, &live)); err != nil || live != nil {
		t.Errorf("Update(3, %s, again) after the migration = %v, given live %v; want it held, given none: 3's claim was released", code, err, live)
	}
	for _, customer := range []int32{1, 2, 3} {
		c := held(customer, "next", later.Add(time.Hour))
		c.Discount = bookshop.Discount{Amount: bookshop.Money{Units: 309, Currency: "EUR"}, Code: next}
		if _, _, err := db.Update(ctx, customer, next, "next", later, to(c, &own, &live)); err != nil || live != nil {
			t.Errorf("Update(%d, %s, next) after the migration = %v, given live %v; want it held, given none", customer, next, err, live)
		}
	}
}
