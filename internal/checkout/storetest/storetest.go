// Package storetest is the contract of checkout.Store, the saga log, as
// tests: one suite that every implementation runs (package sqlite's and
// package postgres's tests call Run), so that the two keep the same
// promises, the same tests and not two copies of them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. open returns the implementation's error when it cannot
// open the Store.
type NewDatabase func(tb testing.TB) (open func() (checkout.Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"RecordsRoundTrip", testRecordsRoundTrip},
		{"BeginOnce", testBeginOnce},
		{"OneCheckoutACart", testOneCheckoutACart},
		{"OneCheckoutACartAtOnce", testOneCheckoutACartAtOnce},
		{"PlacedSinceTheMark", testPlacedSinceTheMark},
		{"UnfinishedAndDeleteEnded", testUnfinishedAndDeleteEnded},
		{"UnfinishedDue", testUnfinishedDue},
		{"DeleteEndedInBatches", testDeleteEndedInBatches},
		{"AnotherHandle", testAnotherHandle},
		{"Unsynced", testUnsynced},
		{"Lease", testLease},
		{"LeaseExpires", testLeaseExpires},
		{"BeginOnceAtOnce", testBeginOnceAtOnce},
		{"LeaseOnceAtOnce", testLeaseOnceAtOnce},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a Store on a new database, and returns it and how to open
// another handle on the same database.
func open(tb testing.TB, newDB NewDatabase) (checkout.Store, func() checkout.Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener()
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() checkout.Store {
		tb.Helper()
		again, err := opener()
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// The replicas of the tests, and their leases.
const (
	me, other = "replica-a", "replica-b"
	ttl       = time.Minute
)

var (
	mine   = saga.Lease{Owner: me, TTL: ttl}
	others = saga.Lease{Owner: other, TTL: ttl}
)

// record returns a new checkout of customer's key, as Place records it.
func record(customer int32, key, id string) *saga.Record {
	return &saga.Record{
		CustomerID: customer, Key: key, ID: id, Request: "fp-" + key, State: saga.Reserving, CartID: "c-" + strconv.Itoa(int(customer)),
		Lines:    []bookshop.OrderLine{{BookID: 2, Title: "Dune", UnitPrice: eur(1099), Quantity: 2, Total: eur(2198)}},
		Subtotal: eur(2198), Discount: eur(0), Total: eur(2198),
		Shipping: bookshop.Address{Name: "Ada", Line1: "1 Main St", City: "London", PostalCode: "N1", Country: "GB"},
		Created:  t0, Updated: t0,
	}
}

func get(tb testing.TB, db checkout.Store, customer int32, key string) *saga.Record {
	tb.Helper()
	r, err := db.Get(testContext(tb), customer, key)
	if err != nil {
		tb.Fatalf("Get(%d, %s): %v", customer, key, err)
	}
	return r
}

// begin records r, leased to me, failing the test on an error.
func begin(tb testing.TB, db checkout.Store, r *saga.Record) {
	tb.Helper()
	if err := db.Begin(testContext(tb), r, mine, saga.NoMark); err != nil {
		tb.Fatalf("Begin(%d, %s): %v", r.CustomerID, r.Key, err)
	}
}

// save writes r as me, failing the test on an error.
func save(tb testing.TB, db checkout.Store, r *saga.Record) {
	tb.Helper()
	if err := db.Save(testContext(tb), r, me); err != nil {
		tb.Fatalf("Save(%d, %s, %s): %v", r.CustomerID, r.Key, r.State, err)
	}
}

// testRecordsRoundTrip writes a checkout through its states and reads
// every field back as written.
func testRecordsRoundTrip(t *testing.T, newDB NewDatabase) {
	db, _ := open(t, newDB)
	if r := get(t, db, 1, "k"); r != nil {
		t.Fatalf("Get(an unknown key) = %+v, want nil", r)
	}
	r := record(1, "k", "id1")
	r.Confirmed, r.Claim = eur(1099), saga.Claiming // the discount the shopper was shown, to claim
	begin(t, db, r)
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	r.Claim, r.Discount, r.Total, r.Promotions = saga.Granted, eur(1099), eur(1099), []string{promotionsclient.BuyTwoGetOneFreeCode}
	r.State, r.ReservationID, r.ChargeID, r.ChargeTried, r.Updated = saga.Charged, "res-1", "ch_1", true, t0.Add(time.Second)
	r.Attempts, r.NextTry = 3, t0.Add(time.Minute)
	save(t, db, r)
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	r.State, r.Attempts, r.NextTry = saga.Committed, 0, time.Time{}
	save(t, db, r)
	r.State, r.Updated, r.Claim = saga.Done, t0.Add(2*time.Second), saga.Confirmed
	r.Order = bookshop.Order{ID: "o_1", CustomerID: 1, Lines: r.Lines, Subtotal: r.Subtotal, Discount: r.Discount, Total: r.Total,
		Promotions: r.Promotions, PaymentID: "ch_1", Shipping: r.Shipping, State: "placed", Created: t0, Updated: t0}
	save(t, db, r)
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	// The same key of another customer is another checkout.
	if r := get(t, db, 2, "k"); r != nil {
		t.Errorf("Get(another customer's key) = %+v, want nil", r)
	}
}

// testBeginOnce checks that a key is recorded once: a second Begin fails,
// but for a checkout that failed with Unavailable, which a new attempt
// replaces; and that Save writes only the attempt it names.
func testBeginOnce(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	first := record(1, "k", "id1")
	begin(t, db, first)
	for _, state := range []saga.State{saga.Reserving, saga.Charged, saga.Done} {
		first.State = state
		save(t, db, first)
		if err := db.Begin(ctx, record(1, "k", "id2"), mine, saga.NoMark); !errors.Is(err, saga.ErrKeyTaken) {
			t.Errorf("Begin(the key, %s) = %v, want ErrKeyTaken", state, err)
		}
	}
	first.State, first.ErrCode, first.ErrMessage = saga.Failed, bookshop.Conflict, "card declined"
	if err := db.Save(ctx, first, me); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("Save(a record that ended, and let go of) = %v, want ErrNotHeld", err)
	}
	if _, leased, err := db.Lease(ctx, 1, "k", mine); err != nil || leased {
		t.Errorf("Lease(a record that ended) = %v, %v; want not leased", leased, err)
	}
	// A record that ended is written by a tool or a test, unleased.
	again := record(1, "k2", "id3")
	if err := db.Begin(ctx, again, saga.Lease{}, saga.NoMark); err != nil {
		t.Fatal(err)
	}
	if _, leased, err := db.Lease(ctx, 1, "k2", mine); err != nil || !leased {
		t.Fatalf("Lease(a record begun without a lease) = %v, %v; want leased", leased, err)
	}
	again.State, again.ErrCode, again.ErrMessage = saga.Failed, bookshop.Conflict, "card declined"
	save(t, db, again)
	if err := db.Begin(ctx, record(1, "k2", "id4"), mine, saga.NoMark); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("Begin(the key, failed for good) = %v, want ErrKeyTaken", err)
	}
	unavailable := record(1, "k3", "id5")
	begin(t, db, unavailable)
	unavailable.State, unavailable.ErrCode = saga.Failed, bookshop.Unavailable
	save(t, db, unavailable)
	second := record(1, "k3", "id6")
	if err := db.Begin(ctx, second, others, saga.NoMark); err != nil {
		t.Fatalf("Begin(the key, failed with Unavailable) = %v, want a new attempt", err)
	}
	if got := get(t, db, 1, "k3"); !reflect.DeepEqual(got, second) {
		t.Errorf("Get = %+v, want the new attempt %+v", got, second)
	}
	unavailable.State = saga.Done
	if err := db.Save(ctx, unavailable, other); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("Save(the replaced attempt) = %v, want ErrNotHeld", err)
	}
	if err := db.Begin(ctx, record(2, "k", "id6"), mine, saga.NoMark); err == nil {
		t.Error("Begin(another key, the same attempt id) succeeded: attempt ids must be unique")
	}
}

// testOneCheckoutACart checks that a cart is checked out under one key at
// a time: while a record of it has not ended, Begin of another key of
// the cart fails with ErrCartBusy and records nothing, whatever the
// other's state, and a key's own record is told first; another cart of
// the customer, and another customer, begin as usual; and once the
// record ends, the next begins.
func testOneCheckoutACart(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	first := record(1, "a", "id1")
	begin(t, db, first)
	for _, state := range []saga.State{saga.Reserving, saga.Charged, saga.Committed, saga.Ordered, saga.Undoing} {
		first.State = state
		save(t, db, first)
		if err := db.Begin(ctx, record(1, "b", "id2-"+string(state)), mine, saga.NoMark); !errors.Is(err, saga.ErrCartBusy) {
			t.Errorf("Begin(another key, the first %s) = %v, want ErrCartBusy", state, err)
		}
		if r := get(t, db, 1, "b"); r != nil {
			t.Errorf("Begin refused recorded %+v", r)
		}
	}
	anotherCustomer := record(2, "b", "id3")
	anotherCustomer.CartID = first.CartID // another customer's cart of the same name is another cart
	begin(t, db, anotherCustomer)
	otherCart := record(1, "d", "id3b")
	otherCart.CartID = "c-1-other"
	begin(t, db, otherCart)
	first.State = saga.Done
	save(t, db, first)
	second := record(1, "b", "id4")
	begin(t, db, second)
	// A key that failed with Unavailable is not tried anew while another
	// is under way; a key with a record is told so first.
	second.State, second.ErrCode = saga.Failed, bookshop.Unavailable
	save(t, db, second)
	begin(t, db, record(1, "c", "id5"))
	if err := db.Begin(ctx, record(1, "b", "id6"), mine, saga.NoMark); !errors.Is(err, saga.ErrCartBusy) {
		t.Errorf("Begin(a key that failed with Unavailable, another under way) = %v, want ErrCartBusy", err)
	}
	if got := get(t, db, 1, "b"); got.ID != "id4" {
		t.Errorf("after a refused Begin, the key's record is attempt %s, want id4 still", got.ID)
	}
	if err := db.Begin(ctx, record(1, "a", "id7"), mine, saga.NoMark); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("Begin(a key done, another under way) = %v, want ErrKeyTaken", err)
	}
}

// testPlacedSinceTheMark: Begin refuses a checkout of a cart that
// another key's checkout of it placed its order of after the mark it is
// given, and no other; the marks go on from the last placed order after
// a sweep. A log that keeps no marks says so, and refuses one.
func testPlacedSinceTheMark(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	mark := func() saga.Mark {
		t.Helper()
		m, err := db.PlacedMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m0 := mark()
	if m0 == saga.NoMark {
		if err := db.Begin(ctx, record(1, "a", "id1"), mine, 0); err == nil {
			t.Error("Begin with a mark, on a log that keeps none = nil, want an error")
		}
		return
	}
	if m0 != 0 {
		t.Errorf("the mark of a new log = %d, want 0", m0)
	}

	// Key a places its order of cart c-1; the mark moves on.
	a := record(1, "a", "id1")
	begin(t, db, a)
	a.State = saga.Done
	save(t, db, a)
	m1 := mark()
	if m1 <= m0 {
		t.Fatalf("the mark after an order placed = %d, want more than %d", m1, m0)
	}

	// Key b read the cart before a placed its order: refused. Read after,
	// it begins.
	if err := db.Begin(ctx, record(1, "b", "id2"), mine, m0); !errors.Is(err, saga.ErrCartBusy) {
		t.Errorf("Begin(since a mark before another key's order of the cart) = %v, want ErrCartBusy", err)
	}
	if r := get(t, db, 1, "b"); r != nil {
		t.Errorf("Begin refused recorded %+v", r)
	}
	b := record(1, "b", "id2")
	if err := db.BeginUnsynced(ctx, b, mine, m1); err != nil {
		t.Errorf("BeginUnsynced(since the mark after the order) = %v, want nil", err)
	}
	// The key's own order, another cart's and another customer's do not
	// refuse a checkout.
	a2 := record(1, "a", "id3")
	a2.CartID = "c-1-other"
	if err := db.Begin(ctx, a2, mine, m0); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("Begin(the key done, since a mark before its own order) = %v, want ErrKeyTaken", err)
	}
	other := record(1, "d", "id4")
	other.CartID = "c-1-other"
	if err := db.Begin(ctx, other, mine, m0); err != nil {
		t.Errorf("Begin(another cart, since a mark before the order) = %v, want nil", err)
	}
	c := record(2, "c", "id5")
	c.CartID = a.CartID // another customer's cart of the same name is another cart
	if err := db.Begin(ctx, c, mine, m0); err != nil {
		t.Errorf("Begin(another customer, since a mark before the order) = %v, want nil", err)
	}
	// A checkout that failed placed no order: the mark stays.
	c.State, c.ErrCode = saga.Failed, bookshop.Conflict
	save(t, db, c)
	if m := mark(); m != m1 {
		t.Errorf("the mark after a checkout failed = %d, want %d", m, m1)
	}

	// A sweep of every ended checkout keeps the last order placed: the
	// next goes on from it, and another handle reads the same mark.
	b.State = saga.Done
	save(t, db, b)
	m2 := mark()
	if m2 <= m1 {
		t.Fatalf("the mark after a second order = %d, want more than %d", m2, m1)
	}
	if n, err := db.DeleteEnded(ctx, t0.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("DeleteEnded = %d, %v; want 2 (a and c, not b, the last placed)", n, err)
	}
	if m, err := again().PlacedMark(ctx); err != nil || m != m2 {
		t.Errorf("the mark after a sweep, from another handle = %d, %v; want %d", m, err, m2)
	}
	other.State = saga.Done
	save(t, db, other)
	if m := mark(); m <= m2 {
		t.Errorf("the mark after a sweep and an order = %d, want more than %d", m, m2)
	}
}

// testOneCheckoutACartAtOnce begins checkouts of one cart under many
// keys from many goroutines on two handles at once, as forms of one cart
// sent together to two replicas: exactly one is recorded, and every other
// is refused with ErrCartBusy.
func testOneCheckoutACartAtOnce(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	begun := beginAtOnce(t, []checkout.Store{db, again()}, saga.ErrCartBusy, func(i int) *saga.Record {
		return record(1, fmt.Sprintf("k%d", i), fmt.Sprintf("id%d", i))
	})
	if begun != 1 {
		t.Errorf("%d Begins of one cart's keys succeeded, want 1", begun)
	}
	if got, _, err := db.CountUnfinished(testContext(t)); got != 1 || err != nil {
		t.Errorf("CountUnfinished = %d, %v; want the one begun", got, err)
	}
}

func testUnfinishedAndDeleteEnded(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	states := []saga.State{saga.Reserving, saga.Charged, saga.Committed, saga.Ordered, saga.Undoing, saga.Done, saga.Failed}
	for i, state := range states {
		r := record(int32(i+1), "k", "id"+strconv.Itoa(i))
		begin(t, db, r)
		// Changed in the reverse order of the list: the last first.
		r.State, r.Updated = state, t0.Add(time.Duration(len(states)-i)*time.Minute)
		save(t, db, r)
	}
	recs, err := db.Unfinished(ctx, me, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statesOf(recs), []saga.State{saga.Committed, saga.Charged, saga.Undoing, saga.Ordered, saga.Reserving}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unfinished = %v, want %v (the paid first, then least recently changed first)", got, want)
	}
	if recs, err := db.Unfinished(ctx, me, t0, 2); err != nil || len(recs) != 2 {
		t.Errorf("Unfinished(2) = %d records, %v; want 2", len(recs), err)
	}
	if n, oldest, err := db.CountUnfinished(ctx); n != 5 || !oldest.Equal(t0) || err != nil {
		t.Errorf("CountUnfinished = %d, %v, %v; want 5, %v", n, oldest, err, t0)
	}
	// Done was changed at t0+2m, Failed at t0+1m. Another checkout placed
	// its order after Done, at t0+2h: a log that keeps marks keeps the
	// last order placed (see PlacedMark), which is not Done then.
	later := record(int32(len(states)+1), "k", "id-later")
	begin(t, db, later)
	later.State, later.Updated = saga.Done, t0.Add(2*time.Hour)
	save(t, db, later)
	if n, err := db.DeleteEnded(ctx, t0.Add(90*time.Second)); n != 1 || err != nil {
		t.Errorf("DeleteEnded(t0+90s) = %d, %v; want 1 (the failed)", n, err)
	}
	if n, err := db.DeleteEnded(ctx, t0.Add(time.Hour)); n != 1 || err != nil {
		t.Errorf("DeleteEnded(t0+1h) = %d, %v; want 1 (the done)", n, err)
	}
	if recs, _ := db.Unfinished(ctx, me, t0, 10); len(recs) != 5 {
		t.Errorf("after the sweeps, %d unfinished, want the 5 still", len(recs))
	}
}

func statesOf(recs []*saga.Record) []saga.State {
	var states []saga.State
	for _, r := range recs {
		states = append(states, r.State)
	}
	return states
}

// testUnfinishedDue checks the recoverer's list: a checkout postponed is
// left out until its time comes, then listed by it; a paid one comes
// before the others whatever their times; a step that moves a checkout
// on (Save) makes it due at once; and every unfinished checkout is
// counted, not only those listed.
func testUnfinishedDue(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	const n = 150
	for i := range n {
		r := record(int32(i+1), "k", "id"+strconv.Itoa(i))
		r.State = saga.Undoing
		begin(t, db, r)
	}
	paid := record(n+1, "k", "paid")
	paid.State, paid.Created, paid.Updated = saga.Charged, t0.Add(time.Hour), t0.Add(time.Hour)
	begin(t, db, paid)
	if recs, err := db.Unfinished(ctx, me, t0, 100); err != nil || len(recs) != 100 || recs[0].ID != "paid" {
		t.Fatalf("Unfinished(100) = %v, %v; want 100 records, the paid one first", statesOf(recs), err)
	}
	// The first 100 postponed, each by its own time.
	for i := range 100 {
		r := get(t, db, int32(i+1), "k")
		r.Attempts, r.NextTry = 1, t0.Add(time.Duration(100-i)*time.Second)
		if err := db.Postpone(ctx, r, me); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, db, 1, "k"); got.Attempts != 1 || !got.NextTry.Equal(t0.Add(100*time.Second)) || got.State != saga.Undoing {
		t.Errorf("after Postpone, Get = %+v, want 1 attempt, next at t0+100s, still undoing", got)
	}
	recs, err := db.Unfinished(ctx, me, t0, 200)
	if err != nil || len(recs) != n-100+1 {
		t.Fatalf("Unfinished(t0) = %d records, %v; want the %d not postponed", len(recs), err, n-100+1)
	}
	recs, err = db.Unfinished(ctx, me, t0.Add(2*time.Second), 200)
	if err != nil || len(recs) != n-100+1+2 {
		t.Fatalf("Unfinished(t0+2s) = %d records, %v; want %d", len(recs), err, n-100+1+2)
	}
	// Those never postponed first (next at 0), then by their time.
	if got := []string{recs[len(recs)-2].ID, recs[len(recs)-1].ID}; !reflect.DeepEqual(got, []string{"id99", "id98"}) {
		t.Errorf("Unfinished(t0+2s) ends with %v, want the two due by then, the earliest first", got)
	}
	// Save moves a checkout on: due at once again.
	r := get(t, db, 1, "k")
	r.State, r.Attempts, r.NextTry = saga.Failed, 0, time.Time{}
	save(t, db, r)
	if n, oldest, err := db.CountUnfinished(ctx); n != 150 || !oldest.Equal(t0) || err != nil {
		t.Errorf("CountUnfinished = %d, %v, %v; want 150 (more than one list), the oldest at %v", n, oldest, err, t0)
	}
	// A Postpone of a state the record is no longer in writes nothing.
	r = get(t, db, 2, "k")
	r.State, r.Attempts = saga.Charged, 5
	if err := db.Postpone(ctx, r, me); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("Postpone(a state gone) = %v, want ErrNotHeld", err)
	}
}

func testDeleteEndedInBatches(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	const n = 1203 // more than two batches
	for i := range n {
		r := record(int32(i+1), "k", "id"+strconv.Itoa(i))
		r.State = saga.Done
		if err := db.Begin(ctx, r, saga.Lease{}, saga.NoMark); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Second)); got != n || err != nil {
		t.Errorf("DeleteEnded = %d, %v; want %d", got, err, n)
	}
}

// testAnotherHandle records a checkout through one handle and reads it
// through another, as a restart or another replica does: the record is
// there, unfinished.
func testAnotherHandle(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	r := record(7, "k", "id7")
	begin(t, db, r)
	r.State, r.ReservationID, r.ChargeID = saga.Charged, "res", "ch"
	save(t, db, r)
	other := again()
	if got := get(t, other, 7, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("through another handle, Get = %+v, want %+v", got, r)
	}
	if recs, err := other.Unfinished(ctx, me, t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("through another handle, Unfinished = %v, %v; want the checkout", recs, err)
	}
}

// testUnsynced checks that BeginUnsynced and SaveUnsynced keep the rules
// of Begin and Save (a key recorded once, a cart checked out under one
// key at a time, a write only of the attempt the owner leases) and write
// what they are given, readable at once, through another handle too;
// and that Sync then returns nil.
func testUnsynced(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	r := record(8, "k", "id8")
	if err := db.BeginUnsynced(ctx, r, mine, saga.NoMark); err != nil {
		t.Fatalf("BeginUnsynced: %v", err)
	}
	if err := db.BeginUnsynced(ctx, record(8, "k", "id8b"), mine, saga.NoMark); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("BeginUnsynced(the key again) = %v, want ErrKeyTaken", err)
	}
	if err := db.BeginUnsynced(ctx, record(8, "k2", "id8c"), mine, saga.NoMark); !errors.Is(err, saga.ErrCartBusy) {
		t.Errorf("BeginUnsynced(another key, the same cart) = %v, want ErrCartBusy", err)
	}
	r.State, r.ReservationID, r.ChargeID, r.ChargeTried, r.Updated = saga.Charged, "res-8", "ch_8", true, t0.Add(time.Second)
	if err := db.SaveUnsynced(ctx, r, me); err != nil {
		t.Fatalf("SaveUnsynced: %v", err)
	}
	if err := db.SaveUnsynced(ctx, r, other); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("SaveUnsynced(by another owner) = %v, want ErrNotHeld", err)
	}
	stale := *r
	stale.ID = "id8-another-attempt"
	if err := db.SaveUnsynced(ctx, &stale, me); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("SaveUnsynced(another attempt) = %v, want ErrNotHeld", err)
	}
	if got := get(t, again(), 8, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("through another handle, Get = %+v, want %+v", got, r)
	}
	if err := db.Sync(ctx); err != nil {
		t.Errorf("Sync = %v", err)
	}
	r.State = saga.Committed
	if err := db.SaveUnsynced(ctx, r, me); err != nil {
		t.Fatalf("SaveUnsynced: %v", err)
	}
	r.State, r.Updated = saga.Done, t0.Add(2*time.Second)
	save(t, db, r)
	if err := db.Sync(ctx); err != nil {
		t.Errorf("Sync after a durable Save = %v", err)
	}
	if got := get(t, db, 8, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
}

// testLease checks the leases: a record begun is its owner's, leased
// again by it, not by another, whose writes are refused and whose
// recoverer's list passes it over; let go, another leases it, and then
// the first's writes are refused; the end of a checkout ends its lease.
func testLease(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	replica := again()
	if r, leased, err := db.Lease(ctx, 1, "none", mine); r != nil || leased || err != nil {
		t.Errorf("Lease(a key without a record) = %v, %v, %v; want nothing", r, leased, err)
	}
	r := record(1, "k", "id1")
	begin(t, db, r)
	if got, leased, err := replica.Lease(ctx, 1, "k", others); err != nil || leased || !reflect.DeepEqual(got, r) {
		t.Errorf("Lease by another of a record leased = %+v, %v, %v; want the record, not leased", got, leased, err)
	}
	if got, leased, err := db.Lease(ctx, 1, "k", mine); err != nil || !leased || !reflect.DeepEqual(got, r) {
		t.Errorf("Lease by its owner = %+v, %v, %v; want the record, leased", got, leased, err)
	}
	stolen := *r
	stolen.State = saga.Undoing
	if err := replica.Save(ctx, &stolen, other); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("Save by another = %v, want ErrNotHeld", err)
	}
	stolen.Attempts = 1
	if err := replica.Postpone(ctx, &stolen, other); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("Postpone by another = %v, want ErrNotHeld", err)
	}
	if recs, err := replica.Unfinished(ctx, other, t0, 10); err != nil || len(recs) != 0 {
		t.Errorf("Unfinished of another = %v, %v; want none: the checkout is mine", statesOf(recs), err)
	}
	if recs, err := db.Unfinished(ctx, me, t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("Unfinished of its owner = %v, %v; want the checkout", statesOf(recs), err)
	}
	if err := replica.EndLease(ctx, 1, "k", other); err != nil {
		t.Fatal(err)
	}
	if _, leased, _ := replica.Lease(ctx, 1, "k", others); leased {
		t.Error("EndLease by another ended the owner's lease")
	}

	if err := db.EndLease(ctx, 1, "k", me); err != nil {
		t.Fatal(err)
	}
	if recs, err := replica.Unfinished(ctx, other, t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("Unfinished of another, let go of = %v, %v; want the checkout", statesOf(recs), err)
	}
	if _, leased, err := replica.Lease(ctx, 1, "k", others); err != nil || !leased {
		t.Fatalf("Lease by another, let go of = %v, %v; want leased", leased, err)
	}
	r.State = saga.Charged
	if err := db.Save(ctx, r, me); !errors.Is(err, saga.ErrNotHeld) {
		t.Errorf("Save by the first, taken over = %v, want ErrNotHeld", err)
	}
	stolen.State, stolen.Attempts = saga.Failed, 0
	if err := replica.Save(ctx, &stolen, other); err != nil {
		t.Fatalf("Save by the one that took it over: %v", err)
	}
	if got := get(t, db, 1, "k"); got.State != saga.Failed {
		t.Errorf("Get = %+v, want the taker's write", got)
	}
	// Ended: nobody leases it, and a new attempt (its key failed with
	// Unavailable) is the beginner's.
	if _, leased, err := db.Lease(ctx, 1, "k", mine); err != nil || leased {
		t.Errorf("Lease of a record that ended = %v, %v; want not leased", leased, err)
	}
}

// testLeaseExpires checks that a lease ends by itself once its TTL has
// passed: another replica takes the checkout up, as it does the
// checkouts of a replica that died.
func testLeaseExpires(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	replica := again()
	const short = 300 * time.Millisecond
	r := record(1, "k", "id1")
	if err := db.Begin(ctx, r, saga.Lease{Owner: me, TTL: short}, saga.NoMark); err != nil {
		t.Fatal(err)
	}
	if _, leased, err := replica.Lease(ctx, 1, "k", others); err != nil || leased {
		t.Fatalf("Lease by another at once = %v, %v; want not leased", leased, err)
	}
	time.Sleep(short + 100*time.Millisecond)
	if recs, err := replica.Unfinished(ctx, other, t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("Unfinished of another, the lease expired = %v, %v; want the checkout", statesOf(recs), err)
	}
	if _, leased, err := replica.Lease(ctx, 1, "k", others); err != nil || !leased {
		t.Errorf("Lease by another, the lease expired = %v, %v; want leased", leased, err)
	}
	if _, leased, _ := db.Lease(ctx, 1, "k", mine); leased {
		t.Error("Lease by the first owner, taken over = leased, want not")
	}
}

// testBeginOnceAtOnce begins one key from many goroutines on two handles
// at once, each its own attempt: exactly one is recorded, and every other
// is told the key is taken.
func testBeginOnceAtOnce(t *testing.T, newDB NewDatabase) {
	db, again := open(t, newDB)
	begun := beginAtOnce(t, []checkout.Store{db, again()}, saga.ErrKeyTaken, func(i int) *saga.Record {
		return record(1, "k", fmt.Sprintf("id%d", i))
	})
	if begun != 1 {
		t.Errorf("%d Begins of one key succeeded, want 1", begun)
	}
}

// beginAtOnce begins the records that record makes for 0 to 15 from as
// many goroutines at once, on handles in turn, each as a replica of its
// own, and returns how many were begun; every other Begin must fail
// with refused.
func beginAtOnce(t *testing.T, handles []checkout.Store, refused error, record func(i int) *saga.Record) int {
	var (
		wg    sync.WaitGroup
		begun atomic.Int32
	)
	start := make(chan struct{})
	for i := range 16 {
		h := handles[i%len(handles)]
		lease := saga.Lease{Owner: fmt.Sprintf("replica-%d", i), TTL: ttl}
		wg.Go(func() {
			<-start
			err := h.Begin(testContext(t), record(i), lease, saga.NoMark)
			switch {
			case err == nil:
				begun.Add(1)
			case !errors.Is(err, refused):
				t.Errorf("Begin %d: %v, want success or %v", i, err, refused)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(begun.Load())
}

// testLeaseOnceAtOnce has many replicas, on two handles, lease each of
// many unfinished checkouts at once, as their recoverers do: each
// checkout is leased by exactly one.
func testLeaseOnceAtOnce(t *testing.T, newDB NewDatabase) {
	const checkouts, replicas = 20, 6
	db, again := open(t, newDB)
	handles := []checkout.Store{db, again()}
	for i := range checkouts {
		if err := db.Begin(testContext(t), record(int32(i+1), "k", fmt.Sprintf("id%d", i)), saga.Lease{}, saga.NoMark); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg     sync.WaitGroup
		leases [checkouts]atomic.Int32
	)
	start := make(chan struct{})
	for w := range replicas {
		h := handles[w%2]
		lease := saga.Lease{Owner: fmt.Sprintf("replica-%d", w), TTL: ttl}
		wg.Go(func() {
			<-start
			recs, err := h.Unfinished(testContext(t), lease.Owner, t0, checkouts)
			if err != nil {
				t.Error(err)
				return
			}
			for _, r := range recs {
				_, leased, err := h.Lease(testContext(t), r.CustomerID, r.Key, lease)
				if err != nil {
					t.Error(err)
				}
				if leased {
					leases[r.CustomerID-1].Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range leases {
		if n := leases[i].Load(); n != 1 {
			t.Errorf("checkout %d was leased %d times, want once", i+1, n)
		}
	}
}
