// Package storetest is the contract of the Catalog's stores as tests: one
// suite that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them; and RunReplicas, the promises of
// a store that several replicas share (package postgres's).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
)

// Store is what the suite needs of a catalog store: the Catalog's Store,
// with its books by category, its size and its Close.
type Store interface {
	catalog.Store
	bookshop.BookStore
	// Len returns the number of books of the snapshot.
	Len() int
	// TextBytes returns the bytes of the titles and authors of the
	// snapshot's books.
	TextBytes() int64
	// Over reports whether the snapshot is past the store's limits.
	Over() bool
	Close() error
}

// Database is one new, empty database of a test.
type Database struct {
	// Open opens a Store on the database, held to limits: each call
	// another handle (as another replica, or another process, would),
	// closed when the test ends, or before by the test. The first fills
	// the new database with seed; later ones find it filled, and leave it
	// as it is. It returns the implementation's error when it cannot open
	// the Store.
	Open func(seed []bookshop.Book, limits catalogdb.Limits) (Store, error)
	// Staged returns the rows of import_items, read on a connection of
	// its own.
	Staged func(tb testing.TB) int
}

// NewDatabase makes a new, empty database for one test.
type NewDatabase func(tb testing.TB) Database

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"OpenSeedsOnce", testOpenSeedsOnce},
		{"OpenSeedIsAtomic", testOpenSeedIsAtomic},
		{"OpenConcurrentlySeedsOnce", testOpenConcurrentlySeedsOnce},
		{"ImportBooks", testImportBooks},
		{"ImportIDsDoNotDependOnOrder", testImportIDsDoNotDependOnOrder},
		{"ImportNoIDLeft", testImportNoIDLeft},
		{"ImportLimits", testImportLimits},
		{"ImportCancelledWritesNothing", testImportCancelledWritesNothing},
		{"ReadsDuringImport", testReadsDuringImport},
		{"BookNotFound", testBookNotFound},
		{"PricesKept", testPricesKept},
		{"ImportKey", testImportKey},
		{"ImportManyBatches", testImportManyBatches},
		{"ImportRejectionsReported", testImportRejectionsReported},
		{"ImportHoldsNoItems", testImportHoldsNoItems},
		{"ImportsOneAtATime", testImportsOneAtATime},
		{"ImportUnusualText", testImportUnusualText},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

// price is the price of the books the tests import.
var price = bookshop.Money{Units: 999, Currency: "EUR"}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// Builtin returns the built-in catalog's books.
func Builtin(tb testing.TB) []bookshop.Book {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	return c.Books()
}

// open opens a Store on d, held to limits, and fails tb if it cannot.
func (d Database) open(tb testing.TB, seed []bookshop.Book, limits catalogdb.Limits) Store {
	tb.Helper()
	db, err := d.Open(seed, limits)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db
}

// openNew opens a Store on a new database filled with seed.
func openNew(tb testing.TB, newDB NewDatabase, seed []bookshop.Book) Store {
	tb.Helper()
	return newDB(tb).open(tb, seed, catalogdb.Limits{})
}

// all returns every book, through ExportBooks.
func all(tb testing.TB, db Store) []bookshop.Book {
	tb.Helper()
	var books []bookshop.Book
	err := db.ExportBooks(testContext(tb), bookshop.AllCategories, 7, func(batch []bookshop.Book) error {
		books = append(books, batch...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return books
}

// newItems returns n books to import, titled prefix and their number,
// without ids.
func newItems(prefix string, n int) []bookshop.ImportItem {
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		items[i] = bookshop.ImportItem{Line: i + 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: fmt.Sprintf("%s %d", prefix, i), Author: "A", Year: 2000, Price: price}}
	}
	return items
}

// testOpenSeedsOnce checks that a new database gets the seed, and that
// opening it again keeps what is there rather than seeding again.
func testOpenSeedsOnce(t *testing.T, newDB NewDatabase) {
	d := newDB(t)
	seed := Builtin(t)
	db := d.open(t, seed, catalogdb.Limits{})
	if got := all(t, db); !slices.Equal(got, seed) {
		t.Fatalf("new database holds %d books, want the %d of the seed", len(got), len(seed))
	}
	extra := bookshop.Book{ID: 1000, Category: bookshop.Mystery, Title: "The Big Clock", Author: "Kenneth Fearing", Year: 1946, Price: price}
	if res, err := db.ImportBooks(testContext(t), "", []bookshop.ImportItem{{Book: extra}}); err != nil || res.Imported != 1 {
		t.Fatalf("ImportBooks = %+v, %v; want 1 imported", res, err)
	}
	db.Close()

	db2 := d.open(t, []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "Other", Author: "Other", Year: 2000, Price: price}}, catalogdb.Limits{})
	got := all(t, db2)
	if len(got) != len(seed)+1 || got[len(got)-1] != extra {
		t.Errorf("reopened database holds %d books (last %+v), want the seed and the import (%d)", len(got), got[len(got)-1], len(seed)+1)
	}
	if b, err := db2.Book(testContext(t), 1); err != nil || b.Title != "The Maltese Falcon" {
		t.Errorf("reopened Book(1) = %+v, %v; want the seed's, not a new seed", b, err)
	}
}

// testOpenSeedIsAtomic checks that a seed that fails leaves the database
// unmade, so that the next Open makes and seeds it: a database is never
// left migrated but empty.
func testOpenSeedIsAtomic(t *testing.T, newDB NewDatabase) {
	d := newDB(t)
	bad := append(Builtin(t), bookshop.Book{ID: 1, Category: bookshop.Mystery, Title: "Twice", Author: "Again", Year: 2000, Price: price})
	if _, err := d.Open(bad, catalogdb.Limits{}); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("Open with a seed that reuses id 1 = %v, want a seed error", err)
	}
	db := d.open(t, Builtin(t), catalogdb.Limits{})
	if got := db.Len(); got != len(Builtin(t)) {
		t.Errorf("after a failed seed, the next Open holds %d books, want the %d of its seed", got, len(Builtin(t)))
	}
}

// testOpenConcurrentlySeedsOnce opens one new database from several
// handles at once, as replicas starting together do: every Open
// succeeds and the catalog is seeded exactly once.
func testOpenConcurrentlySeedsOnce(t *testing.T, newDB NewDatabase) {
	d := newDB(t)
	seed := Builtin(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	dbs := make([]Store, n)
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = d.Open(seed, catalogdb.Limits{}) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		if got := dbs[i].Len(); got != len(seed) {
			t.Errorf("Open %d holds %d books, want %d", i, got, len(seed))
		}
	}
}

// testImportBooks checks every rule of an import and that rejected books
// are reported with their index and line.
func testImportBooks(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	before := db.Len()
	items := []bookshop.ImportItem{
		{Line: 2, Book: bookshop.Book{ID: 100, Category: bookshop.Mystery, Title: "The Big Clock", Author: "Kenneth Fearing", Year: 1946, Price: price}},
		{Line: 3, Book: bookshop.Book{Category: bookshop.SelfHelp, Title: "  Essentialism ", Author: "Greg McKeown", Year: 2014, Price: price}},
		{Line: 4, Book: bookshop.Book{ID: 101, Category: bookshop.Mystery, Title: "", Author: "Nobody", Year: 2000, Price: price}},
		{Line: 5, Book: bookshop.Book{ID: 102, Category: bookshop.Category(7), Title: "T", Author: "A", Year: 2000, Price: price}},
		{Line: 6, Book: bookshop.Book{ID: 1, Category: bookshop.Mystery, Title: "Taken Id", Author: "A", Year: 2000, Price: price}},
		{Line: 7, Book: bookshop.Book{ID: 103, Category: bookshop.Mystery, Title: "the maltese FALCON", Author: "Dashiell Hammett", Year: 1930, Price: price}},
		{Line: 8, Book: bookshop.Book{ID: 100, Category: bookshop.Mystery, Title: "Same Id As Line 2", Author: "A", Year: 2000, Price: price}},
		{Line: 9, Book: bookshop.Book{ID: 104, Category: bookshop.Mystery, Title: "The Big Clock", Author: "Kenneth Fearing", Year: 1946, Price: price}},
		{Line: 10, Book: bookshop.Book{ID: 105, Category: bookshop.Mystery, Title: "T", Author: "", Year: 2000, Price: price}},
		{Line: 11, Book: bookshop.Book{ID: 106, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 0, Price: price}},
		{Line: 12, Book: bookshop.Book{ID: -5, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 2000, Price: price}},
		{Line: 13, Book: bookshop.Book{ID: 107, Category: bookshop.Mystery, Title: "No Price", Author: "A", Year: 2000}},
		{Line: 14, Book: bookshop.Book{ID: 108, Category: bookshop.Mystery, Title: "Dear", Author: "A", Year: 2000, Price: bookshop.Money{Units: 1_000_001, Currency: "EUR"}}},
	}
	res, err := db.ImportBooks(testContext(t), "", items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 {
		t.Errorf("imported %d, want 2", res.Imported)
	}
	want := map[int]string{ // line -> words of the reason
		4:  "title: must not be empty",
		5:  "category",
		6:  "id: 1 is already used",
		7:  "already book 1, in the catalog",
		8:  "earlier in this import (line 2)",
		9:  "earlier in this import (line 2)",
		10: "author: must not be empty",
		11: "year",
		12: "negative",
		13: "price: missing",
		14: "price: 10000.01 is more than 10000",
	}
	if len(res.Rejected) != len(want) {
		t.Fatalf("rejected %d: %+v, want %d", len(res.Rejected), res.Rejected, len(want))
	}
	for _, r := range res.Rejected {
		if words, ok := want[r.Line]; !ok || !strings.Contains(r.Reason, words) {
			t.Errorf("rejection at line %d (index %d) = %q, want it to contain %q", r.Line, r.Index, r.Reason, want[r.Line])
		}
		if items[r.Index].Line != r.Line {
			t.Errorf("rejection index %d has line %d, want %d", r.Index, r.Line, items[r.Index].Line)
		}
	}
	if db.Len() != before+2 {
		t.Errorf("catalog has %d books, want %d", db.Len(), before+2)
	}
	b, err := db.Book(testContext(t), 100)
	if err != nil || b.Title != "The Big Clock" {
		t.Errorf("Book(100) = %+v, %v; want The Big Clock", b, err)
	}
	// The book without id got the id after every id the rows ask for
	// (108 the highest, though its row was rejected), trimmed.
	books := all(t, db)
	last := books[len(books)-1]
	if last.Title != "Essentialism" || last.ID != 109 {
		t.Errorf("the book imported without an id is %+v, want Essentialism with id 109", last)
	}
}

// testImportIDsDoNotDependOnOrder imports a row without an id before a
// row that asks for the next free id, and the same rows the other way
// round: both go in, with the same ids, in either order.
func testImportIDsDoNotDependOnOrder(t *testing.T, newDB NewDatabase) {
	seed := Builtin(t)
	top := seed[len(seed)-1].ID
	noID := bookshop.ImportItem{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "No Id", Author: "A", Year: 2000, Price: price}}
	asks := bookshop.ImportItem{Line: 3, Book: bookshop.Book{ID: top + 1, Category: bookshop.Mystery, Title: "Asks", Author: "B", Year: 2000, Price: price}}
	for _, items := range [][]bookshop.ImportItem{{noID, asks}, {asks, noID}} {
		db := openNew(t, newDB, seed)
		res, err := db.ImportBooks(testContext(t), "", items)
		if err != nil || res.Imported != 2 || len(res.Rejected) != 0 {
			t.Fatalf("import of %s and %s first = %+v, %v; want both imported", items[0].Book.Title, items[1].Book.Title, res, err)
		}
		ids := map[string]int32{}
		for _, b := range res.Books {
			ids[b.Title] = b.ID
		}
		if ids["Asks"] != top+1 || ids["No Id"] != top+2 {
			t.Errorf("%s first: ids %v, want Asks %d, No Id %d", items[0].Book.Title, ids, top+1, top+2)
		}
	}
}

// testImportNoIDLeft imports a row that asks for the highest id there
// is, 2147483647, beside a row without an id, in either order: the first
// goes in, the second is refused, saying why, and the rest of the import
// is written.
func testImportNoIDLeft(t *testing.T, newDB NewDatabase) {
	noID := bookshop.ImportItem{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "No Id", Author: "A", Year: 2000, Price: price}}
	last := bookshop.ImportItem{Line: 3, Book: bookshop.Book{ID: math.MaxInt32, Category: bookshop.Mystery, Title: "Last", Author: "B", Year: 2000, Price: price}}
	other := bookshop.ImportItem{Line: 4, Book: bookshop.Book{ID: 500, Category: bookshop.Mystery, Title: "Other", Author: "C", Year: 2000, Price: price}}
	for _, items := range [][]bookshop.ImportItem{{noID, last, other}, {last, noID, other}} {
		db := openNew(t, newDB, Builtin(t))
		res, err := db.ImportBooks(testContext(t), "", items)
		if err != nil {
			t.Fatalf("import of %s first = %v; want the rows with ids imported", items[0].Book.Title, err)
		}
		if res.Imported != 2 || len(res.Rejected) != 1 || res.Rejected[0].Line != noID.Line {
			t.Fatalf("import of %s first = %+v; want Last and Other imported, No Id refused", items[0].Book.Title, res)
		}
		if want := "no id is left after 2147483647"; !strings.Contains(res.Rejected[0].Reason, want) {
			t.Errorf("the row without an id was refused for %q, want a reason with %q", res.Rejected[0].Reason, want)
		}
		if _, err := db.Book(testContext(t), math.MaxInt32); err != nil {
			t.Errorf("Book(%d) after the import: %v", math.MaxInt32, err)
		}
		// Later imports refuse such rows the same way, and write the rest.
		res, err = db.ImportBooks(testContext(t), "", []bookshop.ImportItem{noID})
		if err != nil || res.Imported != 0 || len(res.Rejected) != 1 {
			t.Errorf("a later import of a row without an id = %+v, %v; want it refused", res, err)
		}
	}
}

// testImportLimits imports past a catalog's limits: an import that would
// take it past its books, or past the bytes of its titles and authors, is
// refused whole with Exhausted, saying how far and what the cap is, and
// writes nothing; one that reaches them goes in. A seed past them fails
// Open, and a database that holds more than lower limits opens, Over.
func testImportLimits(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	seed := Builtin(t)
	book := func(i int, title string) bookshop.ImportItem {
		return bookshop.ImportItem{Line: i + 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: title, Author: "A", Year: 2000, Price: price}}
	}
	d := newDB(t)
	db := d.open(t, seed, catalogdb.Limits{Books: 50})
	// Six books, one of them a duplicate that is rejected: five go in.
	items := append(newItems("Limited", 5), newItems("Limited", 1)...)
	if res, err := db.ImportBooks(ctx, "", append(newItems("Limited", 6), newItems("Limited", 1)...)); bookshop.ErrorCode(err) != bookshop.Exhausted ||
		!strings.Contains(err.Error(), "the import's 6 books would take the catalog to 51, past its cap of 50 books (-max-books): nothing was written") {
		t.Errorf("an import past the cap on books = %+v, %v; want Exhausted, saying 6 books, 51 and 50", res, err)
	}
	if db.Len() != 45 || db.Over() {
		t.Errorf("a refused import left %d books (Over %v), want the 45 there were", db.Len(), db.Over())
	}
	if res, err := db.ImportBooks(ctx, "", items); err != nil || res.Imported != 5 {
		t.Fatalf("an import that reaches the cap = %+v, %v; want its 5 new books imported", res, err)
	}
	if _, err := db.ImportBooks(ctx, "", []bookshop.ImportItem{book(0, "One More")}); bookshop.ErrorCode(err) != bookshop.Exhausted {
		t.Errorf("an import of one book at the cap = %v, want Exhausted", err)
	}
	text := db.TextBytes()
	db.Close()

	// Its titles and authors: "Ten Bytes" and "A" are ten.
	db = d.open(t, nil, catalogdb.Limits{TextBytes: text + 10})
	if _, err := db.ImportBooks(ctx, "", []bookshop.ImportItem{book(0, "Eleven Byte")}); bookshop.ErrorCode(err) != bookshop.Exhausted ||
		!strings.Contains(err.Error(), fmt.Sprintf("to %d bytes, past its cap of %d bytes (-max-text-mib)", text+12, text+10)) {
		t.Errorf("an import past the cap on text = %v, want Exhausted, saying %d bytes, past %d, and naming -max-text-mib", err, text+12, text+10)
	}
	if res, err := db.ImportBooks(ctx, "", []bookshop.ImportItem{book(0, "Ten Bytes")}); err != nil || res.Imported != 1 || db.TextBytes() != text+10 {
		t.Errorf("an import that reaches the cap on text = %+v, %v, text %d; want it imported, text %d", res, err, db.TextBytes(), text+10)
	}
	db.Close()

	db, err := d.Open(nil, catalogdb.Limits{Books: 10})
	if err != nil {
		t.Fatalf("open a catalog of 51 books with a cap of 10: %v, want it opened", err)
	}
	if !db.Over() {
		t.Error("a catalog of 51 books with a cap of 10 is not Over")
	}
	if _, err := newDB(t).Open(seed, catalogdb.Limits{Books: 44}); bookshop.ErrorCode(err) != bookshop.Exhausted {
		t.Errorf("Open with a seed of 45 books and a cap of 44 = %v, want Exhausted", err)
	}
}

// testImportCancelledWritesNothing checks that an import whose context
// ends writes nothing, whatever was valid.
func testImportCancelledWritesNothing(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	before := all(t, db)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	_, err := db.ImportBooks(ctx, "", []bookshop.ImportItem{{Book: bookshop.Book{ID: 500, Category: bookshop.Mystery, Title: "T", Author: "A", Year: 2000, Price: price}}})
	if err == nil {
		t.Fatal("ImportBooks with a cancelled context succeeded, want an error")
	}
	if after := all(t, db); !slices.Equal(after, before) {
		t.Errorf("a cancelled import changed the catalog: %d books, want %d", len(after), len(before))
	}
	// The store is not left waiting for the cancelled import.
	if res, err := db.ImportBooks(testContext(t), "", newItems("After", 1)); err != nil || res.Imported != 1 {
		t.Errorf("an import after the cancelled one = %+v, %v; want its book imported", res, err)
	}
}

// testReadsDuringImport checks that readers see the catalog before or
// after an import, never part of one, and never fail.
func testReadsDuringImport(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	before := db.Len()
	scifi, err := db.BooksInCategory(testContext(t), bookshop.ScienceFiction)
	if err != nil {
		t.Fatal(err)
	}
	have := len(scifi)
	const n = 5000
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		items[i] = bookshop.ImportItem{Book: bookshop.Book{Category: bookshop.ScienceFiction, Title: fmt.Sprintf("Generated %d", i), Author: "Test", Year: 2020, Price: price}}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				books, err := db.BooksInCategory(context.Background(), bookshop.ScienceFiction)
				if err != nil {
					errs <- err
					return
				}
				if l := len(books); l != have && l != have+n {
					errs <- fmt.Errorf("a reader saw %d science fiction books, want %d or %d", l, have, have+n)
					return
				}
			}
		})
	}
	// Four readers that never wait, and the race detector, may take the
	// import past testContext's bound on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := db.ImportBooks(ctx, "", items)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err != nil || res.Imported != n {
		t.Fatalf("ImportBooks = %d imported, %v; want %d", res.Imported, err, n)
	}
	if db.Len() != before+n {
		t.Errorf("catalog has %d books, want %d", db.Len(), before+n)
	}
}

func testBookNotFound(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	_, err := db.Book(testContext(t), 9999)
	if bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Book(9999) = %v, want NotFound", err)
	}
}

// testPricesKept checks that prices are written and read back exactly, in
// minor units and currency, across a reopen.
func testPricesKept(t *testing.T, newDB NewDatabase) {
	d := newDB(t)
	db := d.open(t, Builtin(t), catalogdb.Limits{})
	want := []bookshop.Book{
		{ID: 100, Category: bookshop.Mystery, Title: "Cheap", Author: "A", Year: 2000, Price: bookshop.Money{Units: 1, Currency: "EUR"}},
		{ID: 101, Category: bookshop.Mystery, Title: "Dear", Author: "A", Year: 2000, Price: bookshop.Money{Units: 1_000_000, Currency: "EUR"}},
		{ID: 102, Category: bookshop.Mystery, Title: "Yen", Author: "A", Year: 2000, Price: bookshop.Money{Units: 1500, Currency: "JPY"}},
	}
	var items []bookshop.ImportItem
	for _, b := range want {
		items = append(items, bookshop.ImportItem{Book: b})
	}
	if res, err := db.ImportBooks(testContext(t), "", items); err != nil || res.Imported != len(want) {
		t.Fatalf("ImportBooks = %+v, %v; want %d imported", res, err, len(want))
	}
	db.Close()
	got := all(t, d.open(t, nil, catalogdb.Limits{}))
	if !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("reopened, the imported books are %+v, want %+v", got[len(got)-len(want):], want)
	}
	if b := got[0]; b.Price != (bookshop.Money{Units: 1099, Currency: "EUR"}) {
		t.Errorf("reopened, book 1 costs %v, want the built-in 10.99 EUR", b.Price)
	}
}

// testImportKey imports with an idempotency key, then again with the same
// key: the same items get the first import's result, replayed, and write
// nothing; other items are refused; without a key, the same items are an
// import of their own, whose books are duplicates.
func testImportKey(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	before := db.Len()
	items := []bookshop.ImportItem{
		{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "Keyed", Author: "A", Year: 2000, Price: price}},
		{Line: 3, Book: bookshop.Book{Category: bookshop.Mystery, Title: "", Author: "A", Year: 2000, Price: price}},
	}
	first, err := db.ImportBooks(testContext(t), "k-import-1", items)
	if err != nil || first.Imported != 1 || len(first.Rejected) != 1 || first.Replayed {
		t.Fatalf("first import = %+v, %v; want 1 imported, 1 rejected", first, err)
	}
	again, err := db.ImportBooks(testContext(t), "k-import-1", items)
	if err != nil || !again.Replayed || again.Imported != 1 || len(again.Books) != 0 ||
		!slices.Equal(again.Rejected, first.Rejected) {
		t.Errorf("the import again = %+v, %v; want the first's result %+v, replayed, no books", again, err, first)
	}
	if db.Len() != before+1 {
		t.Errorf("after the retry the catalog has %d books, want %d", db.Len(), before+1)
	}
	other := []bookshop.ImportItem{{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "Other", Author: "A", Year: 2000, Price: price}}}
	if _, err := db.ImportBooks(testContext(t), "k-import-1", other); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Errorf("other books under the key: %v, want Conflict", err)
	}
	if res, err := db.ImportBooks(testContext(t), "", items); err != nil || res.Imported != 0 || res.Replayed {
		t.Errorf("the same items without a key = %+v, %v; want an import of their own, every book refused", res, err)
	}
	if db.Len() != before+1 {
		t.Errorf("the catalog has %d books, want %d", db.Len(), before+1)
	}
}

// testImportManyBatches imports more items than an import holds at once:
// every rule holds across its batches, rejections keep their indexes, and
// the rows without an id get theirs after every id the rows ask for, in
// the rows' order.
func testImportManyBatches(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	before := db.Len()
	const n = 1000
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		b := bookshop.Book{Category: bookshop.Mystery, Title: fmt.Sprintf("Batch %d", i), Author: "A", Year: 2000, Price: price}
		if i%2 == 0 {
			b.ID = int32(1000 + i)
		}
		if i%100 == 1 {
			b.Title = ""
		}
		items[i] = bookshop.ImportItem{Line: i + 2, Book: b}
	}
	// A duplicate of a book of the first batch, in the last.
	items[n-1].Book.Title = "Batch 0"
	res, err := db.ImportBooks(testContext(t), "", items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != n-11 || len(res.Rejected) != 11 {
		t.Fatalf("import of %d = %d imported, %d rejected; want %d and 11", n, res.Imported, len(res.Rejected), n-11)
	}
	for k, r := range res.Rejected[:10] {
		if r.Index != 100*k+1 || r.Line != r.Index+2 {
			t.Errorf("rejection %d = index %d, line %d; want index %d, line %d", k, r.Index, r.Line, 100*k+1, 100*k+3)
		}
	}
	if r := res.Rejected[10]; r.Index != n-1 || !strings.Contains(r.Reason, "is already book 1000, earlier in this import (line 2)") {
		t.Errorf("the duplicate of a book of the first batch was refused as %+v, want as book 1000's, at line 2", r)
	}
	next := int32(1000 + n - 2) // the highest id asked for
	for _, b := range res.Books {
		var i int
		fmt.Sscanf(b.Title, "Batch %d", &i)
		if i%2 == 0 {
			if b.ID != int32(1000+i) {
				t.Errorf("%q got id %d, want the %d it asked for", b.Title, b.ID, 1000+i)
			}
			continue
		}
		if next++; b.ID != next {
			t.Errorf("%q, without an id, got %d, want %d", b.Title, b.ID, next)
		}
	}
	if db.Len() != before+n-11 {
		t.Errorf("the catalog holds %d books, want %d", db.Len(), before+n-11)
	}
}

// testImportRejectionsReported checks that an import reports at most
// bookshop.MaxRejectionsReported rejections, the first ones, and that a
// retry with its key reports the same.
func testImportRejectionsReported(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	n := bookshop.MaxRejectionsReported + 50
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		items[i] = bookshop.ImportItem{Line: i + 2, Book: bookshop.Book{Category: bookshop.Mystery, Author: "A", Year: 2000, Price: price}}
	}
	items[n-1].Book.Title = "The One Good Book"
	for _, try := range []string{"first", "retry"} {
		res, err := db.ImportBooks(testContext(t), "k-many-rejected", items)
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != 1 || len(res.Rejected) != bookshop.MaxRejectionsReported || res.Replayed != (try == "retry") {
			t.Fatalf("%s: %d imported, %d rejections reported, replayed %v; want 1, %d, %v",
				try, res.Imported, len(res.Rejected), res.Replayed, bookshop.MaxRejectionsReported, try == "retry")
		}
		if first, last := res.Rejected[0], res.Rejected[len(res.Rejected)-1]; first.Index != 0 || last.Index != bookshop.MaxRejectionsReported-1 {
			t.Errorf("%s: rejections from index %d to %d, want the first: 0 to %d", try, first.Index, last.Index, bookshop.MaxRejectionsReported-1)
		}
	}
}

// testImportHoldsNoItems checks that import_items, where an import holds
// its items as they come, is empty after an import that commits, one that
// is closed before it commits, and a retry.
func testImportHoldsNoItems(t *testing.T, newDB NewDatabase) {
	d := newDB(t)
	db := d.open(t, Builtin(t), catalogdb.Limits{})
	ctx := testContext(t)
	if _, err := db.ImportBooks(ctx, "k-held", newItems("Held", 600)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportBooks(ctx, "k-held", newItems("Held", 600)); err != nil {
		t.Fatal(err)
	}
	im, err := db.BeginImport(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range newItems("Closed", 700) {
		if err := im.Add(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	im.Close()
	if held := d.Staged(t); held != 0 {
		t.Errorf("import_items holds %d rows after the imports, want none", held)
	}
	if db.Len() != 45+600 {
		t.Errorf("the catalog holds %d books, want %d: the import closed before its commit wrote some", db.Len(), 45+600)
	}
}

// testImportsOneAtATime checks that an import waits for the one before to
// end, and gives up when its context ends.
func testImportsOneAtATime(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	ctx := testContext(t)
	first, err := db.BeginImport(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := db.BeginImport(waitCtx, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BeginImport while another runs = %v, want it to wait until its context ends", err)
	}
	begun := make(chan error, 1)
	go func() {
		second, err := db.BeginImport(ctx, "")
		if err == nil {
			_, err = second.Commit(ctx)
		}
		begun <- err
	}()
	select {
	case err := <-begun:
		t.Fatalf("a second import began while the first runs (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-begun; err != nil {
		t.Errorf("the second import, once the first committed: %v", err)
	}
}

// testImportUnusualText imports books whose text no book may have (a
// control character, U+0000 among them, bytes that are not UTF-8), in a
// title, an author, a currency or a reason of the caller's: each is
// refused, saying why, and the rest of the import goes in. Then a book
// whose title and author differ from another's only by where the one
// ends and the other starts: not the same book.
func testImportUnusualText(t *testing.T, newDB NewDatabase) {
	db := openNew(t, newDB, Builtin(t))
	ok := bookshop.Book{Category: bookshop.Mystery, Title: "Fine", Author: "A", Year: 2000, Price: price}
	with := func(f func(b *bookshop.Book)) bookshop.ImportItem {
		b := ok
		f(&b)
		return bookshop.ImportItem{Book: b}
	}
	items := []bookshop.ImportItem{
		with(func(b *bookshop.Book) { b.Title = "Nul\x00Title" }),
		with(func(b *bookshop.Book) { b.Author = "Bad \xff UTF-8" }),
		with(func(b *bookshop.Book) { b.Title = "Unit\x1fSeparator" }),
		with(func(b *bookshop.Book) { b.Price.Currency = "E\x00R" }),
		{Book: ok},
	}
	ctx := testContext(t)
	im, err := db.BeginImport(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	for _, it := range items {
		if err := im.Add(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Reject(ctx, with(func(b *bookshop.Book) { b.Title = "Refused" }), "the caller's reason \x00\xff"); err != nil {
		t.Fatal(err)
	}
	res, err := im.Commit(ctx)
	if err != nil {
		t.Fatalf("an import with unusual text = %v, want its rows refused one by one", err)
	}
	want := []string{"title: contains the control character U+0000", "author: is not valid UTF-8", "title: contains the control character U+001F", "price:", "the caller's reason"}
	if res.Imported != 1 || len(res.Rejected) != len(want) {
		t.Fatalf("the import = %+v; want 1 imported, %d refused", res, len(want))
	}
	for i, r := range res.Rejected {
		if wantIndex := []int{0, 1, 2, 3, 5}[i]; r.Index != wantIndex {
			t.Errorf("rejection %d has index %d, want %d", i, r.Index, wantIndex)
		}
		if !strings.Contains(r.Reason, want[i]) {
			t.Errorf("rejection %d = %q, want it to say %q", i, r.Reason, want[i])
		}
	}
	split := []bookshop.ImportItem{
		{Book: bookshop.Book{Category: bookshop.Mystery, Title: "Ab", Author: "C", Year: 2000, Price: price}},
		{Book: bookshop.Book{Category: bookshop.Mystery, Title: "A", Author: "Bc", Year: 2000, Price: price}},
	}
	if res, err := db.ImportBooks(testContext(t), "", split); err != nil || res.Imported != 2 {
		t.Errorf("an import of Ab by C and A by Bc = %+v, %v; want two books", res, err)
	}
}
