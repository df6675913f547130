package catalog_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
)

// TestWatchesMemory opens catalog.MaxWatches WatchBooks streams on one
// connection whose client reads nothing, the most a Catalog serves, and
// checks what each holds on the server, stalled on flow control in the
// middle of its snapshot: at most catalog.WatchBytes, the figure
// docs/capacity.md budgets with, for books at their largest (2 KB each)
// and for books of the built-in catalog's size. The Catalog is a child
// process, so that the test's own clients do not count; they take 64 KiB
// a stream and 64 KiB for the connection, the least gRPC allows, so that
// the server stalls at once, holding what it holds at the most.
func TestWatchesMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("opens 256 watches, twice")
	}
	largest := make([]bookshop.Book, 5_000)
	for i := range largest {
		largest[i] = catalogclient.BookFromProto(largestBook(i).GetBook())
		largest[i].ID = int32(i + 1)
	}
	for _, tc := range []struct {
		name  string
		books []bookshop.Book
	}{
		{"largest books", largest},
		{"books of the usual size", memoryBooks(20_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "catalog.db")
			db, err := sqlite.Open(testContext(t), path, tc.books)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			c := startChild(t, path)
			client := catalogv1.NewCatalogServiceClient(dial(t, c.addr,
				grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10)))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			before := c.heldBytes(t)
			for i := range catalog.MaxWatches {
				if _, err := client.WatchBooks(ctx, &catalogv1.WatchBooksRequest{}); err != nil {
					t.Fatalf("watch %d: %v", i+1, err)
				}
			}
			deadline := time.Now().Add(30 * time.Second)
			for c.watches(t) < catalog.MaxWatches {
				if time.Now().After(deadline) {
					t.Fatalf("the Catalog serves %d watches 30s after %d were opened", c.watches(t), catalog.MaxWatches)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// One more is refused.
			extra, err := client.WatchBooks(ctx, &catalogv1.WatchBooksRequest{})
			if err == nil {
				_, err = extra.Recv()
			}
			if status.Code(err) != codes.Unavailable {
				t.Errorf("a watch past the %d = %v, want UNAVAILABLE", catalog.MaxWatches, err)
			}
			time.Sleep(500 * time.Millisecond) // each sends what flow control lets it
			each := (c.heldBytes(t) - before) / catalog.MaxWatches
			t.Logf("%d watches that read nothing: %d bytes each on the server", catalog.MaxWatches, each)
			if each > catalog.WatchBytes {
				t.Errorf("a watch that reads nothing holds %d bytes on the server, more than catalog.WatchBytes, %d", each, catalog.WatchBytes)
			}
		})
	}
	if count, bytes := memtest.Documented(t, "Catalog", "watches"); count != catalog.MaxWatches || bytes != catalog.WatchBytes {
		t.Errorf("docs/capacity.md budgets %d watches of %d bytes, want catalog.MaxWatches, %d, of catalog.WatchBytes, %d", count, bytes, catalog.MaxWatches, catalog.WatchBytes)
	}
}
