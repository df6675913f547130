package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/checkout/sqlite"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a saga log at path, closed when the test ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

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

func get(tb testing.TB, db *sqlite.DB, customer int32, key string) *saga.Record {
	tb.Helper()
	r, err := db.Get(testContext(tb), customer, key)
	if err != nil {
		tb.Fatalf("Get(%d, %s): %v", customer, key, err)
	}
	return r
}

// TestRecordsRoundTrip writes a checkout through its states and reads
// every field back as written.
func TestRecordsRoundTrip(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	if r := get(t, db, 1, "k"); r != nil {
		t.Fatalf("Get(an unknown key) = %+v, want nil", r)
	}
	r := record(1, "k", "id1")
	if err := db.Begin(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	r.State, r.ReservationID, r.ChargeID, r.ChargeTried, r.Updated = saga.Charged, "res-1", "ch_1", true, t0.Add(time.Second)
	if err := db.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.State, r.Updated = saga.Done, t0.Add(2*time.Second)
	r.Order = bookshop.Order{ID: "o_1", CustomerID: 1, Lines: r.Lines, Subtotal: r.Subtotal, Discount: r.Discount, Total: r.Total,
		PaymentID: "ch_1", Shipping: r.Shipping, State: "placed", Created: t0, Updated: t0}
	if err := db.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	// The same key of another customer is another checkout.
	if r := get(t, db, 2, "k"); r != nil {
		t.Errorf("Get(another customer's key) = %+v, want nil", r)
	}
}

// TestBeginOnce checks that a key is recorded once: a second Begin fails,
// but for a checkout that failed with Unavailable, which a new attempt
// replaces; and that Save writes only the attempt it names.
func TestBeginOnce(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	first := record(1, "k", "id1")
	if err := db.Begin(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, state := range []saga.State{saga.Reserving, saga.Charged, saga.Done} {
		first.State = state
		if err := db.Save(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := db.Begin(ctx, record(1, "k", "id2")); !errors.Is(err, saga.ErrKeyTaken) {
			t.Errorf("Begin(the key, %s) = %v, want ErrKeyTaken", state, err)
		}
	}
	first.State, first.ErrCode, first.ErrMessage = saga.Failed, bookshop.Conflict, "card declined"
	if err := db.Save(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := db.Begin(ctx, record(1, "k", "id2")); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("Begin(the key, failed for good) = %v, want ErrKeyTaken", err)
	}
	first.ErrCode = bookshop.Unavailable
	if err := db.Save(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := record(1, "k", "id2")
	if err := db.Begin(ctx, second); err != nil {
		t.Fatalf("Begin(the key, failed with Unavailable) = %v, want a new attempt", err)
	}
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, second) {
		t.Errorf("Get = %+v, want the new attempt %+v", got, second)
	}
	first.State = saga.Done
	if err := db.Save(ctx, first); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("Save(the replaced attempt) = %v, want ErrKeyTaken", err)
	}
	if err := db.Begin(ctx, record(2, "k", "id2")); err == nil {
		t.Error("Begin(another key, the same attempt id) succeeded: attempt ids must be unique")
	}
}

func TestUnfinishedAndDeleteEnded(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	states := []saga.State{saga.Reserving, saga.Charged, saga.Ordered, saga.Undoing, saga.Done, saga.Failed}
	for i, state := range states {
		r := record(int32(i+1), "k", "id"+strconv.Itoa(i))
		if err := db.Begin(ctx, r); err != nil {
			t.Fatal(err)
		}
		// Changed in the reverse order of the list: the last first.
		r.State, r.Updated = state, t0.Add(time.Duration(len(states)-i)*time.Minute)
		if err := db.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := db.Unfinished(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []saga.State
	for _, r := range recs {
		got = append(got, r.State)
	}
	if want := []saga.State{saga.Undoing, saga.Ordered, saga.Charged, saga.Reserving}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unfinished = %v, want %v (least recently changed first)", got, want)
	}
	if recs, err := db.Unfinished(ctx, 2); err != nil || len(recs) != 2 {
		t.Errorf("Unfinished(2) = %d records, %v; want 2", len(recs), err)
	}
	// Done was changed at t0+2m, Failed at t0+1m.
	if n, err := db.DeleteEnded(ctx, t0.Add(90*time.Second)); n != 1 || err != nil {
		t.Errorf("DeleteEnded(t0+90s) = %d, %v; want 1 (the failed)", n, err)
	}
	if n, err := db.DeleteEnded(ctx, t0.Add(time.Hour)); n != 1 || err != nil {
		t.Errorf("DeleteEnded(t0+1h) = %d, %v; want 1 (the done)", n, err)
	}
	if recs, _ := db.Unfinished(ctx, 10); len(recs) != 4 {
		t.Errorf("after the sweeps, %d unfinished, want the 4 still", len(recs))
	}
}

func TestDeleteEndedInBatches(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	const n = 1203 // more than two batches
	for i := range n {
		r := record(int32(i+1), "k", "id"+strconv.Itoa(i))
		r.State = saga.Done
		if err := db.Begin(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Second)); got != n || err != nil {
		t.Errorf("DeleteEnded = %d, %v; want %d", got, err, n)
	}
}

// TestSurvivesReopen records a checkout, closes the file and opens it
// again, as a restart does: the record is there, unfinished.
func TestSurvivesReopen(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "checkout.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := record(7, "k", "id7")
	if err := db.Begin(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.State, r.ReservationID, r.ChargeID = saga.Charged, "res", "ch"
	if err := db.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	db.Close()
	again := open(t, path)
	if got := get(t, again, 7, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("after reopening, Get = %+v, want %+v", got, r)
	}
	if recs, err := again.Unfinished(ctx, 10); err != nil || len(recs) != 1 {
		t.Errorf("after reopening, Unfinished = %v, %v; want the checkout", recs, err)
	}
}
