// Package storetest is the contract of inventory.Store as tests: one
// suite that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
)

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. The first fills the new database with seed; later ones
// find it filled, and leave it as it is. open returns the implementation's
// error when it cannot open the Store.
type NewDatabase func(tb testing.TB) (open func(seed map[int32]int) (inventory.Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"ReserveAndFinish", testReserveAndFinish},
		{"CommitNeverBelowZero", testCommitNeverBelowZero},
		{"Finish", testFinish},
		{"Sweep", testSweep},
		{"SetStock", testSetStock},
		{"AnotherHandle", testAnotherHandle},
		{"OpenRefusesSeed", testOpenRefusesSeed},
		{"LastCopies", testLastCopies},
		{"CommitOnce", testCommitOnce},
		{"SameKey", testSameKey},
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

// open opens a Store on a new database filled with seed, and returns it
// and how to open another handle on the same database.
func open(tb testing.TB, newDB NewDatabase, seed map[int32]int) (inventory.Store, func() inventory.Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener(seed)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() inventory.Store {
		tb.Helper()
		again, err := opener(nil)
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

// accept is a check that accepts anything.
func accept(map[int32]int) error { return nil }

// to returns a decide of Finish that takes a reservation to state.
func to(state string) func(bookshop.Reservation) (string, error) {
	return func(bookshop.Reservation) (string, error) { return state, nil }
}

// reservation returns a held reservation of lines, id id, that expires at
// expires.
func reservation(id string, expires time.Time, lines ...bookshop.StockLine) bookshop.Reservation {
	return bookshop.Reservation{ID: id, Lines: lines, Expires: expires, State: inventory.Held}
}

func line(book int32, quantity int) bookshop.StockLine {
	return bookshop.StockLine{BookID: book, Quantity: quantity}
}

func levels(tb testing.TB, db inventory.Store, now time.Time, ids ...int32) []inventoryclient.Level {
	tb.Helper()
	ls, err := db.Levels(testContext(tb), ids, now)
	if err != nil {
		tb.Fatalf("Levels: %v", err)
	}
	return ls
}

// testReserveAndFinish checks a reservation's writes: its holds count
// until it expires, a commit takes its copies off the stock, an end gives
// up its holds, and a failed check writes nothing.
func testReserveAndFinish(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB, map[int32]int{1: 5, 2: 1})
	expires := t0.Add(time.Minute)

	var seen map[int32]int
	r, replayed, err := db.Reserve(ctx, "k1", reservation("r-1", expires, line(1, 2), line(3, 1), line(2, 1)), t0,
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
	if _, _, err := db.Reserve(ctx, "k2", reservation("r-2", expires, line(2, 1)), t0,
		func(map[int32]int) error { return refused }); !errors.Is(err, refused) {
		t.Errorf("Reserve, its check failing = %v, want the check's error", err)
	}
	if got := levels(t, db, t0, 2); got[0].Held != 1 {
		t.Errorf("a refused Reserve held: %+v", got)
	}
	if _, replayed, err := db.Reserve(ctx, "k2", reservation("r-2b", expires, line(4, 1)), t0, accept); err != nil || replayed {
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
	// a commit cannot take copies it does not have (CommitNeverBelowZero).
	// A release gives everything back.
	done, err := db.Finish(ctx, "r-1", t0, func(got bookshop.Reservation) (string, error) {
		if !reflect.DeepEqual(got, r) {
			t.Errorf("Finish's decide got %+v, want %+v", got, r)
		}
		return inventory.Released, nil
	})
	if err != nil || done.State != inventory.Released {
		t.Fatalf("Finish(release) = %+v, %v", done, err)
	}
	want = []inventoryclient.Level{{BookID: 1, OnHand: 5, Available: 5}, {BookID: 2, OnHand: 1, Available: 1}, {BookID: 3}}
	if got := levels(t, db, t0, 1, 2, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels after the release = %+v, want %+v", got, want)
	}
}

// testCommitNeverBelowZero commits a reservation whose copies are not on
// hand, which the rules never allow: the database refuses it, and changes
// nothing.
func testCommitNeverBelowZero(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB, map[int32]int{1: 1})
	if _, _, err := db.Reserve(ctx, "k", reservation("r-1", t0.Add(time.Minute), line(1, 2)), t0, accept); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Finish(ctx, "r-1", t0, to(inventory.Committed)); err == nil {
		t.Error("Finish(commit 2 of 1) = nil, want the database to refuse it")
	}
	if _, _, err := db.Reserve(ctx, "k2", reservation("r-2", t0.Add(time.Minute), line(9, 1)), t0, accept); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Finish(ctx, "r-2", t0, to(inventory.Committed)); err == nil {
		t.Error("Finish(commit of a book without stock) = nil, want an error")
	}
	want := []inventoryclient.Level{{BookID: 1, OnHand: 1, Held: 2}}
	if got := levels(t, db, t0, 1); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels after the refused commit = %+v, want %+v", got, want)
	}
}

// testFinish takes reservations to each end, and refuses to take them
// back to held.
func testFinish(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB, map[int32]int{1: 5})
	expires := t0.Add(time.Minute)
	for i, state := range []string{inventory.Committed, inventory.Released, inventory.Expired} {
		id := fmt.Sprintf("r-%d", i)
		if _, _, err := db.Reserve(ctx, "k"+id, reservation(id, expires, line(1, 1)), t0, accept); err != nil {
			t.Fatal(err)
		}
		r, err := db.Finish(ctx, id, t0, to(state))
		if err != nil || r.State != state {
			t.Errorf("Finish(%s to %s) = %+v, %v", id, state, r, err)
		}
		if _, err := db.Finish(ctx, id, t0, to(inventory.Held)); err == nil {
			t.Errorf("Finish(%s from %s back to held) = nil, want an error", id, state)
		}
	}
	want := []inventoryclient.Level{{BookID: 1, OnHand: 4, Available: 4}}
	if got := levels(t, db, t0, 1); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels = %+v, want %+v: one committed, no holds", got, want)
	}
	_, err := db.Finish(ctx, "r-none", t0, to(inventory.Released))
	if bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Finish(unknown) = %v, want NotFound", err)
	}
}

// testSweep expires the held reservations past their expiry, then deletes
// the records of those that ended long ago, in batches.
func testSweep(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB, map[int32]int{1: 1000})
	const n = 1003 // half of them, 502, more than a batch
	for i := range n {
		expires := t0.Add(time.Minute)
		if i%2 == 1 {
			expires = t0.Add(time.Hour)
		}
		id := fmt.Sprintf("r-%d", i)
		if _, _, err := db.Reserve(ctx, "k-"+id, reservation(id, expires, line(1, 1)), t0, accept); err != nil {
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
	if _, err := db.Finish(ctx, "r-0", t0, to(inventory.Released)); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Finish(a deleted reservation) = %v, want NotFound", err)
	}
}

// testSetStock sets a book's copies, with its check seeing what is held,
// and refuses what the check or the database refuses.
func testSetStock(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB, nil)
	if _, _, err := db.Reserve(ctx, "k", reservation("r-1", t0.Add(time.Minute), line(1, 2)), t0, accept); err != nil {
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
		t.Error("SetStock(-1) = nil, want the database to refuse it")
	}
}

// testAnotherHandle opens a second handle on a database the first wrote
// to: everything is there, and its seed is not applied.
func testAnotherHandle(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	opener := newDB(t)
	db, err := opener(map[int32]int{1: 3})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := db.Reserve(ctx, "k", reservation("r-1", t0.Add(time.Minute), line(1, 1)), t0, accept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetStock(ctx, 2, 9, t0, func(int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	again, err := opener(map[int32]int{1: 100, 3: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []inventoryclient.Level{{BookID: 1, OnHand: 3, Held: 1, Available: 2}, {BookID: 2, OnHand: 9, Available: 9}, {BookID: 3}}
	if got := levels(t, again, t0, 1, 2, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels through another handle = %+v, want %+v", got, want)
	}
	if got, replayed, err := again.Reserve(ctx, "k", reservation("r-x", t0), t0, accept); err != nil || !replayed || !reflect.DeepEqual(got, r) {
		t.Errorf("Reserve(k) through another handle = %+v, %v, %v; want %+v", got, replayed, err, r)
	}
}

// testOpenRefusesSeed opens new databases with seeds that break the
// rules: each is refused.
func testOpenRefusesSeed(t *testing.T, newDB NewDatabase) {
	for _, seed := range []map[int32]int{{1: -1}, {0: 1}, {1: inventory.MaxOnHand + 1}} {
		if _, err := newDB(t)(seed); err == nil {
			t.Errorf("open(seed %v) = nil, want an error", seed)
		}
	}
}

// services returns an Inventory on each of n handles of one database,
// which starts with seed, and whose clock stands at t0.
func services(tb testing.TB, newDB NewDatabase, n int, seed map[int32]int) []*inventory.Service {
	tb.Helper()
	db, again := open(tb, newDB, seed)
	var ids atomic.Int64
	opts := inventory.Options{
		Now:   func() time.Time { return t0 },
		NewID: func() string { return fmt.Sprintf("r-%d", ids.Add(1)) },
	}
	svcs := []*inventory.Service{inventory.NewService(db, opts)}
	for len(svcs) < n {
		svcs = append(svcs, inventory.NewService(again(), opts))
	}
	return svcs
}

// testLastCopies has many buyers reserve the last copies of a book at
// once, through three handles on one database ("replicas"): exactly as
// many reservations succeed as there are copies, the others are told the
// book is sold out, and the copies held are the copies there were.
func testLastCopies(t *testing.T, newDB NewDatabase) {
	const copies, buyers = 5, 30
	svcs := services(t, newDB, 3, map[int32]int{1: copies})
	var (
		wg              sync.WaitGroup
		reserved, short atomic.Int32
		failures        = make(chan error, buyers)
	)
	start := make(chan struct{})
	for i := range buyers {
		svc := svcs[i%len(svcs)]
		wg.Go(func() {
			<-start
			_, err := svc.Reserve(testContext(t), fmt.Sprintf("buyer-%d", i), []bookshop.StockLine{line(1, 1)}, 0)
			var soldOut *inventoryclient.SoldOutError
			switch {
			case err == nil:
				reserved.Add(1)
			case errors.As(err, &soldOut):
				short.Add(1)
			default:
				failures <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Errorf("Reserve: %v, want a reservation or sold out", err)
	}
	if reserved.Load() != copies || short.Load() != buyers-copies {
		t.Errorf("%d reservations and %d sold out, want %d and %d", reserved.Load(), short.Load(), copies, buyers-copies)
	}
	levels, err := svcs[0].Levels(testContext(t), []int32{1})
	if want := (inventoryclient.Level{BookID: 1, OnHand: copies, Held: copies}); err != nil || levels[0] != want {
		t.Errorf("Levels = %+v, %v; want %+v", levels, err, want)
	}
}

// testCommitOnce commits one reservation from many goroutines on two
// handles at once: its copies leave the stock once, and every commit
// answers committed.
func testCommitOnce(t *testing.T, newDB NewDatabase) {
	svcs := services(t, newDB, 2, map[int32]int{1: 10, 2: 10})
	r, err := svcs[0].Reserve(testContext(t), "k", []bookshop.StockLine{line(1, 3), line(2, 1)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		svc := svcs[i%2]
		wg.Go(func() {
			got, err := svc.Commit(testContext(t), r.ID)
			if err != nil || got.State != inventory.Committed {
				t.Errorf("Commit = %+v, %v; want committed", got, err)
			}
		})
	}
	wg.Wait()
	levels, err := svcs[1].Levels(testContext(t), []int32{1, 2})
	want := []inventoryclient.Level{{BookID: 1, OnHand: 7, Available: 7}, {BookID: 2, OnHand: 9, Available: 9}}
	if err != nil || !reflect.DeepEqual(levels, want) {
		t.Errorf("Levels = %+v, %v; want %+v: the copies left once", levels, err, want)
	}
}

// testSameKey retries one checkout's Reserve from many goroutines on two
// handles at once: one reservation is made, and every call returns it.
func testSameKey(t *testing.T, newDB NewDatabase) {
	svcs := services(t, newDB, 2, map[int32]int{1: 10})
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = make(map[string]bool)
	)
	for i := range 16 {
		svc := svcs[i%2]
		wg.Go(func() {
			r, err := svc.Reserve(testContext(t), "one-checkout", []bookshop.StockLine{line(1, 2)}, 0)
			if err != nil {
				t.Errorf("Reserve: %v", err)
				return
			}
			mu.Lock()
			ids[r.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Errorf("Reserve of one key made reservations %v, want one", ids)
	}
	levels, err := svcs[0].Levels(testContext(t), []int32{1})
	if want := (inventoryclient.Level{BookID: 1, OnHand: 10, Held: 2, Available: 8}); err != nil || levels[0] != want {
		t.Errorf("Levels = %+v, %v; want %+v", levels, err, want)
	}

	// The last copy: a retry that waits for the first Reserve of its key
	// to commit must find that reservation, not the copy gone.
	const rounds = 10
	seed := make(map[int32]int, rounds)
	for b := range int32(rounds) {
		seed[b+1] = 1
	}
	svcs = services(t, newDB, 2, seed)
	for b := range int32(rounds) {
		book, key := b+1, fmt.Sprintf("last-copy-%d", b+1)
		ids := make(map[string]bool)
		for i := range 8 {
			svc := svcs[i%2]
			wg.Go(func() {
				r, err := svc.Reserve(testContext(t), key, []bookshop.StockLine{line(book, 1)}, 0)
				if err != nil {
					t.Errorf("Reserve of %s, book %d's last copy, retried at once: %v", key, book, err)
					return
				}
				mu.Lock()
				ids[r.ID] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(ids) != 1 {
			t.Errorf("Reserve of %s made reservations %v, want one", key, ids)
		}
	}
}
