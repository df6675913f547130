package recommendations_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// capSnapshot returns n books whose titles and authors take text bytes in
// all, as the Catalog's WatchBooks messages carry them, 100 a message:
// a catalog at the Catalog's caps when n and text are its defaults.
func capSnapshot(tb testing.TB, n int, text int64) [][]byte {
	tb.Helper()
	var (
		wire [][]byte
		resp = &catalogv1.WatchBooksResponse{}
		left = text
	)
	for i := range n {
		want := int(left / int64(n-i)) // what is left, spread evenly
		title := "Book " + strconv.Itoa(i+1)
		author := strings.Repeat("a", max(want-len(title), 1))
		left -= int64(len(title) + len(author))
		resp.Books = append(resp.Books, catalogclient.BookToProto(bookshop.Book{
			ID: int32(i + 1), Title: title, Author: author, Year: 2000, Category: bookshop.Category(i % 3),
			Price: bookshop.Money{Units: 1299, Currency: "EUR"},
		}))
		if len(resp.Books) == catalog.WatchBatchBooks || i == n-1 {
			b, err := proto.Marshal(resp)
			if err != nil {
				tb.Fatal(err)
			}
			wire = append(wire, b)
			resp = &catalogv1.WatchBooksResponse{}
		}
	}
	return wire
}

// TestBooksMemory fills Recommendations' copy of the catalog to its cap,
// recommendations.DefaultMaxBooks books (the Catalog's own cap, which
// takes as many) whose titles and authors take the Catalog's cap on them,
// catalog.DefaultMaxTextBytes, and then has a new snapshot of them all
// replace it, as when the Catalog restarts: what it holds at the most,
// the old copy, the books received and the new copy at once, is within
// the budget of docs/capacity.md. A reading of the most counts garbage
// too, more on a busy host (see memtest.Least): a new snapshot replaces
// the copy up to five times, and the least reading is held to the budget.
func TestBooksMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("copies 250,000 books, up to six times")
	}
	const rounds = 5 // a round takes a second at most on a busy host
	n := recommendations.DefaultMaxBooks
	count, each := memtest.Documented(t, "Recommendations", "books")
	if count != recommendations.DefaultMaxBooks {
		t.Errorf("docs/capacity.md budgets %d books, want recommendations.DefaultMaxBooks, %d", count, recommendations.DefaultMaxBooks)
	}
	if max := catalog.DefaultMaxBooks; max != recommendations.DefaultMaxBooks {
		t.Errorf("the Catalog holds up to %d books by default, its followers %d: a catalog past their cap would leave them unready", max, recommendations.DefaultMaxBooks)
	}
	budget := uint64(count) * each
	wire := capSnapshot(t, n, catalog.DefaultMaxTextBytes)
	base := memtest.Held()

	books := recommendations.NewBooks(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	copied := make(chan struct{})
	again, replaced := make(chan struct{}), make(chan struct{})
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		books.Follow(ctx, feedFunc(func(ctx context.Context, snapshot, _ func([]bookshop.Book) error) error {
			defer cancel()
			if err := snapshot(received(t, wire)); err != nil {
				return err
			}
			close(copied)
			for {
				select {
				case <-again:
				case <-ctx.Done():
					return ctx.Err()
				}
				if err := snapshot(received(t, wire)); err != nil {
					return err
				}
				replaced <- struct{}{}
			}
		}), slog.New(slog.DiscardHandler))
	}()
	<-copied
	held := memtest.Held()
	top, readings := memtest.Least(rounds, budget, func() uint64 {
		peak := memtest.StartPeak(20 * time.Millisecond)
		again <- struct{}{}
		<-replaced
		return peak.Stop() - base
	})
	cancel()
	<-followed
	if books.Len() != n {
		t.Fatalf("the copy holds %d books, want %d", books.Len(), n)
	}
	t.Logf("%d books of %d bytes of titles and authors: the copy holds %s (%d bytes a book), and %s at the most while a new snapshot replaces it (%d bytes a book; read %s)",
		n, catalog.DefaultMaxTextBytes, memtest.MiB(held-base), (held-base)/uint64(n), memtest.MiB(top), top/uint64(n), memtest.MiBs(readings))
	if top > budget {
		t.Errorf("the copy took the heap to %s over the start while a snapshot replaced it (the least of %s), more than the %s docs/capacity.md budgets", memtest.MiB(top), memtest.MiBs(readings), memtest.MiB(budget))
	}
}
