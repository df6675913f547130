package catalog_test

import (
	"context"
	"iter"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
)

// The words of BenchmarkCatalogMemory's books: titles of three words
// (about 18 bytes) and authors of two (about 14), the built-in catalog's
// averages.
var (
	memoryWords = strings.Fields(`night house city love war murder secret dark time world
		king girl star garden river dead shadow blood empire stone sea fire moon winter
		queen death dream light road glass golden hidden island forest storm ghost game
		heart dragon ship wolf bridge station voyage mother lady prince machine planet`)
	memoryFirst = strings.Fields(`Agatha Jane Emily Arthur Isaac Ursula Frank Ray Philip Mary
		George Leo Haruki Kazuo Toni Octavia Terry Neil Ruth Karel`)
	memoryLast = strings.Fields(`Christie Austen Doyle Asimov Herbert Adams Bradbury Shelley
		Woolf Orwell Tolstoy Borges Murakami Ishiguro Atwood Butler Gaiman Penny Mankell Lem`)
)

// memoryBooks returns n books (n at most 48³) with ids from 1, each title
// a different three words of memoryWords, priced in euros.
func memoryBooks(n int) []bookshop.Book {
	books := make([]bookshop.Book, n)
	w := len(memoryWords)
	for i := range books {
		books[i] = bookshop.Book{
			ID:       int32(i + 1),
			Title:    memoryWords[i%w] + " " + memoryWords[i/w%w] + " " + memoryWords[i/w/w%w],
			Author:   memoryFirst[i%len(memoryFirst)] + " " + memoryLast[i/len(memoryFirst)%len(memoryLast)],
			Year:     1900 + i%125,
			Category: bookshop.Category(i % 3),
			Price:    bookshop.Money{Units: 799 + int64(i%1200), Currency: "EUR"},
		}
	}
	return books
}

// BenchmarkCatalogMemory measures the memory a Catalog of 100,000 books
// holds in Go's heap, per book: "snapshot-bytes/book" for the database's
// snapshot alone (the shelf's indexes and the books' strings, as read from
// SQLite), "bytes/book" with the Service's search index too. SQLite's own
// page cache is outside Go's heap, and bounded. The time is that of a
// start: reading the books and indexing them.
//
//	go test -run '^$' -bench CatalogMemory ./internal/catalog
func BenchmarkCatalogMemory(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "catalog.db")
	db, err := sqlite.Open(ctx, path, memoryBooks(n))
	if err != nil {
		b.Fatal(err)
	}
	db.Close()
	open := func(index bool) (*sqlite.DB, *catalog.Service) {
		db, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			b.Fatal(err)
		}
		if db.Len() != n {
			b.Fatalf("the database holds %d books, want %d", db.Len(), n)
		}
		if !index {
			return db, nil
		}
		return db, catalog.NewService(db, "", 0, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		db, _ := open(true)
		db.Close()
	}
	b.StopTimer()
	held := func(index bool) float64 {
		var with, without runtime.MemStats
		db, svc := open(index)
		runtime.GC()
		runtime.ReadMemStats(&with)
		runtime.KeepAlive(svc)
		db.Close()
		runtime.GC()
		runtime.ReadMemStats(&without)
		return float64(with.HeapAlloc-without.HeapAlloc) / n
	}
	b.ReportMetric(held(false), "snapshot-bytes/book")
	b.ReportMetric(held(true), "bytes/book")
}

// capItems returns the items of an import of n books whose titles and
// authors take text bytes in all, each of words that no other book has:
// the most the search index holds for a byte of text (every word a term
// of its own, of 4 or 5 letters and digits). next numbers the words, from
// one import to the next.
func capItems(n int, text int64, next *int) iter.Seq2[bookshop.ImportItem, error] {
	word := func() string {
		*next++
		return strconv.FormatInt(int64(36*36*36+*next), 36)
	}
	return func(yield func(bookshop.ImportItem, error) bool) {
		left := text
		for i := range n {
			want := int(left / int64(n-i)) // what is left, spread evenly
			title := word()
			author := word()
			for len(title)+len(author)+6 <= want {
				title += " " + word()
			}
			if pad := want - len(title) - len(author); pad > 0 {
				author += strings.Repeat("x", pad) // still a word of its own
			}
			left -= int64(len(title) + len(author))
			b := bookshop.Book{Category: bookshop.Category(i % 3), Title: title, Author: author, Year: 2000, Price: testPrice}
			if !yield(bookshop.ImportItem{Book: b, Line: i + 2}, nil) {
				return
			}
		}
	}
}

// TestCatalogMemory fills a Catalog to its caps, catalog.DefaultMaxBooks
// books whose titles and authors take catalog.DefaultMaxTextBytes, of
// words no other book has (what makes the search index largest), in two
// imports of half each (the second merges the search index whole), and
// checks what it holds against docs/capacity.md: the books in memory,
// their text and the feed of recent imports once they are in; those, the
// commit of the second and an import's own at the most while it runs.
// One more book is then refused. A reading of the most counts garbage
// too, more on a busy host (see memtest.Least): up to three Catalogs are
// filled, and the least reading is held to the budget.
func TestCatalogMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("imports 250,000 books, up to three times")
	}
	const rounds = 3 // a round takes 10 s, 30 on a busy host
	books, perBook := memtest.Documented(t, "Catalog", "books in memory")
	textBytes, perByte := memtest.Documented(t, "Catalog", "bytes of their titles and authors")
	feed, perFeedBook := memtest.Documented(t, "Catalog", "books of recent imports")
	_, commit := memtest.Documented(t, "Catalog", "commit")
	if books != catalog.DefaultMaxBooks || int64(textBytes) != catalog.DefaultMaxTextBytes || feed != catalog.DefaultMaxFeedBooks {
		t.Errorf("docs/capacity.md budgets %d books, %d bytes of text and %d books of recent imports; want catalog.DefaultMaxBooks, %d, DefaultMaxTextBytes, %d, and DefaultMaxFeedBooks, %d",
			books, textBytes, feed, catalog.DefaultMaxBooks, catalog.DefaultMaxTextBytes, catalog.DefaultMaxFeedBooks)
	}
	budget := uint64(books)*perBook + uint64(textBytes)*perByte + uint64(feed)*perFeedBook
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// fill fills a new Catalog to its caps and returns what it held at
	// the most during the second import and after, over where it began.
	round := 0
	var held uint64
	fill := func() (top uint64) {
		round++
		base := memtest.Held()
		db, err := sqlite.OpenLimited(ctx, filepath.Join(t.TempDir(), "catalog.db"), builtinBooks(t),
			sqlite.Limits{Books: catalog.DefaultMaxBooks, TextBytes: catalog.DefaultMaxTextBytes})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		svc := catalog.NewService(db, "", 0, nil)
		room, text := catalog.DefaultMaxBooks-db.Len(), catalog.DefaultMaxTextBytes-db.TextBytes()
		next := 0
		start := time.Now()
		if res, err := svc.ImportFrom(ctx, "", capItems(room/2, text/2, &next)); err != nil || res.Imported != room/2 {
			t.Fatalf("the first import of %d books = %d imported, %v", room/2, res.Imported, err)
		}
		half := memtest.Held()
		peak := memtest.StartPeak(20 * time.Millisecond)
		res, err := svc.ImportFrom(ctx, "", capItems(room-room/2, text-text/2, &next))
		top = peak.Stop()
		if err != nil || res.Imported != room-room/2 {
			t.Fatalf("the second import of %d books = %d imported, %v", room-room/2, res.Imported, err)
		}
		res = bookshop.ImportResult{}
		after := memtest.Held()
		t.Logf("round %d: %d books, %d bytes of titles and authors, in %v: the heap went from %s to %s with half of them, to %s at the most during the second import, and %s after (%d bytes a book)",
			round, db.Len(), db.TextBytes(), time.Since(start).Round(time.Second), memtest.MiB(base), memtest.MiB(half), memtest.MiB(top), memtest.MiB(after), (after-base)/uint64(db.Len()))
		if db.Len() != catalog.DefaultMaxBooks || db.TextBytes() != catalog.DefaultMaxTextBytes {
			t.Fatalf("the catalog holds %d books of %d bytes of text, want the caps, %d and %d", db.Len(), db.TextBytes(), catalog.DefaultMaxBooks, catalog.DefaultMaxTextBytes)
		}
		_, err = svc.ImportBooks(ctx, "", []bookshop.ImportItem{{Book: bookshop.Book{Category: bookshop.Mystery, Title: "One More", Author: "A", Year: 2000, Price: testPrice}}})
		if bookshop.ErrorCode(err) != bookshop.Exhausted {
			t.Errorf("an import of one more book = %v, want Exhausted", err)
		}
		held = after - base // read once quiet: no garbage counted
		runtime.KeepAlive(svc)
		return top - base
	}
	top, readings := memtest.Least(rounds, budget+commit+catalog.ImportBytes, fill)
	if held > budget {
		t.Errorf("the catalog at its caps holds %s, more than the %s docs/capacity.md budgets for its books, their text and the feed", memtest.MiB(held), memtest.MiB(budget))
	}
	if top > budget+commit+catalog.ImportBytes {
		t.Errorf("the import that filled the catalog took the heap to %s over the start (the least of %s), more than the %s budgeted for the catalog at its caps, %s for the commit and %s for an import",
			memtest.MiB(top), memtest.MiBs(readings), memtest.MiB(budget), memtest.MiB(commit), memtest.MiB(catalog.ImportBytes))
	}
}
