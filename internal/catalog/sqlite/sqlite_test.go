package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog/storetest"
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

// TestMigrateBooksWithoutPrices opens a database of the first schema,
// from before prices: its books are kept, without a price, and new books
// come with theirs. Its match keys, from before they were separated by
// U+001F, still find the same book.
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
		`INSERT INTO books (id, category, title, author, year, match_key) VALUES (1, 'mystery', 'Old', 'Author', 1990, 'OLD' || char(0) || 'AUTHOR')`,
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
	again := bookshop.Book{Category: bookshop.Mystery, Title: "OLD", Author: "author", Year: 1990, Price: price}
	if res, err := db.ImportBooks(testContext(t), "", []bookshop.ImportItem{{Book: again}}); err != nil || len(res.Rejected) != 1 ||
		!strings.Contains(res.Rejected[0].Reason, "is already book 1, in the catalog") {
		t.Errorf("an import of OLD by author = %+v, %v; want it refused as book 1", res, err)
	}
}

// TestStore runs the contract of the Catalog's stores on SQLite: each
// test on a file of its own, each handle a connection of its own.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) storetest.Database {
		path := filepath.Join(tb.TempDir(), "catalog.db")
		return storetest.Database{
			Open: func(seed []bookshop.Book, limits sqlite.Limits) (storetest.Store, error) {
				db, err := sqlite.OpenLimited(testContext(tb), path, seed, limits)
				if err != nil {
					return nil, err
				}
				tb.Cleanup(func() { db.Close() })
				return db, nil
			},
			Staged: func(tb testing.TB) int {
				raw, err := sql.Open("sqlite", path)
				if err != nil {
					tb.Fatal(err)
				}
				defer raw.Close()
				var n int
				if err := raw.QueryRowContext(testContext(tb), `SELECT count(*) FROM import_items`).Scan(&n); err != nil {
					tb.Fatal(err)
				}
				return n
			},
		}
	})
}
