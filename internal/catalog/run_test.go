package catalog_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// TestOpenLogsBooksWithoutPrice opens a database from before prices: its
// books are served without one, and Open says how many there are and
// what to do.
func TestOpenLogsBooksWithoutPrice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	schema, err := os.ReadFile("sqlite/migrations/0001_books.sql")
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
		`INSERT INTO books (id, category, title, author, year, match_key) VALUES (1, 'mystery', 'Old', 'A', 1990, 'old' || char(0) || 'a')`,
		`INSERT INTO books (id, category, title, author, year, match_key) VALUES (2, 'mystery', 'Older', 'A', 1980, 'older' || char(0) || 'a')`,
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	raw.Close()

	var logs bytes.Buffer
	cfg := catalog.DefaultConfig()
	cfg.DB = path
	db, err := catalog.Open(testContext(t), cfg, process.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if b, err := db.Book(testContext(t), 1); err != nil || b.Price != (bookshop.Money{}) {
		t.Errorf("Book(1) = %+v, %v; want it without a price", b, err)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="books without a price`) || !strings.Contains(logs.String(), "re-import them with a price") || !strings.Contains(logs.String(), "books=2") {
		t.Errorf("Open logged:\n%s\nwant a warning that 2 books have no price, saying what to do", logs.String())
	}
}

// TestOpenRefusesBuiltinInAnotherCurrency checks that a Catalog in another
// currency than the built-in catalog's does not seed from it: it would
// read euros as dollars.
func TestOpenRefusesBuiltinInAnotherCurrency(t *testing.T) {
	cfg := catalog.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "catalog.db")
	cfg.Currency = "USD"
	_, err := catalog.Open(testContext(t), cfg, process.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "priced in EUR, not USD") {
		t.Errorf("Open in USD from the built-in catalog = %v, want an error saying it is priced in EUR", err)
	}
}

// TestOpenLogsBooksInAnotherCurrency opens a database that holds books
// priced in another currency than the shop's, as after the shop's currency
// changed: Open says how many there are, that they are shown without a
// price, and what to do.
func TestOpenLogsBooksInAnotherCurrency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	usd := bookshop.Money{Units: 1299, Currency: "USD"}
	db, err := sqlite.Open(testContext(t), path, []bookshop.Book{
		{ID: 1, Category: bookshop.Mystery, Title: "In Dollars", Author: "A", Year: 1990, Price: usd},
		{ID: 2, Category: bookshop.Mystery, Title: "In Euros", Author: "A", Year: 1990, Price: testPrice},
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	var logs bytes.Buffer
	cfg := catalog.DefaultConfig()
	cfg.DB = path
	opened, err := catalog.Open(testContext(t), cfg, process.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	for _, want := range []string{`level=WARN msg="books priced in another currency than the shop's: they are shown without a price`, "re-import them priced in the shop's currency", "books=1", "currency=EUR"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("Open logged:\n%s\nwant %q", logs.String(), want)
		}
	}
}

// TestRunEndsWatchesAtShutdown runs the Catalog with a watch open: when
// its shutdown begins, the watch ends at once with UNAVAILABLE (watch
// another replica), and Run returns long before its drain timeout.
func TestRunEndsWatchesAtShutdown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := catalog.DefaultConfig()
	cfg.DB = sqlite.Memory
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- catalog.Run(ctx, cfg, process.Deps{Logger: slog.New(slog.DiscardHandler), Listener: lis, DrainTimeout: 30 * time.Second})
	}()
	watch, err := catalogv1.NewCatalogServiceClient(dial(t, lis.Addr().String())).WatchBooks(testContext(t), &catalogv1.WatchBooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatalf("WatchBooks before shutdown: %v", err)
		}
		if resp.GetSnapshotComplete() {
			break
		}
	}
	start := time.Now()
	stop()
	if _, err := watch.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("the watch at shutdown = %v, want UNAVAILABLE", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still draining 10s after shutdown began, with a watch open")
	}
	t.Logf("Run returned %v after shutdown began", time.Since(start).Round(time.Millisecond))
}

// TestOpenHoldsImportsToCaps opens the Catalog with caps of 46 books and
// serves it: an import of two new books is refused with
// RESOURCE_EXHAUSTED, saying how far it would take the catalog and what
// the cap is, and one of one book goes in. Opened again with a cap of 10,
// the catalog of 46 books is served as it is, with a warning.
func TestOpenHoldsImportsToCaps(t *testing.T) {
	cfg := catalog.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "catalog.db")
	cfg.MaxBooks = 46
	db, err := catalog.Open(testContext(t), cfg, process.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc := catalog.NewService(db, cfg.Currency, 0, nil)
	client := catalogclient.New(dial(t, startService(t, svc)), 10*time.Second)
	_, err = client.ImportBooks(testContext(t), "", newBooks("Capped", 2))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "would take the catalog to 47, past its cap of 46 books (-max-books)") {
		t.Errorf("an import past -max-books = %v, want RESOURCE_EXHAUSTED saying 47 and 46", err)
	}
	if res, err := client.ImportBooks(testContext(t), "", newBooks("Capped", 1)); err != nil || res.Imported != 1 {
		t.Errorf("an import up to -max-books = %+v, %v; want its book imported", res, err)
	}
	db.Close()

	var logs bytes.Buffer
	cfg.MaxBooks = 10
	db, err = catalog.Open(testContext(t), cfg, process.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open of 46 books with a cap of 10: %v, want it served as it is", err)
	}
	defer db.Close()
	if !strings.Contains(logs.String(), `level=WARN msg="the catalog is larger than its caps`) || !strings.Contains(logs.String(), "max_books=10") {
		t.Errorf("Open logged:\n%s\nwant a warning that the catalog is larger than its caps", logs.String())
	}
}
