package rpc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// The tests of the platform's gRPC server and client use the real
// services of the slices as their subjects.

// The helpers of every test here: a context that ends with the test, and
// a plaintext connection closed with it.
var (
	testContext = rpctest.Context
	dial        = rpctest.Dial
)

// builtin returns the built-in catalog.
func builtin(tb testing.TB) *bookshop.Shelf {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatalf("catalogfile.Builtin: %v", err)
	}
	return c
}

// builtinBooks returns the books of the built-in catalog.
func builtinBooks(tb testing.TB) []bookshop.Book {
	tb.Helper()
	return builtin(tb).Books()
}

// startRecommendations serves rec as Recommendations over real gRPC on
// loopback and returns the server's address.
func startRecommendations(tb testing.TB, rec bookshop.Recommender) string {
	tb.Helper()
	return rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, logger))
	})
}

// startBuiltin serves Recommendations over the built-in catalog on
// loopback and returns the server's address.
func startBuiltin(tb testing.TB, r recommendations.Rand) string {
	tb.Helper()
	return startRecommendations(tb, recommendations.New(builtin(tb), r))
}

// openDB opens an in-memory catalog database seeded with seed. It allows
// the seeding a minute: the benchmarks seed 100,000 books, which takes
// more than testContext's 10s under the race detector.
func openDB(tb testing.TB, seed []bookshop.Book) *sqlite.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlite.Open(ctx, sqlite.Memory, seed)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// startCatalog serves db as CatalogService and Recommendations on loopback
// and returns a client connection to it.
func startCatalog(tb testing.TB, db *sqlite.DB) *grpc.ClientConn {
	tb.Helper()
	addr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(recommendations.New(db, nil), logger))
	})
	return dial(tb, addr)
}

// failingRecommender fails every call with err.
type failingRecommender struct{ err error }

func (f failingRecommender) Recommend(context.Context, bookshop.RecommendRequest) ([]bookshop.Book, error) {
	return nil, f.err
}

// exportAll reads a whole ExportBooks stream: the books and the number of
// messages.
func exportAll(tb testing.TB, client catalogv1.CatalogServiceClient, c catalogv1.Category) ([]*catalogv1.Book, int, error) {
	tb.Helper()
	stream, err := client.ExportBooks(testContext(tb), &catalogv1.ExportBooksRequest{Category: c})
	if err != nil {
		return nil, 0, err
	}
	var (
		books   []*catalogv1.Book
		batches int
	)
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return books, batches, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if n := len(resp.GetBooks()); n == 0 || n > catalog.ExportBatchSize {
			tb.Errorf("a batch holds %d books, want 1 to %d", n, catalog.ExportBatchSize)
		}
		books = append(books, resp.GetBooks()...)
		batches++
	}
}

// The identities and services of the test certificates, as the bookshop
// tool names them.
var (
	testIdentities = []string{"marketplace", "recommendations", "cart", "checkout", "admin"}
	testServices   = []string{"catalog", "recommendations", "marketplace", "demo"}
)

// testCerts returns the certs.Options of the shop's certificates.
func testCerts() certs.Options {
	return certs.Options{Services: testServices, Identities: testIdentities}
}

// mustMerge is rpc.Merge for policies that must agree.
func mustMerge(policies ...rpc.Policy) rpc.Policy {
	p, err := rpc.Merge(policies...)
	if err != nil {
		panic(err)
	}
	return p
}
