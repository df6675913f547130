package recommendations_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// importFeed is a BookFeed that sends a snapshot of n books, then imports
// of the given sizes, then ends the watch by cancelling the follower.
type importFeed struct {
	snapshot int
	imports  []int
	cancel   context.CancelFunc
}

func makeBooks(from, n int) []bookshop.Book {
	books := make([]bookshop.Book, n)
	for i := range books {
		id := from + i
		books[i] = bookshop.Book{ID: int32(id), Title: fmt.Sprintf("Book %d", id), Author: "An Author", Year: 2000, Category: bookshop.Category(id % 3)}
	}
	return books
}

func (f importFeed) Watch(ctx context.Context, snapshot, added func([]bookshop.Book) error) error {
	defer f.cancel()
	if err := snapshot(makeBooks(1, f.snapshot)); err != nil {
		return err
	}
	next := f.snapshot + 1
	for _, n := range f.imports {
		if err := added(makeBooks(next, n)); err != nil {
			return err
		}
		next += n
	}
	return nil
}

// followImports runs books.Follow over feed until the feed has sent everything.
func followImports(books *recommendations.Books, snapshot int, imports ...int) {
	ctx, cancel := context.WithCancel(context.Background())
	books.Follow(ctx, importFeed{snapshot: snapshot, imports: imports, cancel: cancel}, slog.New(slog.DiscardHandler))
}

// TestBooksLargeImport checks that an import costs a copy of the catalog
// once, not once per message: 100,000 books imported into a copy of
// 100,000 allocate a few times the size of the copy, where building a new
// copy per 500-book message allocated gigabytes.
func TestBooksLargeImport(t *testing.T) {
	books := recommendations.NewBooks(0)
	followImports(books, 100_000) // the snapshot alone
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	followImports(books, 100_000, 100_000)
	runtime.ReadMemStats(&after)
	if books.Len() != 200_000 {
		t.Fatalf("Len after the import = %d, want 200000", books.Len())
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 400<<20 {
		t.Errorf("following a snapshot of 100,000 and an import of 100,000 allocated %d MiB, want under 400", got>>20)
	}
	cat, _ := books.BooksInCategory(context.Background(), bookshop.Mystery)
	for i := 1; i < len(cat); i++ {
		if cat[i-1].ID >= cat[i].ID {
			t.Fatalf("BooksInCategory not in id order at %d: %d then %d", i, cat[i-1].ID, cat[i].ID)
		}
	}
}

// TestBooksOverBudget checks that a catalog larger than the budget is
// refused whole, and the copy keeps what it had.
func TestBooksOverBudget(t *testing.T) {
	books := recommendations.NewBooks(1000)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	feed := feedFunc(func(ctx context.Context, snapshot, added func([]bookshop.Book) error) error {
		calls++
		if calls == 1 {
			return snapshot(makeBooks(1, 900))
		}
		cancel() // the second watch: the import is refused, and the test ends
		return added(makeBooks(901, 200))
	})
	books.Follow(ctx, feed, slog.New(slog.DiscardHandler))
	if books.Len() != 900 {
		t.Errorf("Len = %d after an import past the budget, want the 900 it had", books.Len())
	}
}

// feedFunc is a BookFeed of a function.
type feedFunc func(ctx context.Context, snapshot, added func([]bookshop.Book) error) error

func (f feedFunc) Watch(ctx context.Context, snapshot, added func([]bookshop.Book) error) error {
	return f(ctx, snapshot, added)
}

// BenchmarkBooksImport measures following an import of 10,000 books into
// a copy of 100,000.
func BenchmarkBooksImport(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		books := recommendations.NewBooks(0)
		followImports(books, 100_000)
		b.StartTimer()
		followImports(books, 0, 10_000)
	}
}

// TestBooksFirstSnapshotOverBudget checks that a first snapshot larger
// than the budget leaves the copy empty and not ready: the replica stays
// NOT_SERVING rather than serve nothing as if it were the catalog.
func TestBooksFirstSnapshotOverBudget(t *testing.T) {
	books := recommendations.NewBooks(100)
	ctx, cancel := context.WithCancel(context.Background())
	feed := feedFunc(func(ctx context.Context, snapshot, _ func([]bookshop.Book) error) error {
		cancel()
		return snapshot(makeBooks(1, 101))
	})
	books.Follow(ctx, feed, slog.New(slog.DiscardHandler))
	select {
	case <-books.Ready():
		t.Error("Books is ready after a snapshot over its budget")
	default:
	}
	if _, err := books.BooksInCategory(context.Background(), bookshop.Mystery); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("BooksInCategory before any snapshot fit = %v, want unavailable", err)
	}
}
