package catalog_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/postgres"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// largestBook returns the book of an import at its largest: a title of
// 300 characters and an author of 200, each of 4 bytes in UTF-8, about
// 2 KB on the wire. Its title starts with i, so that each is new.
func largestBook(i int) *catalogv1.ImportBooksRequest {
	title := fmt.Sprintf("%07d ", i)
	return &catalogv1.ImportBooksRequest{Line: int32(i + 2), Book: &catalogv1.Book{
		Category: catalogv1.Category_CATEGORY_MYSTERY,
		Title:    title + strings.Repeat("𝔅", bookshop.MaxTitleLen-len(title)),
		Author:   strings.Repeat("𝔄", bookshop.MaxAuthorLen),
		Year:     2000,
		Price:    catalogclient.MoneyToProto(testPrice),
	}}
}

// TestImportMemory checks that an import does not hold its books until it
// commits: 20,000 books at their largest (40 MB on the wire) keep the
// Catalog's live heap within catalog.ImportBytes of where it started, whether
// the stream breaks off (nothing written) or commits (besides the books
// it adds, which the catalog then holds).
func TestImportMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("sends 80 MB of books")
	}
	db, err := sqlite.Open(testContext(t), filepath.Join(t.TempDir(), "catalog.db"), builtinBooks(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testImportMemory(t, db)
}

// TestImportOnPostgresMemory is TestImportMemory with the catalog in
// PostgreSQL: its import stages and writes its books in batches too.
func TestImportOnPostgresMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("sends 80 MB of books")
	}
	db, err := postgres.Open(testContext(t), pgtest.Settings(t), builtinBooks(t), postgres.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	testImportMemory(t, db)
}

// testImportMemory is TestImportMemory on db.
func testImportMemory(t *testing.T, db catalog.Database) {
	const n = 20_000
	svc := catalog.NewService(db, "", 0, nil)
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(svc, slog.New(slog.DiscardHandler)))
	})
	client := catalogv1.NewCatalogServiceClient(dial(t, addr))

	// importAll sends n books on a new stream; it ends the stream after
	// the last, with commit, or breaks it off.
	importAll := func(commit bool) (*catalogv1.ImportBooksResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		stream, err := client.ImportBooks(ctx)
		if err != nil {
			return nil, err
		}
		for i := range n {
			if err := stream.Send(largestBook(i)); err != nil {
				break // the server ended the stream: CloseAndRecv says why
			}
		}
		if !commit {
			cancel()
			return nil, nil
		}
		return stream.CloseAndRecv()
	}

	base := memtest.Held()
	peak := memtest.StartPeak(50 * time.Millisecond)
	if _, err := importAll(false); err != nil {
		t.Fatal(err)
	}
	// The import has ended, and released its place, once another can
	// begin and end at once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := svc.ImportBooks(ctx, "", nil)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an empty import after the broken one still fails after 10s: %v", err)
		}
	}
	held := peak.Stop()
	t.Logf("an import of %d books broken off: the heap went from %s to %s at the most", n, memtest.MiB(base), memtest.MiB(held))
	if db.Len() != 45 {
		t.Errorf("the catalog holds %d books after a broken import, want the 45 it had", db.Len())
	}
	if held > base+catalog.ImportBytes {
		t.Errorf("a broken import of %d books took the heap from %s to %s: more than the %s an import may hold", n, memtest.MiB(base), memtest.MiB(held), memtest.MiB(catalog.ImportBytes))
	}

	base = memtest.Held()
	peak = memtest.StartPeak(50 * time.Millisecond)
	resp, err := importAll(true)
	held = peak.Stop()
	if err != nil || resp.GetImported() != n {
		t.Fatalf("an import of %d books = %v, %v; want all imported", n, resp, err)
	}
	after := memtest.Held()
	t.Logf("an import of %d books committed: the heap went from %s to %s at the most, and %s after", n, memtest.MiB(base), memtest.MiB(held), memtest.MiB(after))
	if held > after+catalog.ImportBytes {
		t.Errorf("an import of %d books took the heap to %s: more than the %s an import may hold over the %s after it", n, memtest.MiB(held), memtest.MiB(catalog.ImportBytes), memtest.MiB(after))
	}
}

// importsAtOnce is catalog.MaxImports imports running or waiting on one
// Catalog: the first holds the database, the others wait for it, their
// clients sending as fast as gRPC lets them.
type importsAtOnce struct {
	client  catalogv1.CatalogServiceClient
	first   catalogv1.CatalogService_ImportBooksClient
	results chan importsAtOnceResult
	n       int // books each waiting import sends
}

type importsAtOnceResult struct {
	resp *catalogv1.ImportBooksResponse
	err  error
}

// startImportsAtOnce starts catalog.MaxImports imports on a new Catalog,
// the waiting ones of n books at their largest each, and returns once the
// Catalog counts them all.
func startImportsAtOnce(t *testing.T, ctx context.Context, n int) *importsAtOnce {
	t.Helper()
	db, err := sqlite.Open(testContext(t), filepath.Join(t.TempDir(), "catalog.db"), builtinBooks(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	metrics := telemetry.NewMetrics()
	svc := catalog.NewService(db, "", 0, metrics)
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(svc, slog.New(slog.DiscardHandler)))
	})
	a := &importsAtOnce{client: catalogv1.NewCatalogServiceClient(dial(t, addr)), results: make(chan importsAtOnceResult, catalog.MaxImports-1), n: n}
	// The first import sends one book and holds the database until the
	// test lets it end; the others send all theirs, or as many as they
	// may.
	if a.first, err = a.client.ImportBooks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.first.Send(largestBook(0)); err != nil {
		t.Fatal(err)
	}
	for k := 1; k < catalog.MaxImports; k++ {
		stream, err := a.client.ImportBooks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for i := range n {
				if err := stream.Send(largestBook(k*n + i)); err != nil {
					break
				}
			}
			resp, err := stream.CloseAndRecv()
			a.results <- importsAtOnceResult{resp, err}
		}()
	}
	waitImports(t, metrics, catalog.MaxImports)
	return a
}

// finish lets the first import commit, and checks that every waiting one
// then commits, in turn.
func (a *importsAtOnce) finish(t *testing.T) {
	t.Helper()
	if resp, err := a.first.CloseAndRecv(); err != nil || resp.GetImported() != 1 {
		t.Fatalf("the first import = %v, %v; want its one book imported", resp, err)
	}
	for range catalog.MaxImports - 1 {
		if r := <-a.results; r.err != nil || r.resp.GetImported() != int32(a.n) {
			t.Errorf("a waiting import = %v, %v; want its %d books imported", r.resp, r.err, a.n)
		}
	}
}

// TestImportsAtOnce checks the cap on imports: with catalog.MaxImports
// running or waiting, one more is refused with RESOURCE_EXHAUSTED; once
// the first commits, the others do, in turn.
func TestImportsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := startImportsAtOnce(t, ctx, 50)
	stream, err := a.client.ImportBooks(ctx)
	if err == nil {
		if err = stream.Send(largestBook(-1)); err == nil {
			_, err = stream.CloseAndRecv()
		}
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("an import past the %d running or waiting = %v, want RESOURCE_EXHAUSTED", catalog.MaxImports, err)
	}
	// It says when to try again, as gRPC's RetryInfo, which a client
	// reads as a quota it used up, with its message (rpc.FromStatus),
	// rather than as the service being unavailable.
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	if got := retry.GetRetryDelay().AsDuration(); got != catalog.ImportRetryAfter {
		t.Errorf("an import past the %d running or waiting: RetryInfo %v, want a delay of catalog.ImportRetryAfter, %v", catalog.MaxImports, retry, catalog.ImportRetryAfter)
	}
	if de := rpc.FromStatus(err); bookshop.ErrorCode(de) != bookshop.Exhausted || bookshop.RetryAfter(de) != catalog.ImportRetryAfter {
		t.Errorf("rpc.FromStatus(%v) = %v, want Exhausted with RetryAfter %v", err, de, catalog.ImportRetryAfter)
	}
	a.finish(t)
}

// TestImportsAtOnceMemory checks what catalog.MaxImports imports hold
// while running or waiting, their clients sending as fast as gRPC lets
// them: no more than catalog.ImportBytes each, the figure docs/capacity.md
// budgets them with.
func TestImportsAtOnceMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("sends 40 MB of books")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := memtest.Held()
	peak := memtest.StartPeak(50 * time.Millisecond)
	a := startImportsAtOnce(t, ctx, 5_000) // 10 MB on the wire, each
	time.Sleep(200 * time.Millisecond)     // the waiting clients send what they may
	held := peak.Stop()
	t.Logf("%d imports running or waiting: the heap went from %s to %s at the most", catalog.MaxImports, memtest.MiB(base), memtest.MiB(held))
	if max := base + catalog.MaxImports*catalog.ImportBytes; held > max {
		t.Errorf("%d imports running or waiting took the heap from %s to %s: more than %s each", catalog.MaxImports, memtest.MiB(base), memtest.MiB(held), memtest.MiB(catalog.ImportBytes))
	}
	if count, bytes := memtest.Documented(t, "Catalog", "imports"); count != catalog.MaxImports || bytes != catalog.ImportBytes {
		t.Errorf("docs/capacity.md budgets %d imports of %d bytes, want catalog.MaxImports, %d, of catalog.ImportBytes, %d", count, bytes, catalog.MaxImports, catalog.ImportBytes)
	}
	a.finish(t)
}

// waitImports waits until the Catalog of metrics has want imports running
// or waiting, as its gauge bookshop_catalog_imports says.
func waitImports(tb testing.TB, metrics *telemetry.Metrics, want int) {
	tb.Helper()
	line := fmt.Sprintf("bookshop_catalog_imports %d\n", want)
	// Generous: on a loaded two-core host (CI), starting the imports took
	// more than 10 s once.
	const wait = 30 * time.Second
	deadline := time.Now().Add(wait)
	for {
		rec := httptest.NewRecorder()
		metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if strings.Contains(rec.Body.String(), line) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the Catalog's metrics have no %q after %s", strings.TrimSpace(line), wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
