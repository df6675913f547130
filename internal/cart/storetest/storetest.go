// Package storetest is the contract of cart.Store as tests: one suite
// that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them. Beside the Store's methods, it
// tests the rules that must hold across replicas sharing one database,
// through two Services on two handles: the limits of a cart, an
// idempotency key's addition or removal made once, a merge at sign-in
// made once.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
)

// Store is what the suite tests: the Cart's Store, which a test may close
// (the test's end closes it again).
type Store interface {
	cart.Store
	Close() error
}

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. open returns the implementation's error when it cannot
// open the Store.
type NewDatabase func(tb testing.TB) (open func() (Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"UpdateKeepsOrder", testUpdateKeepsOrder},
		{"ConcurrentAddsKeepTheLimits", testConcurrentAddsKeepTheLimits},
		{"TwoHandlesKeepTheLimits", testTwoHandlesKeepTheLimits},
		{"AnotherHandle", testAnotherHandle},
		{"Merge", testMerge},
		{"DeleteIdle", testDeleteIdle},
		{"DeleteIdleInBatches", testDeleteIdleInBatches},
		{"ChangesRecordTheCallersTime", testChangesRecordTheCallersTime},
		{"AddOnce", testAddOnce},
		{"DeleteKeys", testDeleteKeys},
		{"RemoveOnce", testRemoveOnce},
		{"LimitsAcrossReplicas", testLimitsAcrossReplicas},
		{"AddKeyOnceAcrossReplicas", testAddKeyOnceAcrossReplicas},
		{"RemoveKeyOnceAcrossReplicas", testRemoveKeyOnceAcrossReplicas},
		{"MergeOnceAcrossReplicas", testMergeOnceAcrossReplicas},
		{"SweepAcrossHandles", testSweepAcrossHandles},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a Store on a new database, and returns it and how to open
// another handle on the same database.
func open(tb testing.TB, newDB NewDatabase) (Store, func() Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener()
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() Store {
		tb.Helper()
		again, err := opener()
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

// lines makes lines from pairs of book id and quantity.
func lines(pairs ...int) []bookshop.CartLine {
	var ls []bookshop.CartLine
	for i := 0; i < len(pairs); i += 2 {
		ls = append(ls, bookshop.CartLine{Book: bookshop.Book{ID: int32(pairs[i])}, Quantity: pairs[i+1]})
	}
	return ls
}

// add adds through the rules, as the Service does.
func add(ctx context.Context, db Store, id string, book int32, quantity int) error {
	_, err := db.Update(ctx, id, time.Now(), func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
		return cart.Added(ls, book, quantity)
	})
	return err
}

// check fails the test unless cart id holds want, and counts as many.
func check(tb testing.TB, db Store, id string, want []bookshop.CartLine) {
	tb.Helper()
	ctx := testContext(tb)
	got, err := db.Lines(ctx, id)
	if err != nil {
		tb.Fatalf("Lines(%s): %v", id, err)
	}
	if !slices.Equal(got, want) {
		tb.Errorf("Lines(%s) = %v, want %v", id, got, want)
	}
	n, err := db.Count(ctx, id)
	if err != nil {
		tb.Fatalf("Count(%s): %v", id, err)
	}
	wantN := 0
	for _, l := range want {
		wantN += l.Quantity
	}
	if n != wantN {
		tb.Errorf("Count(%s) = %d, want %d", id, n, wantN)
	}
}

// mergedLines is cart.Merged for the store: the lines alone.
func mergedLines(into, from []bookshop.CartLine) []bookshop.CartLine {
	lines, _, _ := cart.Merged(into, from)
	return lines
}

func testUpdateKeepsOrder(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	check(t, db, "g-unknown", nil)
	for _, a := range []struct {
		book int32
		n    int
	}{{5, 1}, {2, 2}, {9, 1}, {2, 3}} {
		if err := add(ctx, db, "c-1", a.book, a.n); err != nil {
			t.Fatalf("add %d of book %d: %v", a.n, a.book, err)
		}
	}
	check(t, db, "c-1", lines(5, 1, 2, 5, 9, 1))

	// Remove the first line, then add its book again: it goes last.
	set := func(book int32, n int) {
		t.Helper()
		if _, err := db.Update(ctx, "c-1", time.Now(), func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
			return cart.WithQuantity(ls, book, n)
		}); err != nil {
			t.Fatalf("set book %d to %d: %v", book, n, err)
		}
	}
	set(5, 0)
	if err := add(ctx, db, "c-1", 5, 4); err != nil {
		t.Fatal(err)
	}
	check(t, db, "c-1", lines(2, 5, 9, 1, 5, 4))
	check(t, db, "c-2", nil) // other carts untouched

	// A change that fails writes nothing.
	if err := add(ctx, db, "c-1", 2, 6); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Fatalf("add past 10 copies: %v, want a Conflict", err)
	}
	check(t, db, "c-1", lines(2, 5, 9, 1, 5, 4))

	// Emptying the cart removes it.
	set(2, 0)
	set(9, 0)
	set(5, 0)
	check(t, db, "c-1", nil)
}

// testConcurrentAddsKeepTheLimits adds from many goroutines at once, on
// the same line and on different lines: the limits hold exactly.
func testConcurrentAddsKeepTheLimits(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		ok, conflicts, errs int
	)
	run := func(id string, book int32) {
		defer wg.Done()
		err := add(ctx, db, id, book, 1)
		mu.Lock()
		defer mu.Unlock()
		switch bookshop.ErrorCode(err) {
		case "":
			ok++
		case bookshop.Conflict:
			conflicts++
		default:
			errs++
			t.Errorf("add: %v", err)
		}
	}
	// 25 adds of one copy of the same book: 10 fit.
	for range 25 {
		wg.Add(1)
		go run("g-same", 1)
	}
	wg.Wait()
	if ok != 10 || conflicts != 15 {
		t.Errorf("25 concurrent adds of one copy: %d added, %d conflicts, want 10 and 15", ok, conflicts)
	}
	check(t, db, "g-same", lines(1, 10))

	// 70 adds of different books: 50 fit.
	ok, conflicts = 0, 0
	for book := range int32(70) {
		wg.Add(1)
		go run("g-many", book+1)
	}
	wg.Wait()
	if ok != 50 || conflicts != 20 {
		t.Errorf("70 concurrent adds of different books: %d added, %d conflicts, want 50 and 20", ok, conflicts)
	}
	got, err := db.Lines(ctx, "g-many")
	if err != nil || len(got) != 50 {
		t.Errorf("Lines(g-many) = %d lines, %v; want 50", len(got), err)
	}
}

// testTwoHandlesKeepTheLimits opens two handles on one database, as two
// processes or replicas would, and adds through both at once.
func testTwoHandlesKeepTheLimits(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	dbs := []Store{db, again()}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			if err := add(ctx, dbs[i%2], "c-7", 3, 1); err != nil && bookshop.ErrorCode(err) != bookshop.Conflict {
				t.Errorf("add: %v", err)
			}
		})
	}
	wg.Wait()
	check(t, dbs[0], "c-7", lines(3, 10))
}

// testAnotherHandle closes a handle and opens another on the same
// database (a restart, or another replica): the carts are there, and the
// order of new lines goes on.
func testAnotherHandle(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	for _, book := range []int32{4, 8, 4} {
		if err := add(ctx, db, "g-abc", book, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = again()
	check(t, db, "g-abc", lines(4, 4, 8, 2))
	// And the order of new lines goes on after the old ones.
	if err := add(ctx, db, "g-abc", 1, 1); err != nil {
		t.Fatal(err)
	}
	check(t, db, "g-abc", lines(4, 4, 8, 2, 1, 1))
}

func testMerge(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	for _, a := range []struct {
		id   string
		book int32
		n    int
	}{{"g-guest", 1, 3}, {"g-guest", 2, 9}, {"c-1", 2, 4}, {"c-1", 5, 1}} {
		if err := add(ctx, db, a.id, a.book, a.n); err != nil {
			t.Fatal(err)
		}
	}
	merge := func() []bookshop.CartLine {
		t.Helper()
		got, err := db.Merge(ctx, "g-guest", "c-1", time.Now(), mergedLines)
		if err != nil {
			t.Fatalf("Merge: %v", err)
		}
		return got
	}
	want := lines(2, 10, 5, 1, 1, 3)
	if got := merge(); !slices.Equal(got, want) {
		t.Errorf("Merge = %v, want %v", got, want)
	}
	check(t, db, "c-1", want)
	check(t, db, "g-guest", nil)
	// Again: the guest's cart is empty, nothing changes.
	if got := merge(); !slices.Equal(got, want) {
		t.Errorf("Merge again = %v, want %v", got, want)
	}
	check(t, db, "c-1", want)
}

func testDeleteIdle(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	for _, id := range []string{"g-1", "g-2", "c-1", "G-3", "gx"} {
		if err := add(ctx, db, id, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing is older than an hour ago.
	if n, err := db.DeleteIdle(ctx, "g-", time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Errorf("DeleteIdle(an hour ago) = %d, %v; want 0", n, err)
	}
	// Everything is older than a minute from now: the guests' carts go,
	// and only those.
	if n, err := db.DeleteIdle(ctx, "g-", time.Now().Add(time.Minute)); n != 2 || err != nil {
		t.Errorf("DeleteIdle(in a minute) = %d, %v; want 2", n, err)
	}
	check(t, db, "g-1", nil)
	check(t, db, "g-2", nil)
	for _, id := range []string{"c-1", "G-3", "gx"} {
		check(t, db, id, lines(1, 1))
	}
	if _, err := db.DeleteIdle(ctx, "g*", time.Now()); err == nil {
		t.Error("DeleteIdle with a pattern as prefix: no error")
	}
}

// testDeleteIdleInBatches sweeps more carts than one batch holds.
func testDeleteIdleInBatches(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	const carts = 1234
	for i := range carts {
		if err := add(ctx, db, "g-"+strconv.Itoa(i), 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.DeleteIdle(ctx, "g-", time.Now().Add(time.Minute)); n != carts || err != nil {
		t.Errorf("DeleteIdle = %d, %v; want %d", n, err, carts)
	}
}

// testChangesRecordTheCallersTime changes carts at a time long past: the
// time recorded is the one given, not the machine's clock, as the sweep
// of idle carts shows.
func testChangesRecordTheCallersTime(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	then := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	added := func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) { return cart.Added(ls, 1, 1) }
	if _, err := db.Update(ctx, "g-update", then, added); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AddOnce(ctx, "g-addonce", "k", lines(1, 1)[0], then, then.Add(-time.Hour), added); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Update(ctx, "g-from", then, added); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Merge(ctx, "g-from", "g-merge", then, mergedLines); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteIdle(ctx, "g-", then); n != 0 || err != nil {
		t.Errorf("DeleteIdle(before the changes) = %d, %v; want 0", n, err)
	}
	if n, err := db.DeleteIdle(ctx, "g-", then.Add(time.Second)); n != 3 || err != nil {
		t.Errorf("DeleteIdle(a second after the changes) = %d, %v; want 3", n, err)
	}
}

// testAddOnce adds under idempotency keys: a key recorded is found again
// in its window, whatever became of the cart, and only then.
func testAddOnce(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	calls := 0
	addOnce := func(id, key string, book int32, n int, now time.Time) ([]bookshop.CartLine, *bookshop.CartLine, error) {
		t.Helper()
		return db.AddOnce(ctx, id, key, lines(int(book), n)[0], now, now.Add(-24*time.Hour), func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
			calls++
			return cart.Added(ls, book, n)
		})
	}
	// The first use of a key adds, and records it.
	got, prior, err := addOnce("g-1", "key-a", 3, 2, t0)
	if err != nil || prior != nil || !slices.Equal(got, lines(3, 2)) || calls != 1 {
		t.Fatalf("AddOnce(key-a, new) = %v, %v, %v (%d changes); want [3×2], no record, one change", got, prior, err, calls)
	}
	// Another key adds too.
	if _, prior, err := addOnce("g-1", "key-b", 4, 1, t0); err != nil || prior != nil {
		t.Fatalf("AddOnce(key-b) = %v, %v", prior, err)
	}
	// The same key again, even for another book: no change, the record.
	for _, book := range []int32{3, 5} {
		calls = 0
		got, prior, err = addOnce("g-1", "key-a", book, 1, t0.Add(time.Hour))
		if err != nil || prior == nil || *prior != lines(3, 2)[0] || !slices.Equal(got, lines(3, 2, 4, 1)) || calls != 0 {
			t.Errorf("AddOnce(key-a again, book %d) = %v, %v, %v (%d changes); want the cart as it is, the record 3×2, no change", book, got, prior, err, calls)
		}
	}
	check(t, db, "g-1", lines(3, 2, 4, 1))
	// The key belongs to its cart: on another, it is new.
	if _, prior, err := addOnce("g-2", "key-a", 3, 2, t0); err != nil || prior != nil {
		t.Errorf("AddOnce(key-a on another cart) = %v, %v; want a new addition", prior, err)
	}
	check(t, db, "g-2", lines(3, 2))

	// A change that fails records no key: the next try is new.
	if _, _, err := addOnce("g-1", "key-c", 3, 9, t0); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Fatalf("AddOnce(past the limit) = %v, want a Conflict", err)
	}
	if _, prior, err := addOnce("g-1", "key-c", 3, 1, t0); err != nil || prior != nil {
		t.Errorf("AddOnce(key-c, after its failure) = %v, %v; want a new addition", prior, err)
	}
	check(t, db, "g-1", lines(3, 3, 4, 1))

	// The key outlives the cart's lines: emptied, the cart is not added
	// to again by the key.
	if _, err := db.Update(ctx, "g-2", t0, func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if got, prior, err := addOnce("g-2", "key-a", 3, 2, t0.Add(time.Minute)); err != nil || prior == nil || len(got) != 0 {
		t.Errorf("AddOnce(key-a on the emptied cart) = %v, %v, %v; want the empty cart and the record", got, prior, err)
	}
	check(t, db, "g-2", nil)

	// Past its window, the key is new again, and recorded anew.
	later := t0.Add(24*time.Hour + time.Second)
	if _, prior, err := addOnce("g-1", "key-a", 5, 1, later); err != nil || prior != nil {
		t.Errorf("AddOnce(key-a, a day later) = %v, %v; want a new addition", prior, err)
	}
	if _, prior, err := addOnce("g-1", "key-a", 9, 9, later.Add(time.Hour)); err != nil || prior == nil || *prior != lines(5, 1)[0] {
		t.Errorf("AddOnce(key-a, after its renewal) = %v, %v; want the new record 5×1", prior, err)
	}
	check(t, db, "g-1", lines(3, 3, 4, 1, 5, 1))
}

func testDeleteKeys(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	const keys = 1234 // more than one batch
	for i := range keys {
		at := t0
		if i%2 == 1 {
			at = t0.Add(time.Hour)
		}
		if _, _, err := db.AddOnce(ctx, "g-"+strconv.Itoa(i%7), "k"+strconv.Itoa(i), lines(1, 1)[0], at, at, func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
			return ls, nil // no change to the lines: only the key is written
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.DeleteKeys(ctx, t0); n != 0 || err != nil {
		t.Errorf("DeleteKeys(the first's time) = %d, %v; want 0", n, err)
	}
	if n, err := db.DeleteKeys(ctx, t0.Add(time.Minute)); n != keys/2 || err != nil {
		t.Errorf("DeleteKeys(a minute on) = %d, %v; want %d", n, err, keys/2)
	}
	// The keys deleted are new again; the others are not.
	for i, wantPrior := range []bool{false, true} {
		_, prior, err := db.AddOnce(ctx, "g-"+strconv.Itoa(i%7), "k"+strconv.Itoa(i), lines(1, 1)[0], t0.Add(time.Hour), t0, func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) { return ls, nil })
		if err != nil || (prior != nil) != wantPrior {
			t.Errorf("AddOnce(key k%d) after the sweep: record %v, %v; want a record: %t", i, prior, err, wantPrior)
		}
	}
	if n, err := db.DeleteKeys(ctx, t0.Add(2*time.Hour)); n != keys/2+1 || err != nil {
		t.Errorf("DeleteKeys(two hours on) = %d, %v; want %d", n, err, keys/2+1)
	}
}

func testRemoveOnce(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, l := range lines(1, 3, 2, 1, 3, 2) {
		if err := add(ctx, db, "c-1", l.Book.ID, l.Quantity); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	removeOnce := func(id, key string, remove []bookshop.StockLine, what string, now time.Time) ([]bookshop.CartLine, string, error) {
		t.Helper()
		return db.RemoveOnce(ctx, id, key, what, now, now.Add(-24*time.Hour), func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
			calls++
			return cart.Removed(ls, remove), nil
		})
	}
	bought := []bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 2, Quantity: 1}}
	got, prior, err := removeOnce("c-1", "rm-a", bought, "1:2,2:1", t0)
	if err != nil || prior != "" || !slices.Equal(got, lines(1, 1, 3, 2)) || calls != 1 {
		t.Fatalf("RemoveOnce(rm-a, new) = %v, %q, %v (%d changes); want [1×1 3×2], no record, one change", got, prior, err, calls)
	}
	// Again with the key: nothing removed, whatever the lines; the record.
	for _, what := range []string{"1:2,2:1", "3:2"} {
		calls = 0
		got, prior, err = removeOnce("c-1", "rm-a", []bookshop.StockLine{{BookID: 3, Quantity: 2}}, what, t0.Add(time.Hour))
		if err != nil || prior != "1:2,2:1" || !slices.Equal(got, lines(1, 1, 3, 2)) || calls != 0 {
			t.Errorf("RemoveOnce(rm-a again, %s) = %v, %q, %v (%d changes); want the cart as it is, the record, no change", what, got, prior, err, calls)
		}
	}
	check(t, db, "c-1", lines(1, 1, 3, 2))
	// The key outlives the cart's row, emptied by a removal.
	if _, prior, err := removeOnce("c-1", "rm-b", []bookshop.StockLine{{BookID: 1, Quantity: 1}, {BookID: 3, Quantity: 2}}, "1:1,3:2", t0); err != nil || prior != "" {
		t.Fatalf("RemoveOnce(rm-b) = %q, %v", prior, err)
	}
	check(t, db, "c-1", nil)
	if err := add(ctx, db, "c-1", 1, 1); err != nil {
		t.Fatal(err)
	}
	if got, prior, err := removeOnce("c-1", "rm-b", []bookshop.StockLine{{BookID: 1, Quantity: 1}}, "1:1,3:2", t0.Add(time.Minute)); err != nil || prior != "1:1,3:2" || !slices.Equal(got, lines(1, 1)) {
		t.Errorf("RemoveOnce(rm-b on the emptied cart) = %v, %q, %v; want the book added since kept, and the record", got, prior, err)
	}
	// The key belongs to its cart; and past its window it is new again.
	if _, prior, err := removeOnce("c-2", "rm-a", bought, "1:2,2:1", t0); err != nil || prior != "" {
		t.Errorf("RemoveOnce(rm-a on another cart) = %q, %v; want a new removal", prior, err)
	}
	if _, prior, err := removeOnce("c-1", "rm-a", bought, "1:2,2:1", t0.Add(25*time.Hour)); err != nil || prior != "" {
		t.Errorf("RemoveOnce(rm-a, a day later) = %q, %v; want a new removal", prior, err)
	}
	check(t, db, "c-1", nil)
	// DeleteKeys deletes the removals' keys too.
	if n, err := db.DeleteKeys(ctx, t0.Add(time.Hour)); n != 2 || err != nil {
		t.Errorf("DeleteKeys = %d, %v; want 2 (rm-b on c-1, rm-a on c-2)", n, err)
	}
}

// catalog is a Catalog that sells every book, each at 5.00 EUR.
type catalog struct{}

func (catalog) Books(_ context.Context, ids []int32) ([]bookshop.Book, error) {
	books := make([]bookshop.Book, len(ids))
	for i, id := range ids {
		books[i] = bookshop.Book{ID: id, Title: fmt.Sprintf("Book %d", id), Author: "An Author", Price: bookshop.Money{Units: 500, Currency: "EUR"}}
	}
	return books, nil
}

// replicas returns two Carts, each on a handle of its own on one new
// database, as two replicas of the service would be, and the first's
// Store.
func replicas(tb testing.TB, newDB NewDatabase) ([]*cart.Service, Store) {
	tb.Helper()
	db, again := open(tb, newDB)
	return []*cart.Service{
		cart.NewService(db, catalog{}, cart.Options{}),
		cart.NewService(again(), catalog{}, cart.Options{}),
	}, db
}

// outcomes counts the outcomes of calls by their error's code ("" for
// success). It is safe for concurrent use.
type outcomes struct {
	mu sync.Mutex
	n  map[bookshop.Code]int
}

func (o *outcomes) add(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = make(map[bookshop.Code]int)
	}
	o.n[bookshop.ErrorCode(err)]++
}

// atOnce runs n calls of do at once, the i-th on replica i%len(svcs).
func atOnce(svcs []*cart.Service, n int, do func(i int, svc *cart.Service)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		svc := svcs[i%len(svcs)]
		wg.Go(func() {
			<-start
			do(i, svc)
		})
	}
	close(start)
	wg.Wait()
}

// testLimitsAcrossReplicas adds to carts through two replicas at once:
// 25 additions of one copy of a book, of which 10 fit, and 70 of
// different books, of which 50 fit; the others are refused with
// Conflict, and each cart holds exactly what was added.
func testLimitsAcrossReplicas(t *testing.T, newDB NewDatabase) {
	svcs, db := replicas(t, newDB)
	var same outcomes
	atOnce(svcs, 25, func(_ int, svc *cart.Service) {
		_, err := svc.Add(testContext(t), "g-same", 1, 1, "")
		same.add(err)
	})
	if same.n[""] != bookshop.MaxQuantity || same.n[bookshop.Conflict] != 25-bookshop.MaxQuantity {
		t.Errorf("25 additions of one copy on two replicas: %v, want %d added and the rest conflicts", same.n, bookshop.MaxQuantity)
	}
	check(t, db, "g-same", lines(1, bookshop.MaxQuantity))

	var many outcomes
	atOnce(svcs, 70, func(i int, svc *cart.Service) {
		_, err := svc.Add(testContext(t), "c-many", int32(i+1), 1, "")
		many.add(err)
	})
	if many.n[""] != bookshop.MaxCartLines || many.n[bookshop.Conflict] != 70-bookshop.MaxCartLines {
		t.Errorf("70 additions of different books on two replicas: %v, want %d added and the rest conflicts", many.n, bookshop.MaxCartLines)
	}
	got, err := db.Lines(testContext(t), "c-many")
	if err != nil || len(got) != bookshop.MaxCartLines {
		t.Errorf("Lines(c-many) = %d lines, %v; want %d", len(got), err, bookshop.MaxCartLines)
	}
	if n, err := db.Count(testContext(t), "c-many"); err != nil || n != bookshop.MaxCartLines {
		t.Errorf("Count(c-many) = %d, %v; want %d", n, err, bookshop.MaxCartLines)
	}
}

// testAddKeyOnceAcrossReplicas retries one keyed addition many times at
// once through two replicas, on a new cart and then on a cart that has
// lines: each adds its copies once, and every call succeeds with the
// cart as it is.
func testAddKeyOnceAcrossReplicas(t *testing.T, newDB NewDatabase) {
	svcs, db := replicas(t, newDB)
	for _, key := range []string{"add-first", "add-second"} {
		atOnce(svcs, 16, func(_ int, svc *cart.Service) {
			c, err := svc.Add(testContext(t), "g-retried", 7, 2, key)
			if err != nil || c.Count < 2 {
				t.Errorf("Add(%s) = %+v, %v; want the cart with the copies", key, c, err)
			}
		})
	}
	check(t, db, "g-retried", lines(7, 4))
}

// testRemoveKeyOnceAcrossReplicas retries one checkout's removal many
// times at once through two replicas: its copies leave the cart once,
// and every call answers the count after it.
func testRemoveKeyOnceAcrossReplicas(t *testing.T, newDB NewDatabase) {
	svcs, db := replicas(t, newDB)
	for _, l := range lines(1, 5, 2, 1) {
		if _, err := svcs[0].Add(testContext(t), "c-buyer", l.Book.ID, l.Quantity, ""); err != nil {
			t.Fatal(err)
		}
	}
	bought := []bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 2, Quantity: 1}}
	atOnce(svcs, 16, func(_ int, svc *cart.Service) {
		n, err := svc.RemoveLines(testContext(t), "c-buyer", bought, "checkout-1")
		if err != nil || n != 3 {
			t.Errorf("RemoveLines(checkout-1) = %d, %v; want 3 copies left", n, err)
		}
	})
	check(t, db, "c-buyer", lines(1, 3))
}

// testMergeOnceAcrossReplicas merges a guest's cart into a customer's
// many times at once through two replicas, as a sign-in retried on
// either would: the guest's copies are added once, and the guest's cart
// is left empty.
func testMergeOnceAcrossReplicas(t *testing.T, newDB NewDatabase) {
	svcs, db := replicas(t, newDB)
	for _, a := range []struct {
		id       string
		book     int32
		quantity int
	}{{"g-guest", 1, 2}, {"g-guest", 3, 1}, {"c-1", 1, 3}, {"c-1", 2, 1}} {
		if _, err := svcs[0].Add(testContext(t), a.id, a.book, a.quantity, ""); err != nil {
			t.Fatal(err)
		}
	}
	atOnce(svcs, 12, func(_ int, svc *cart.Service) {
		m, err := svc.Merge(testContext(t), "g-guest", "c-1")
		if err != nil || m.Cart.Count != 7 {
			t.Errorf("Merge = %+v, %v; want the customer's cart of 7 copies", m, err)
		}
	})
	check(t, db, "c-1", lines(1, 5, 2, 1, 3, 1))
	check(t, db, "g-guest", nil)
}

// testSweepAcrossHandles sweeps the idle guests' carts and the old keys
// from two handles at once, as two replicas' sweepers: each row is
// deleted, and counted, once.
func testSweepAcrossHandles(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	dbs := []Store{db, again()}
	then := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	const carts = 600 // more than a batch
	for i := range carts {
		if _, _, err := db.AddOnce(ctx, "g-"+strconv.Itoa(i), "k", lines(1, 1)[0], then, then, func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
			return cart.Added(ls, 1, 1)
		}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		idle, keys int
	)
	for i := range 4 {
		db := dbs[i%len(dbs)]
		wg.Go(func() {
			n, err := db.DeleteIdle(ctx, "g-", then.Add(time.Second))
			if err != nil {
				t.Errorf("DeleteIdle: %v", err)
			}
			k, err := db.DeleteKeys(ctx, then.Add(time.Second))
			if err != nil {
				t.Errorf("DeleteKeys: %v", err)
			}
			mu.Lock()
			idle, keys = idle+n, keys+k
			mu.Unlock()
		})
	}
	wg.Wait()
	// A sweep that met another's deletions may stop before the end: the
	// next sweep deletes the rest.
	n, err := db.DeleteIdle(ctx, "g-", then.Add(time.Second))
	k, err2 := db.DeleteKeys(ctx, then.Add(time.Second))
	if err != nil || err2 != nil || idle+n != carts || keys+k != carts {
		t.Errorf("4 sweeps at once and one after deleted %d carts and %d keys (%v, %v), want %d of each", idle+n, keys+k, err, err2, carts)
	}
	check(t, dbs[1], "g-0", nil)
}
