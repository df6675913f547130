package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/sqlite"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a database at path, closed when the test ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
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
func add(ctx context.Context, db *sqlite.DB, id string, book int32, quantity int) error {
	_, err := db.Update(ctx, id, func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
		return cart.Added(ls, book, quantity)
	})
	return err
}

// check fails the test unless cart id holds want, and counts as many.
func check(tb testing.TB, db *sqlite.DB, id string, want []bookshop.CartLine) {
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

func TestUpdateKeepsOrder(t *testing.T) {
	ctx := testContext(t)
	db := open(t, filepath.Join(t.TempDir(), "cart.db"))
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
		if _, err := db.Update(ctx, "c-1", func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) {
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

// TestConcurrentAddsKeepTheLimits adds from many goroutines at once, on
// the same line and on different lines: the limits hold exactly.
func TestConcurrentAddsKeepTheLimits(t *testing.T) {
	ctx := testContext(t)
	db := open(t, filepath.Join(t.TempDir(), "cart.db"))
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

// TestTwoProcessesKeepTheLimits opens the same file twice, as two
// processes would, and adds through both at once.
func TestTwoProcessesKeepTheLimits(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "cart.db")
	dbs := []*sqlite.DB{open(t, path), open(t, path)}
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

func TestSurvivesReopen(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "cart.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, book := range []int32{4, 8, 4} {
		if err := add(ctx, db, "g-abc", book, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	check(t, db, "g-abc", lines(4, 4, 8, 2))
	// And the order of new lines goes on after the old ones.
	if err := add(ctx, db, "g-abc", 1, 1); err != nil {
		t.Fatal(err)
	}
	check(t, db, "g-abc", lines(4, 4, 8, 2, 1, 1))
}

func TestMerge(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
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
		got, err := db.Merge(ctx, "g-guest", "c-1", cart.Merged)
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

func TestDeleteIdle(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
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

// TestDeleteIdleInBatches sweeps more carts than one batch holds.
func TestDeleteIdleInBatches(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
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

func TestOpenRefusesAnotherProgramsDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`CREATE TABLE people (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	_, err = sqlite.Open(testContext(t), path)
	if err == nil || !strings.Contains(err.Error(), "not a Bookshop cart database") {
		t.Errorf("Open(another program's database) = %v, want an error saying it is not a cart database", err)
	}
}
