package search

import (
	"runtime"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

const benchBooks = 100_000

// BenchmarkIndex100k indexes 100,000 generated books at once, as the
// Catalog does at start, and reports the index's memory: the heap it
// holds once built, per book.
func BenchmarkIndex100k(b *testing.B) {
	books := generate(benchBooks, 1)
	b.ReportAllocs()
	for b.Loop() {
		New(books)
	}
	b.StopTimer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := New(books)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(x)
	runtime.KeepAlive(books) // held before, so not to be counted as freed after
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/benchBooks, "bytes/book")
}

// BenchmarkAddOne adds one book at a time to an index of 100,000, as
// imports of one book do: the cost per book, merges included.
func BenchmarkAddOne(b *testing.B) {
	books := generate(benchBooks+b.N, 1)
	x := New(books[:benchBooks])
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		x.Add(books[benchBooks+i : benchBooks+i+1])
	}
}

// BenchmarkSearch100k searches 100,000 generated books, for a page of 20:
// queries that match a few books, and queries that match most of them.
func BenchmarkSearch100k(b *testing.B) {
	x := New(generate(benchBooks, 1))
	for _, bm := range []struct {
		name string
		q    bookshop.SearchQuery
	}{
		{"rare word", bookshop.SearchQuery{Text: "dvořák", Limit: 20}},
		{"author", bookshop.SearchQuery{Text: "agatha christie", Limit: 20}},
		{"two words", bookshop.SearchQuery{Text: "night house", Limit: 20}},
		{"prefix", bookshop.SearchQuery{Text: "murd", Limit: 20}},
		{"common word", bookshop.SearchQuery{Text: "the", Limit: 20}},
		{"one letter", bookshop.SearchQuery{Text: "s", Limit: 20}},
		{"deep page", bookshop.SearchQuery{Text: "the", Offset: 5000, Limit: 20}},
		{"no match", bookshop.SearchQuery{Text: "zzzz", Limit: 20}},
	} {
		res, err := x.Search(bm.q)
		if err != nil {
			b.Fatalf("Search(%+v): %v", bm.q, err)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Search(bm.q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Total), "matches")
		})
	}
}
