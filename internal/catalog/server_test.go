package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// openDB opens an in-memory catalog database seeded with seed.
func openDB(tb testing.TB, seed []bookshop.Book) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), sqlite.Memory, seed)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func builtinBooks(tb testing.TB) []bookshop.Book {
	tb.Helper()
	c, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	return c.Books()
}

// startCatalog serves db as CatalogService and, straight from db,
// Recommendations on loopback and returns a client connection to it.
func startCatalog(tb testing.TB, db *sqlite.DB) *grpc.ClientConn {
	tb.Helper()
	addr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(recommendations.New(db, nil), logger))
	})
	return dial(tb, addr)
}

func TestGetBook(t *testing.T) {
	client := catalogv1.NewCatalogServiceClient(startCatalog(t, openDB(t, builtinBooks(t))))
	resp, err := client.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 5})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.GetBook()
	if b.GetTitle() != "Ender's Game" || b.GetAuthor() != "Orson Scott Card" || b.GetCategory() != catalogv1.Category_CATEGORY_SCIENCE_FICTION {
		t.Errorf("GetBook(5) = %v, want Ender's Game by Orson Scott Card, science fiction", b)
	}
	_, err = client.GetBook(testContext(t), &catalogv1.GetBookRequest{Id: 999})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetBook(999) = %v, want NotFound", err)
	}
}

// TestGetBooks checks the batch read, through the client: the books found,
// in the order asked, each once, ids without a book left out, and the
// bounds refused with INVALID_ARGUMENT by the service itself (no
// validators run on this server).
func TestGetBooks(t *testing.T) {
	client := catalogclient.New(startCatalog(t, openDB(t, builtinBooks(t))), 10*time.Second)
	tooMany := make([]int32, catalog.MaxGetBooks+1) // 1 to 101
	for i := range tooMany {
		tooMany[i] = int32(i + 1)
	}
	builtinIDs := tooMany[:45] // the built-in catalog's ids
	tests := []struct {
		name    string
		ids     []int32
		want    []int32 // ids of the books returned
		wantErr bool
	}{
		{"in the order asked", []int32{5, 1, 3}, []int32{5, 1, 3}, false},
		{"unknown ids left out", []int32{999, 2, 1000}, []int32{2}, false},
		{"repeated id once", []int32{4, 4, 2, 4}, []int32{4, 2}, false},
		{"none found", []int32{999}, nil, false},
		{"no ids", nil, nil, false},
		{"as many as allowed", tooMany[:catalog.MaxGetBooks], builtinIDs, false},
		{"too many", tooMany, nil, true},
		{"id 0", []int32{1, 0}, nil, true},
		{"negative id", []int32{-3}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			books, err := client.Books(testContext(t), tt.ids)
			if tt.wantErr {
				if bookshop.ErrorCode(err) != bookshop.Invalid {
					t.Errorf("Books(%v) error = %v, want Invalid", tt.ids, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Books(%v): %v", tt.ids, err)
			}
			var got []int32
			for _, b := range books {
				got = append(got, b.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Books(%v) = ids %v, want %v", tt.ids, got, tt.want)
			}
		})
	}
	books, err := client.Books(testContext(t), []int32{5})
	if err != nil || len(books) != 1 || books[0].Title != "Ender's Game" || books[0].Category != bookshop.ScienceFiction {
		t.Errorf("Books([5]) = %+v, %v; want Ender's Game, science fiction", books, err)
	}
}

// exportAll reads a whole ExportBooks stream.
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

func TestExportBooks(t *testing.T) {
	seed := builtinBooks(t)
	for i := range 1200 {
		seed = append(seed, bookshop.Book{ID: int32(1000 + i), Category: bookshop.Category(i % 3), Title: fmt.Sprintf("Generated %d", i), Author: "Test", Year: 2000, Price: testPrice})
	}
	client := catalogv1.NewCatalogServiceClient(startCatalog(t, openDB(t, seed)))

	all, batches, err := exportAll(t, client, catalogv1.Category_CATEGORY_UNSPECIFIED)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(seed) || batches != 3 {
		t.Errorf("export of everything: %d books in %d batches, want %d in 3", len(all), batches, len(seed))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].GetId() >= all[i].GetId() {
			t.Fatalf("export is not in id order at %d: %d then %d", i, all[i-1].GetId(), all[i].GetId())
		}
	}
	selfHelp, _, err := exportAll(t, client, catalogv1.Category_CATEGORY_SELF_HELP)
	if err != nil {
		t.Fatal(err)
	}
	if len(selfHelp) != 15+400 {
		t.Errorf("export of self-help: %d books, want %d", len(selfHelp), 15+400)
	}
	for _, b := range selfHelp {
		if b.GetCategory() != catalogv1.Category_CATEGORY_SELF_HELP {
			t.Fatalf("export of self-help holds %v", b)
		}
	}
	if _, _, err := exportAll(t, client, catalogv1.Category(42)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("export of category 42 = %v, want InvalidArgument", err)
	}
}

// TestExportCancelled checks that a client that cancels half-way stops the
// server's export promptly, and that no goroutine is left behind.
func TestExportCancelled(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	var books []bookshop.Book
	for i := range 100_000 {
		books = append(books, bookshop.Book{ID: int32(i + 1), Category: bookshop.Mystery, Title: fmt.Sprintf("Book %d", i), Author: "Test", Year: 2000, Price: testPrice})
	}
	db, err := sqlite.Open(testContext(t), sqlite.Memory, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() // before goleak looks
	exporting := &watchedCatalog{DB: db, exported: bookshop.NewShelf(books), done: make(chan error, 1)}
	logger := slog.New(slog.DiscardHandler)
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second})
	catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(exporting, "", 0, nil), logger))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, lis) }()

	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithCancel(testContext(t))
	stream, err := catalogv1.NewCatalogServiceClient(conn).ExportBooks(callCtx, &catalogv1.ExportBooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-exporting.done:
		if !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
			t.Errorf("server's export ended with %v, want it cancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server still exporting 5s after the client cancelled")
	}
	if exporting.batches.Load() >= 200 {
		t.Errorf("server sent all %d batches; want it to stop early", exporting.batches.Load())
	}
	conn.Close()
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// watchedCatalog is a catalog.Store whose ExportBooks exports the books
// of exported, from memory (seeding SQLite with 100,000 books is slow under
// the race detector), and reports when it returns and how far it got.
type watchedCatalog struct {
	*sqlite.DB
	exported *bookshop.Shelf
	done     chan error
	batches  atomicInt
}

func (w *watchedCatalog) ExportBooks(ctx context.Context, c bookshop.Category, size int, yield func([]bookshop.Book) error) error {
	err := w.exported.ExportBooks(ctx, c, size, func(b []bookshop.Book) error {
		w.batches.Add(1)
		return yield(b)
	})
	w.done <- err
	return err
}

type atomicInt struct {
	mu sync.Mutex
	n  int
}

func (a *atomicInt) Add(d int) { a.mu.Lock(); a.n += d; a.mu.Unlock() }
func (a *atomicInt) Load() int { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

func TestImportBooksStream(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	client := catalogclient.New(startCatalog(t, db), 10*time.Second)
	res, err := client.ImportBooks(testContext(t), "", []bookshop.ImportItem{
		{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "The Big Clock", Author: "Kenneth Fearing", Year: 1946, Price: testPrice}},
		{Line: 3, Book: bookshop.Book{Category: bookshop.Category(-100), Title: "No Category", Author: "A", Year: 2000, Price: testPrice}},
		{Line: 4, Book: bookshop.Book{ID: 2, Category: bookshop.Mystery, Title: "Taken", Author: "A", Year: 2000, Price: testPrice}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 1 || len(res.Rejected) != 2 {
		t.Fatalf("import = %+v, want 1 imported and 2 rejected", res)
	}
	if r := res.Rejected[0]; r.Line != 3 || r.Index != 1 {
		t.Errorf("first rejection = %+v, want line 3, index 1", r)
	}
	if r := res.Rejected[1]; r.Line != 4 || r.Index != 2 {
		t.Errorf("second rejection = %+v, want line 4, index 2", r)
	}
	if db.Len() != 46 {
		t.Errorf("catalog holds %d books, want 46", db.Len())
	}
}

// TestImportForeignCurrency checks that a book priced in another currency
// than the shop's is rejected, with its line and the field price, and that
// the other books of the import, and their rejections, keep their places.
func TestImportForeignCurrency(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	svc := catalog.NewService(db, "EUR", 0, nil)
	usd := bookshop.Money{Units: 1299, Currency: "USD"}
	res, err := svc.ImportBooks(testContext(t), "", []bookshop.ImportItem{
		{Line: 2, Book: bookshop.Book{Category: bookshop.Mystery, Title: "In Dollars", Author: "A", Year: 2000, Price: usd}},
		{Line: 3, Book: bookshop.Book{Category: bookshop.Mystery, Title: "In Euros", Author: "A", Year: 2000, Price: testPrice}},
		{Line: 4, Book: bookshop.Book{Category: bookshop.Mystery, Title: "", Author: "A", Year: 2000, Price: testPrice}},
		{Line: 5, Book: bookshop.Book{Category: bookshop.Mystery, Title: "In Dollars Too", Author: "A", Year: 2000, Price: usd}},
		{Line: 6, Book: bookshop.Book{Category: bookshop.Mystery, Title: "No Price", Author: "A", Year: 2000}},
		{Line: 7, Book: bookshop.Book{Category: bookshop.Mystery, Title: "No Currency", Author: "A", Year: 2000, Price: bookshop.Money{Units: 1000}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []bookshop.Rejection{
		{Index: 0, Line: 2, Reason: "price: 12.99 USD is not in the shop's currency, EUR"},
		{Index: 2, Line: 4, Reason: "title: must not be empty"},
		{Index: 3, Line: 5, Reason: "price: 12.99 USD is not in the shop's currency, EUR"},
		{Index: 4, Line: 6, Reason: "price: missing: every book needs a price, such as 12.99"},
		{Index: 5, Line: 7, Reason: "price: 10.00 names no currency: want the shop's, EUR"},
	}
	if res.Imported != 1 || fmt.Sprint(res.Rejected) != fmt.Sprint(want) {
		t.Errorf("import = %d imported, rejected %+v; want 1, rejected %+v", res.Imported, res.Rejected, want)
	}
	if len(res.Books) != 1 || res.Books[0].Title != "In Euros" || res.Books[0].Price != testPrice {
		t.Errorf("books written = %+v, want In Euros at %v", res.Books, testPrice)
	}
	if got := catalog.NewService(db, "", 0, nil).Currency(); got != "EUR" {
		t.Errorf(`NewService(db, "", ...).Currency() = %q, want the default, EUR`, got)
	}
}

// TestImportCutOff checks that a stream that breaks off half-way writes
// nothing, however many valid books it sent.
func TestImportCutOff(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	finished := make(chan error, 1)
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(catalog.NewService(db, "", 0, nil), logger))
	}, grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		err := handler(srv, ss)
		finished <- err
		return err
	}))
	client := catalogv1.NewCatalogServiceClient(dial(t, addr))
	ctx, cancel := context.WithCancel(testContext(t))
	stream, err := client.ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := stream.Send(&catalogv1.ImportBooksRequest{Line: int32(i + 2), Book: &catalogv1.Book{
			Category: catalogv1.Category_CATEGORY_MYSTERY, Title: fmt.Sprintf("Cut %d", i), Author: "A", Year: 2000,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // the client goes away without closing the stream
	select {
	case err := <-finished:
		if err == nil {
			t.Error("ImportBooks handler succeeded on a cut-off stream, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ImportBooks handler still running 5s after the client went away")
	}
	if db.Len() != 45 {
		t.Errorf("catalog holds %d books after a cut-off import, want the 45 it had", db.Len())
	}
}

// TestImportDuringRecommendLoad imports books while Recommend is called
// hard: no call fails, and each sees the category before or after the
// import, never part of it.
func TestImportDuringRecommendLoad(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	conn := startCatalog(t, db)
	recs := recommendationspb.NewRecommendationsClient(conn)
	// 15 self-help books before, 15+n after: both under the cap of 100, so
	// that a reader who saw part of the import would see another count.
	const n = 80
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		items[i] = bookshop.ImportItem{Book: bookshop.Book{Category: bookshop.SelfHelp, Title: fmt.Sprintf("Load %d", i), Author: "Test", Year: 2021, Price: testPrice}}
	}
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var calls sync.WaitGroup
	for range 8 {
		calls.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := recs.Recommend(testContext(t), &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_SELF_HELP, MaxResults: 1000})
				if err != nil {
					errs <- err
					return
				}
				if got := len(resp.GetRecommendations()); got != 15 && got != 15+n {
					errs <- fmt.Errorf("Recommend saw %d self-help books, want 15 or %d", got, 15+n)
					return
				}
			}
		})
	}
	res, err := catalogclient.New(conn, 30*time.Second).ImportBooks(testContext(t), "", items)
	close(stop)
	calls.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err != nil || res.Imported != n {
		t.Fatalf("import under load = %+v, %v; want %d imported", res.Imported, err, n)
	}
}

// TestImportRefusesOversizedMessage checks that a message far larger than
// any book ends the import before the server holds it.
func TestImportRefusesOversizedMessage(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	client := catalogv1.NewCatalogServiceClient(startCatalog(t, db))
	stream, err := client.ImportBooks(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	big := &catalogv1.ImportBooksRequest{Book: &catalogv1.Book{
		Category: catalogv1.Category_CATEGORY_MYSTERY, Title: strings.Repeat("x", 100_000), Author: "A", Year: 2000,
	}}
	_ = stream.Send(big)
	if _, err := stream.CloseAndRecv(); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "bytes") {
		t.Errorf("import of a 100 kB book = %v, want InvalidArgument about its size", err)
	}
	if db.Len() != 45 {
		t.Errorf("catalog holds %d books after a refused import, want 45", db.Len())
	}
}
