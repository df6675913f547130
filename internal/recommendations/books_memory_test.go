package recommendations_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// memoryBooks is the size of the catalog BenchmarkBooksMemory measures.
const memoryBooks = 100_000

// encodedSnapshot returns n books as the Catalog's WatchBooks messages
// carry them, 500 a message: titles of 18 bytes and authors of 14 (the
// built-in catalog's averages), each priced in euros.
func encodedSnapshot(tb testing.TB, n int) [][]byte {
	tb.Helper()
	var wire [][]byte
	for from := 0; from < n; from += 500 {
		resp := &catalogv1.WatchBooksResponse{}
		for i := from; i < min(from+500, n); i++ {
			resp.Books = append(resp.Books, catalogclient.BookToProto(bookshop.Book{
				ID: int32(i + 1), Title: fmt.Sprintf("Book Title #%06d", i), Author: fmt.Sprintf("Author #%06d", i),
				Year: 2000, Category: bookshop.Category(i % 3), Price: bookshop.Money{Units: 1299, Currency: "EUR"},
			}))
		}
		b, err := proto.Marshal(resp)
		if err != nil {
			tb.Fatal(err)
		}
		wire = append(wire, b)
	}
	return wire
}

// received decodes wire as catalogclient's Watch does: each message's
// books appended to one slice, handed over whole.
func received(tb testing.TB, wire [][]byte) []bookshop.Book {
	tb.Helper()
	var books []bookshop.Book
	for _, b := range wire {
		resp := &catalogv1.WatchBooksResponse{}
		if err := proto.Unmarshal(b, resp); err != nil {
			tb.Fatal(err)
		}
		for _, pb := range resp.GetBooks() {
			books = append(books, catalogclient.BookFromProto(pb))
		}
	}
	return books
}

// copyOf returns a Books that followed a feed of one snapshot, books.
func copyOf(books []bookshop.Book) *recommendations.Books {
	copied := recommendations.NewBooks(0)
	ctx, cancel := context.WithCancel(context.Background())
	copied.Follow(ctx, feedFunc(func(_ context.Context, snapshot, _ func([]bookshop.Book) error) error {
		defer cancel()
		return snapshot(books)
	}), slog.New(slog.DiscardHandler))
	return copied
}

// heapHeld returns the bytes of heap that build's result holds: the heap
// in use with it, less the heap in use once it is dropped, each after a
// collection. (Measured so, what the runtime frees meanwhile of its own
// does not count against it.)
func heapHeld(build func() any) uint64 {
	var with, without runtime.MemStats
	x := build()
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(x)
	runtime.GC()
	runtime.ReadMemStats(&without)
	return with.HeapAlloc - without.HeapAlloc
}

// BenchmarkBooksMemory measures Recommendations' copy of a catalog of
// 100,000 books, received as WatchBooks sends them: the time to decode
// and index a snapshot, and the memory a book costs, reported per book as
// "bytes/book" (the copy held: its shelf's indexes and the books' strings)
// and "received-bytes/book" (the books of a snapshot as received, which a
// replica holds besides its old copy and the new one while a snapshot
// replaces the copy).
//
//	go test -run '^$' -bench BooksMemory ./internal/recommendations
func BenchmarkBooksMemory(b *testing.B) {
	wire := encodedSnapshot(b, memoryBooks)
	b.ReportAllocs()
	for b.Loop() {
		copyOf(received(b, wire))
	}
	b.StopTimer()
	held := heapHeld(func() any { return copyOf(received(b, wire)) })
	got := heapHeld(func() any { return received(b, wire) })
	b.ReportMetric(float64(held)/memoryBooks, "bytes/book")
	b.ReportMetric(float64(got)/memoryBooks, "received-bytes/book")
}
