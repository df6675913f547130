package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

// The benchmarks of the gRPC edge run a real server, with every
// interceptor and an access log that formats each line (and discards it),
// and a real client, over loopback: their allocations are the client's and
// the server's together.

// benchContext returns a context for a benchmark, cancelled when it ends.
func benchContext(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	return ctx
}

// BenchmarkRecommend measures /Recommendations/Recommend as the Marketplace
// calls it for the homepage: three mystery books, with 50 calls in flight
// (on two cores), as in the load test of scripts/bench.sh.
func BenchmarkRecommend(b *testing.B) {
	client := recommendationspb.NewRecommendationsClient(dial(b, startBuiltin(b, nil)))
	ctx := benchContext(b)
	req := &recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 3}
	b.ReportAllocs()
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Recommend(ctx, req)
			if err != nil || len(resp.GetRecommendations()) != 3 {
				b.Errorf("Recommend(%v) = %v, %v; want 3 books", req, resp, err)
				return
			}
		}
	})
}

// manyBooks returns n valid books with ids 1 to n, in the three
// categories in turn, titled with prefix.
func manyBooks(n int, prefix string) []bookshop.Book {
	books := make([]bookshop.Book, n)
	for i := range books {
		books[i] = bookshop.Book{
			ID:       int32(i + 1),
			Title:    prefix + " " + strconv.Itoa(i+1),
			Author:   "Benchmark",
			Year:     2000,
			Category: bookshop.Category(i % 3),
			Price:    bookshop.Money{Units: 999, Currency: "EUR"},
		}
	}
	return books
}

// BenchmarkExportBooks measures an export of 100,000 books, in batches of
// ExportBatchSize, from a catalog in SQLite to a gRPC client.
func BenchmarkExportBooks(b *testing.B) {
	const n = 100_000
	client := catalogv1.NewCatalogServiceClient(startCatalog(b, openDB(b, manyBooks(n, "Export"))))
	ctx := benchContext(b)
	b.ReportAllocs()
	for b.Loop() {
		stream, err := client.ExportBooks(ctx, &catalogv1.ExportBooksRequest{})
		if err != nil {
			b.Fatalf("ExportBooks: %v", err)
		}
		got := 0
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatalf("ExportBooks: Recv: %v", err)
			}
			got += len(resp.GetBooks())
		}
		if got != n {
			b.Fatalf("ExportBooks sent %d books, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "books/s")
}

// BenchmarkImportBooks measures imports of 10,000 new books each, streamed
// from a gRPC client into SQLite in one transaction. The catalog grows by
// as much with each import.
func BenchmarkImportBooks(b *testing.B) {
	const n = 10_000
	client := catalogv1.NewCatalogServiceClient(startCatalog(b, openDB(b, nil)))
	ctx := benchContext(b)
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		round++
		stream, err := client.ImportBooks(ctx)
		if err != nil {
			b.Fatalf("ImportBooks: %v", err)
		}
		prefix := fmt.Sprintf("Import %d book", round)
		for i := range n {
			book := &catalogv1.Book{Title: prefix + " " + strconv.Itoa(i), Author: "Benchmark", Year: 2000, Category: catalogv1.Category(1 + i%3),
				Price: &moneyv1.Money{Units: 999, Currency: "EUR"}}
			if err := stream.Send(&catalogv1.ImportBooksRequest{Book: book, Line: int32(i + 1)}); err != nil {
				b.Fatalf("ImportBooks: Send: %v", err)
			}
		}
		resp, err := stream.CloseAndRecv()
		if err != nil || resp.GetImported() != n {
			b.Fatalf("ImportBooks = %v, %v; want %d imported", resp, err, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "books/s")
}
