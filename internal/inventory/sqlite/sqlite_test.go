package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/inventory/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func open(tb testing.TB, path string, seed map[int32]int) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path, seed)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// accept is a check that accepts anything.
func accept(map[int32]int) error { return nil }

// reservation returns a held reservation of lines, id id, that expires at
// expires.
func reservation(id string, expires time.Time, lines ...bookshop.StockLine) bookshop.Reservation {
	return bookshop.Reservation{ID: id, Lines: lines, Expires: expires, State: "held"}
}

func levels(tb testing.TB, db *sqlite.DB, now time.Time, ids ...int32) []inventoryclient.Level {
	tb.Helper()
	ls, err := db.Levels(testContext(tb), ids, now)
	if err != nil {
		tb.Fatalf("Levels: %v", err)
	}
	return ls
}

// TestReserveAndFinish checks a reservation's writes: its holds count
// until it expires, a commit takes its copies off the stock, an end
// gives up its holds, and a failed check writes nothing.
func TestReserveAndFinish(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory, map[int32]int{1: 5, 2: 1})
	expires := t0.Add(time.Minute)

	var seen map[int32]int
	r, replayed, err := db.Reserve(ctx, "k1", reservation("r-1", expires, bookshop.StockLine{BookID: 1, Quantity: 2}, bookshop.StockLine{BookID: 3, Quantity: 1}, bookshop.StockLine{BookID: 2, Quantity: 1}), t0,
		func(available map[int32]int) error { seen = available; return nil })
	if err != nil || replayed || r.ID != "r-1" || !r.Expires.Equal(expires) {
		t.Fatalf("Reserve = %+v, %v, %v", r, replayed, err)
	}
	if want := map[int32]int{1: 5, 2: 1, 3: 0}; !reflect.DeepEqual(seen, want) {
		t.Errorf("Reserve's check saw %v, want %v", seen, want)
	}
	want := []inventoryclient.Level{{BookID: 1, OnHand: 5, Held: 2, Available: 3}, {BookID: 2, OnHand: 1, Held: 1}, {BookID: 3, Held: 0}}
	if got := levels(t, db, t0, 1, 2, 1, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels = %+v, want %+v", got, want)
	}
	if got := levels(t, db, expires, 1); got[0].Held != 0 || got[0].Available != 5 {
		t.Errorf("Levels at the expiry = %+v, want nothing held", got)
	}

	refused := errors.New("refused")
	if _, _, err := db.Reserve(ctx, "k2", reservation("r-2", expires, bookshop.StockLine{BookID: 2, Quantity: 1}), t0,
		func(map[int32]int) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("Reserve, its check failing = %v, want the check's error", err)
	}
	if got := levels(t, db, t0, 2); got[0].Held != 1 {
		t.Errorf("a refused Reserve held: %+v", got)
	}
	if _, replayed, err := db.Reserve(ctx, "k2", reservation("r-2b", expires, bookshop.StockLine{BookID: 4, Quantity: 1}), t0, accept); err != nil || replayed {
		t.Errorf("Reserve(a key refused before) = %v, %v; want a new reservation", replayed, err)
	}

	prior, replayed, err := db.Reserve(ctx, "k1", reservation("r-other", expires.Add(time.Hour)), t0, func(map[int32]int) error {
		t.Error("Reserve of a known key called its check")
		return nil
	})
	if err != nil || !replayed || !reflect.DeepEqual(prior, r) {
		t.Errorf("Reserve(k1 again) = %+v, %v, %v; want %+v, replayed", prior, replayed, err, r)
	}

	// Book 3 has no stock: the rules never let a reservation hold it, and
	// a commit cannot take copies it does not have (TestCommitNeverBelowZero).
	// A release gives everything back.
	done, err := db.Finish(ctx, "r-1", t0, func(got bookshop.Reservation) (string, error) {
		if !reflect.DeepEqual(got, r) {
			t.Errorf("Finish's decide got %+v, want %+v", got, r)
		}
		return "released", nil
	})
	if err != nil || done.State != "released" {
		t.Fatalf("Finish(release) = %+v, %v", done, err)
	}
	want = []inventoryclient.Level{{BookID: 1, OnHand: 5, Available: 5}, {BookID: 2, OnHand: 1, Available: 1}, {BookID: 3}}
	if got := levels(t, db, t0, 1, 2, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels after the release = %+v, want %+v", got, want)
	}
}

// TestCommitNeverBelowZero commits a reservation whose copies are not on
// hand, which the rules never allow: the database refuses it, and changes
// nothing.
func TestCommitNeverBelowZero(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory, map[int32]int{1: 1})
	if _, _, err := db.Reserve(ctx, "k", reservation("r-1", t0.Add(time.Minute), bookshop.StockLine{BookID: 1, Quantity: 2}), t0, accept); err != nil {
		t.Fatal(err)
	}
	_, err := db.Finish(ctx, "r-1", t0, func(bookshop.Reservation) (string, error) { return "committed", nil })
	if err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Errorf("Finish(commit 2 of 1) = %v, want the CHECK constraint to refuse it", err)
	}
	if _, _, err := db.Reserve(ctx, "k2", reservation("r-2", t0.Add(time.Minute), bookshop.StockLine{BookID: 9, Quantity: 1}), t0, accept); err != nil {
		t.Fatal(err)
	}
	_, err = db.Finish(ctx, "r-2", t0, func(bookshop.Reservation) (string, error) { return "committed", nil })
	if err == nil || !strings.Contains(err.Error(), "book 9 has no stock") {
		t.Errorf("Finish(commit of a book without stock) = %v, want an error", err)
	}
	want := []inventoryclient.Level{{BookID: 1, OnHand: 1, Held: 2}}
	if got := levels(t, db, t0, 1); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels after the refused commit = %+v, want %+v", got, want)
	}
}

func TestFinish(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory, map[int32]int{1: 5})
	expires := t0.Add(time.Minute)
	for i, to := range []string{"committed", "released", "expired"} {
		id := fmt.Sprintf("r-%d", i)
		if _, _, err := db.Reserve(ctx, "k"+id, reservation(id, expires, bookshop.StockLine{BookID: 1, Quantity: 1}), t0, accept); err != nil {
			t.Fatal(err)
		}
		r, err := db.Finish(ctx, id, t0, func(bookshop.Reservation) (string, error) { return to, nil })
		if err != nil || r.State != to {
			t.Errorf("Finish(%s to %s) = %+v, %v", id, to, r, err)
		}
		if _, err := db.Finish(ctx, id, t0, func(bookshop.Reservation) (string, error) { return "held", nil }); err == nil {
			t.Errorf("Finish(%s from %s back to held) = nil, want an error", id, to)
		}
	}
	want := []inventoryclient.Level{{BookID: 1, OnHand: 4, Available: 4}}
	if got := levels(t, db, t0, 1); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels = %+v, want %+v: one committed, no holds", got, want)
	}
	_, err := db.Finish(ctx, "r-none", t0, func(bookshop.Reservation) (string, error) { return "released", nil })
	if bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Finish(unknown) = %v, want NotFound", err)
	}
}

// TestSweep expires the held reservations past their expiry, then deletes
// the records of those that ended long ago, in batches.
func TestSweep(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory, map[int32]int{1: 1000})
	const n = 1003 // half of them, 502, more than a batch
	for i := range n {
		expires := t0.Add(time.Minute)
		if i%2 == 1 {
			expires = t0.Add(time.Hour)
		}
		id := fmt.Sprintf("r-%d", i)
		if _, _, err := db.Reserve(ctx, "k-"+id, reservation(id, expires, bookshop.StockLine{BookID: 1, Quantity: 1}), t0, accept); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.Expire(ctx, t0.Add(time.Minute)); got != 502 || err != nil {
		t.Errorf("Expire = %d, %v; want 502", got, err)
	}
	if got, err := db.Expire(ctx, t0.Add(time.Minute)); got != 0 || err != nil {
		t.Errorf("Expire again = %d, %v; want 0", got, err)
	}
	if got := levels(t, db, t0, 1); got[0].Held != 501 {
		t.Errorf("Levels after the sweep = %+v, want 501 held: the expired holds are gone", got)
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Minute)); got != 0 || err != nil {
		t.Errorf("DeleteEnded(the expiry) = %d, %v; want 0: they ended at it", got, err)
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Minute+time.Millisecond)); got != 502 || err != nil {
		t.Errorf("DeleteEnded = %d, %v; want 502", got, err)
	}
	if _, err := db.Finish(ctx, "r-0", t0, func(bookshop.Reservation) (string, error) { return "released", nil }); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Finish(a deleted reservation) = %v, want NotFound", err)
	}
}

func TestSetStock(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory, nil)
	if _, _, err := db.Reserve(ctx, "k", reservation("r-1", t0.Add(time.Minute), bookshop.StockLine{BookID: 1, Quantity: 2}), t0, accept); err != nil {
		t.Fatal(err)
	}
	var held int
	l, err := db.SetStock(ctx, 1, 7, t0, func(h int) error { held = h; return nil })
	if want := (inventoryclient.Level{BookID: 1, OnHand: 7, Held: 2, Available: 5}); err != nil || l != want || held != 2 {
		t.Errorf("SetStock = %+v, %v (check saw %d held); want %+v", l, err, held, want)
	}
	refused := errors.New("refused")
	if _, err := db.SetStock(ctx, 1, 1, t0, func(int) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("SetStock, its check failing = %v", err)
	}
	if got := levels(t, db, t0, 1); got[0].OnHand != 7 {
		t.Errorf("a refused SetStock wrote %+v", got)
	}
	if _, err := db.SetStock(ctx, 1, -1, t0, func(int) error { return nil }); err == nil {
		t.Error("SetStock(-1) = nil, want the CHECK constraint to refuse it")
	}
}

// TestReopen closes the file and opens it again: everything is there, and
// the seed is not applied again.
func TestReopen(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "inventory.db")
	db, err := sqlite.Open(ctx, path, map[int32]int{1: 3})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := db.Reserve(ctx, "k", reservation("r-1", t0.Add(time.Minute), bookshop.StockLine{BookID: 1, Quantity: 1}), t0, accept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetStock(ctx, 2, 9, t0, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, path, map[int32]int{1: 100, 3: 100})
	want := []inventoryclient.Level{{BookID: 1, OnHand: 3, Held: 1, Available: 2}, {BookID: 2, OnHand: 9, Available: 9}, {BookID: 3}}
	if got := levels(t, db, t0, 1, 2, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels after reopening = %+v, want %+v", got, want)
	}
	if got, replayed, err := db.Reserve(ctx, "k", reservation("r-x", t0), t0, accept); err != nil || !replayed || !reflect.DeepEqual(got, r) {
		t.Errorf("Reserve(k) after reopening = %+v, %v, %v; want %+v", got, replayed, err, r)
	}
}

// TestOpenRefuses checks that Open refuses another program's database and
// a seed that breaks the rules.
func TestOpenRefuses(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, err := sqlite.Open(ctx, path, nil); err == nil || !strings.Contains(err.Error(), "not a Bookshop inventory database") {
		t.Errorf("Open(another program's file) = %v, want a refusal", err)
	}
	if _, err := sqlite.Open(ctx, sqlite.Memory, map[int32]int{1: -1}); err == nil {
		t.Error("Open(a seed of -1 copies) = nil, want an error")
	}
	if _, err := sqlite.Open(ctx, sqlite.Memory, map[int32]int{0: 1}); err == nil {
		t.Error("Open(a seed of book 0) = nil, want an error")
	}
}
