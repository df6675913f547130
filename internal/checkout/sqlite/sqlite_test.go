package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
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
	r.Confirmed, r.Claim = eur(1099), saga.Claiming // the discount the shopper was shown, to claim
	if err := db.Begin(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	r.Claim, r.Discount, r.Total, r.Promotions = saga.Granted, eur(1099), eur(1099), []string{promotionsclient.BuyTwoGetOneFreeCode}
	r.State, r.ReservationID, r.ChargeID, r.ChargeTried, r.Updated = saga.Charged, "res-1", "ch_1", true, t0.Add(time.Second)
	r.Attempts, r.NextTry = 3, t0.Add(time.Minute)
	if err := db.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, 1, "k"); !reflect.DeepEqual(got, r) {
		t.Errorf("Get = %+v, want %+v", got, r)
	}
	r.State, r.Attempts, r.NextTry = saga.Committed, 0, time.Time{}
	if err := db.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.State, r.Updated, r.Claim = saga.Done, t0.Add(2*time.Second), saga.Confirmed
	r.Order = bookshop.Order{ID: "o_1", CustomerID: 1, Lines: r.Lines, Subtotal: r.Subtotal, Discount: r.Discount, Total: r.Total,
		Promotions: r.Promotions, PaymentID: "ch_1", Shipping: r.Shipping, State: "placed", Created: t0, Updated: t0}
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
	states := []saga.State{saga.Reserving, saga.Charged, saga.Committed, saga.Ordered, saga.Undoing, saga.Done, saga.Failed}
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
	recs, err := db.Unfinished(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statesOf(recs), []saga.State{saga.Committed, saga.Charged, saga.Undoing, saga.Ordered, saga.Reserving}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unfinished = %v, want %v (the paid first, then least recently changed first)", got, want)
	}
	if recs, err := db.Unfinished(ctx, t0, 2); err != nil || len(recs) != 2 {
		t.Errorf("Unfinished(2) = %d records, %v; want 2", len(recs), err)
	}
	if n, oldest, err := db.CountUnfinished(ctx); n != 5 || !oldest.Equal(t0) || err != nil {
		t.Errorf("CountUnfinished = %d, %v, %v; want 5, %v", n, oldest, err, t0)
	}
	// Done was changed at t0+2m, Failed at t0+1m.
	if n, err := db.DeleteEnded(ctx, t0.Add(90*time.Second)); n != 1 || err != nil {
		t.Errorf("DeleteEnded(t0+90s) = %d, %v; want 1 (the failed)", n, err)
	}
	if n, err := db.DeleteEnded(ctx, t0.Add(time.Hour)); n != 1 || err != nil {
		t.Errorf("DeleteEnded(t0+1h) = %d, %v; want 1 (the done)", n, err)
	}
	if recs, _ := db.Unfinished(ctx, t0, 10); len(recs) != 5 {
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

// TestUnfinishedDue checks the recoverer's list: a checkout postponed is
// left out until its time comes, then listed by it; a paid one comes
// before the others whatever their times; a step that moves a checkout
// on (Save) makes it due at once; and every unfinished checkout is
// counted, not only those listed.
func TestUnfinishedDue(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	const n = 150
	for i := range n {
		r := record(int32(i+1), "k", "id"+strconv.Itoa(i))
		r.State = saga.Undoing
		if err := db.Begin(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	paid := record(n+1, "k", "paid")
	paid.State, paid.Created, paid.Updated = saga.Charged, t0.Add(time.Hour), t0.Add(time.Hour)
	if err := db.Begin(ctx, paid); err != nil {
		t.Fatal(err)
	}
	if recs, err := db.Unfinished(ctx, t0, 100); err != nil || len(recs) != 100 || recs[0].ID != "paid" {
		t.Fatalf("Unfinished(100) = %v, %v; want 100 records, the paid one first", statesOf(recs), err)
	}
	// The first 100 postponed, each by its own time.
	for i := range 100 {
		r := get(t, db, int32(i+1), "k")
		r.Attempts, r.NextTry = 1, t0.Add(time.Duration(100-i)*time.Second)
		if err := db.Postpone(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, db, 1, "k"); got.Attempts != 1 || !got.NextTry.Equal(t0.Add(100*time.Second)) || got.State != saga.Undoing {
		t.Errorf("after Postpone, Get = %+v, want 1 attempt, next at t0+100s, still undoing", got)
	}
	recs, err := db.Unfinished(ctx, t0, 200)
	if err != nil || len(recs) != n-100+1 {
		t.Fatalf("Unfinished(t0) = %d records, %v; want the %d not postponed", len(recs), err, n-100+1)
	}
	recs, err = db.Unfinished(ctx, t0.Add(2*time.Second), 200)
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
	if err := db.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if n, oldest, err := db.CountUnfinished(ctx); n != 150 || !oldest.Equal(t0) || err != nil {
		t.Errorf("CountUnfinished = %d, %v, %v; want 150 (more than one list), the oldest at %v", n, oldest, err, t0)
	}
	// A Postpone of a state the record is no longer in writes nothing.
	r.State, r.Attempts = saga.Undoing, 5
	if err := db.Postpone(ctx, r); !errors.Is(err, saga.ErrKeyTaken) {
		t.Errorf("Postpone(a state gone) = %v, want ErrKeyTaken", err)
	}
}

// TestMigratesFromVersion1 opens a saga log written by the first schema:
// its checkouts are kept, due at once, with no attempt.
func TestMigratesFromVersion1(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "checkout.db")
	v1, err := os.ReadFile("migrations/0001_checkouts.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Migrate(ctx, old, sqlitedb.Schema{Name: "checkout database", Migrations: fstest.MapFS{"0001_checkouts.sql": {Data: v1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Write.ExecContext(ctx, `INSERT INTO checkouts VALUES (3, 'k', 'id3', 'fp', 'charged', '{"CartID":"c-3","ChargeID":"ch_1"}', 1000, 2000)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db := open(t, path)
	r := get(t, db, 3, "k")
	if r == nil || r.State != saga.Charged || r.ChargeID != "ch_1" || r.Attempts != 0 || !r.NextTry.IsZero() || r.Updated.UnixMilli() != 2000 {
		t.Fatalf("after the migration, Get = %+v, want the charged checkout, no attempt, due at once", r)
	}
	if recs, err := db.Unfinished(ctx, t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("after the migration, Unfinished = %v, %v; want the checkout", recs, err)
	}
	r.State = saga.Committed
	if err := db.Save(ctx, r); err != nil {
		t.Errorf("Save(committed) after the migration: %v", err)
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
	if recs, err := again.Unfinished(ctx, t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("after reopening, Unfinished = %v, %v; want the checkout", recs, err)
	}
}
