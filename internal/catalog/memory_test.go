package catalog_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
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
