package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
)

// price is the price of the books the tests import.
var price = bookshop.Money{Units: 999, Currency: "EUR"}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func builtin(tb testing.TB) []bookshop.Book {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	return c.Books()
}

// open opens a database at path, closed when the test ends.
func open(tb testing.TB, path string, seed []bookshop.Book) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path, seed)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// all returns every book, through ExportBooks.
func all(tb testing.TB, db *sqlite.DB) []bookshop.Book {
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

// TestOpenSeedsOnce checks that a new database gets the seed, and that
// reopening it keeps what is there rather than seeding again.
func TestOpenSeedsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	seed := builtin(t)
	db, err := sqlite.Open(testContext(t), path, seed)
	if err != nil {
		t.Fatal(err)
	}
	if got := all(t, db); !slices.Equal(got, seed) {
		t.Fatalf("new database holds %d books, want the %d of the seed", len(got), len(seed))
	}
	extra := bookshop.Book{ID: 1000, Category: bookshop.Mystery, Title: "The Big Clock", Author: "Kenneth Fearing", Year: 1946, Price: price}
	if res, err := db.ImportBooks(testContext(t), "", []bookshop.ImportItem{{Book: extra}}); err != nil || res.Imported != 1 {
		t.Fatalf("ImportBooks = %+v, %v; want 1 imported", res, err)
	}
	db.Close()

	db2 := open(t, path, []bookshop.Book{{ID: 1, Category: bookshop.Mystery, Title: "Other", Author: "Other", Year: 2000}})
	got := all(t, db2)
	if len(got) != len(seed)+1 || got[len(got)-1] != extra {
		t.Errorf("reopened database holds %d books (last %+v), want the seed and the import (%d)", len(got), got[len(got)-1], len(seed)+1)
	}
	if b, err := db2.Book(testContext(t), 1); err != nil || b.Title != "The Maltese Falcon" {
		t.Errorf("reopened Book(1) = %+v, %v; want the seed's, not a new seed", b, err)
	}
}

// TestOpenRefusesForeignDatabase checks that Open does not write into an
// SQLite file of some other program.
func TestOpenRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = sqlite.Open(testContext(t), path, builtin(t))
	if err == nil || !strings.Contains(err.Error(), "not a Bookshop catalog") || !strings.Contains(err.Error(), "users") {
		t.Fatalf("Open of another program's database = %v, want an error saying it is not a catalog", err)
	}
	raw, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the file has %d tables after the refusal (%v), want its 1 alone", n, err)
	}
}

// TestOpenSeedIsAtomic checks that a seed that fails leaves the file
// unmigrated, so that the next Open migrates and seeds it: a database is
// never left migrated but empty.
func TestOpenSeedIsAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	bad := append(builtin(t), bookshop.Book{ID: 1, Category: bookshop.Mystery, Title: "Twice", Author: "Again", Year: 2000, Price: price})
	if _, err := sqlite.Open(testContext(t), path, bad); err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("Open with a seed that reuses id 1 = %v, want a seed error", err)
	}
	db := open(t, path, builtin(t))
	if got := db.Len(); got != len(builtin(t)) {
		t.Errorf("after a failed seed, the next Open holds %d books, want the %d of its seed", got, len(builtin(t)))
	}
}

// TestOpenConcurrentlySeedsOnce opens one new file from several
// connections at once, as replicas starting together do: every Open
// succeeds and the catalog is seeded exactly once.
func TestOpenConcurrentlySeedsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	seed := builtin(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	dbs := make([]*sqlite.DB, n)
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = sqlite.Open(testContext(t), path, seed) })
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
		dbs[i].Close()
	}
}

// TestImportBooks checks every rule of an import and that rejected books
// are reported with their index and line.
func TestImportBooks(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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

// TestImportIDsDoNotDependOnOrder imports a row without an id before a
// row that asks for the next free id, and the same rows the other way
// round: both go in, with the same ids, in either order.
func TestImportIDsDoNotDependOnOrder(t *testing.T) {
	seed := builtin(t)
	top := seed[len(seed)-1].ID
	noID := bookshop.ImportItem{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "No Id", Author: "A", Year: 2000, Price: price}}
	asks := bookshop.ImportItem{Line: 3, Book: bookshop.Book{ID: top + 1, Category: bookshop.Mystery, Title: "Asks", Author: "B", Year: 2000, Price: price}}
	for _, items := range [][]bookshop.ImportItem{{noID, asks}, {asks, noID}} {
		db := open(t, sqlite.Memory, seed)
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

// TestImportNoIDLeft imports a row that asks for the highest id there
// is, 2147483647, beside a row without an id, in either order: the first
// goes in, the second is refused, saying why, and the rest of the import
// is written. Before, SQLite gave the row without an id 2147483648, which
// the table refuses, and the whole import failed.
func TestImportNoIDLeft(t *testing.T) {
	noID := bookshop.ImportItem{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "No Id", Author: "A", Year: 2000, Price: price}}
	last := bookshop.ImportItem{Line: 3, Book: bookshop.Book{ID: math.MaxInt32, Category: bookshop.Mystery, Title: "Last", Author: "B", Year: 2000, Price: price}}
	other := bookshop.ImportItem{Line: 4, Book: bookshop.Book{ID: 500, Category: bookshop.Mystery, Title: "Other", Author: "C", Year: 2000, Price: price}}
	for _, items := range [][]bookshop.ImportItem{{noID, last, other}, {last, noID, other}} {
		db := open(t, sqlite.Memory, builtin(t))
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

// TestImportLimits imports past a catalog's limits: an import that would
// take it past its books, or past the bytes of its titles and authors, is
// refused whole with Exhausted, saying how far and what the cap is, and
// writes nothing; one that reaches them goes in. A seed past them fails
// Open, and a database that holds more than lower limits opens, Over.
func TestImportLimits(t *testing.T) {
	ctx := testContext(t)
	seed := builtin(t)
	book := func(i int, title string) bookshop.ImportItem {
		return bookshop.ImportItem{Line: i + 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: title, Author: "A", Year: 2000, Price: price}}
	}
	books := func(n int) []bookshop.ImportItem {
		var items []bookshop.ImportItem
		for i := range n {
			items = append(items, book(i, fmt.Sprintf("Limited %d", i)))
		}
		return items
	}
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := sqlite.OpenLimited(ctx, path, seed, sqlite.Limits{Books: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Six books, one of them a duplicate that is rejected: five go in.
	items := append(books(5), books(1)...)
	if res, err := db.ImportBooks(ctx, "", append(books(6), books(1)...)); bookshop.ErrorCode(err) != bookshop.Exhausted ||
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
	db, err = sqlite.OpenLimited(ctx, path, nil, sqlite.Limits{TextBytes: text + 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ImportBooks(ctx, "", []bookshop.ImportItem{book(0, "Eleven Byte")}); bookshop.ErrorCode(err) != bookshop.Exhausted ||
		!strings.Contains(err.Error(), fmt.Sprintf("to %d bytes, past its cap of %d bytes (-max-text-mib)", text+12, text+10)) {
		t.Errorf("an import past the cap on text = %v, want Exhausted, saying %d bytes, past %d, and naming -max-text-mib", err, text+12, text+10)
	}
	if res, err := db.ImportBooks(ctx, "", []bookshop.ImportItem{book(0, "Ten Bytes")}); err != nil || res.Imported != 1 || db.TextBytes() != text+10 {
		t.Errorf("an import that reaches the cap on text = %+v, %v, text %d; want it imported, text %d", res, err, db.TextBytes(), text+10)
	}
	db.Close()

	db, err = sqlite.OpenLimited(ctx, path, nil, sqlite.Limits{Books: 10})
	if err != nil {
		t.Fatalf("open a catalog of 51 books with a cap of 10: %v, want it opened", err)
	}
	defer db.Close()
	if !db.Over() {
		t.Error("a catalog of 51 books with a cap of 10 is not Over")
	}
	if _, err := sqlite.OpenLimited(ctx, sqlite.Memory, seed, sqlite.Limits{Books: 44}); bookshop.ErrorCode(err) != bookshop.Exhausted {
		t.Errorf("Open with a seed of 45 books and a cap of 44 = %v, want Exhausted", err)
	}
}

// TestImportCancelledWritesNothing checks that an import whose context
// ends writes nothing, whatever was valid.
func TestImportCancelledWritesNothing(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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
}

// TestReadsDuringImport checks that readers see the catalog before or
// after an import, never part of one, and never fail.
func TestReadsDuringImport(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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
	// import past testContext's 30 s on a loaded machine.
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

func TestBookNotFound(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
	_, err := db.Book(testContext(t), 9999)
	if bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Book(9999) = %v, want NotFound", err)
	}
}

func BenchmarkImport100k(b *testing.B) {
	items := make([]bookshop.ImportItem, 100_000)
	for i := range items {
		items[i] = bookshop.ImportItem{Book: bookshop.Book{ID: int32(i + 1), Category: bookshop.Category(i % 3), Title: fmt.Sprintf("Book %d", i), Author: "Benchmark", Year: 2000, Price: price}}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		db, err := sqlite.Open(context.Background(), sqlite.Memory, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := db.ImportBooks(context.Background(), "", items)
		if err != nil || res.Imported != len(items) {
			b.Fatalf("ImportBooks = %d, %v", res.Imported, err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// TestPricesKept checks that prices are written and read back exactly, in
// minor units and currency, across a reopen.
func TestPricesKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db := open(t, path, builtin(t))
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
	got := all(t, open(t, path, nil))
	if !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("reopened, the imported books are %+v, want %+v", got[len(got)-len(want):], want)
	}
	if b := got[0]; b.Price != (bookshop.Money{Units: 1099, Currency: "EUR"}) {
		t.Errorf("reopened, book 1 costs %v, want the built-in 10.99 EUR", b.Price)
	}
}

// TestMigrateBooksWithoutPrices opens a database of the first schema,
// from before prices: its books are kept, without a price, and new books
// come with theirs.
func TestMigrateBooksWithoutPrices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	schema, err := os.ReadFile("migrations/0001_books.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`,
		`INSERT INTO schema_migrations VALUES (1, '0001_books.sql', '2025-01-01T00:00:00Z')`,
		string(schema),
		`INSERT INTO books (id, category, title, author, year, match_key) VALUES (1, 'mystery', 'Old', 'Author', 1990, 'old' || char(0) || 'author')`,
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	raw.Close()

	db := open(t, path, builtin(t))
	b, err := db.Book(testContext(t), 1)
	if err != nil || b.Title != "Old" || b.Price != (bookshop.Money{}) {
		t.Errorf("Book(1) of a database from before prices = %+v, %v; want Old, without a price", b, err)
	}
	if db.Len() != 1 {
		t.Errorf("the migrated database holds %d books, want its 1 (no seed)", db.Len())
	}
	added := bookshop.Book{ID: 2, Category: bookshop.Mystery, Title: "New", Author: "Author", Year: 2020, Price: price}
	if res, err := db.ImportBooks(testContext(t), "", []bookshop.ImportItem{{Book: added}}); err != nil || res.Imported != 1 {
		t.Fatalf("ImportBooks = %+v, %v; want 1 imported", res, err)
	}
	if got := all(t, db); len(got) != 2 || got[1] != added {
		t.Errorf("after an import, the books are %+v, want Old and %+v", got, added)
	}
}

// TestImportKey imports with an idempotency key, then again with the same
// key: the same items get the first import's result, replayed, and write
// nothing; other items are refused; without a key, the same items are an
// import of their own, whose books are duplicates.
func TestImportKey(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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

// TestImportManyBatches imports more items than an import holds at once:
// every rule holds across its batches, rejections keep their indexes, and
// the rows without an id get theirs after every id the rows ask for, in
// the rows' order.
func TestImportManyBatches(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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
	res, err := db.ImportBooks(testContext(t), "", items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != n-10 || len(res.Rejected) != 10 {
		t.Fatalf("import of %d = %d imported, %d rejected; want %d and 10", n, res.Imported, len(res.Rejected), n-10)
	}
	for k, r := range res.Rejected {
		if r.Index != 100*k+1 || r.Line != r.Index+2 {
			t.Errorf("rejection %d = index %d, line %d; want index %d, line %d", k, r.Index, r.Line, 100*k+1, 100*k+3)
		}
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
	if db.Len() != before+n-10 {
		t.Errorf("the catalog holds %d books, want %d", db.Len(), before+n-10)
	}
}

// TestImportRejectionsReported checks that an import reports at most
// bookshop.MaxRejectionsReported rejections, the first ones, and that a
// retry with its key reports the same.
func TestImportRejectionsReported(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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

// TestImportHoldsNoItems checks that import_items, where an import holds
// its items as they come, is empty after an import that commits, one that
// is closed before it commits, and a retry.
func TestImportHoldsNoItems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	db := open(t, path, builtin(t))
	ctx := testContext(t)
	items := func(n int) []bookshop.ImportItem {
		var items []bookshop.ImportItem
		for i := range n {
			items = append(items, bookshop.ImportItem{Book: bookshop.Book{Category: bookshop.Mystery, Title: fmt.Sprintf("Held %d", i), Author: "A", Year: 2000, Price: price}})
		}
		return items
	}
	if _, err := db.ImportBooks(ctx, "k-held", items(600)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportBooks(ctx, "k-held", items(600)); err != nil {
		t.Fatal(err)
	}
	im, err := db.BeginImport(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items(700) {
		if err := im.Add(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	im.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var held int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM import_items`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("import_items holds %d rows after the imports, want none", held)
	}
	if db.Len() != 45+600 {
		t.Errorf("the catalog holds %d books, want %d: the import closed before its commit wrote some", db.Len(), 45+600)
	}
}

// TestImportsOneAtATime checks that an import waits for the one before to
// end, and gives up when its context ends.
func TestImportsOneAtATime(t *testing.T) {
	db := open(t, sqlite.Memory, builtin(t))
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
