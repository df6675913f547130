package catalog_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestImportKilledAfterStaging kills the Catalog (SIGKILL, as kill -9)
// once an import has staged its first batch of books in the database,
// inside its transaction: started again on the same file, the catalog
// holds none of them and nothing is left staged, and the same import,
// with the same key, then goes in whole.
func TestImportKilledAfterStaging(t *testing.T) {
	testImportKilledAfterStaging(t, filepath.Join(t.TempDir(), "catalog.db"))
}

// TestImportKilledAfterStagingOnPostgres is TestImportKilledAfterStaging
// with the catalog in PostgreSQL: the killed replica's transaction is
// rolled back, its import lock with it, so that the next import, of the
// Catalog started again, goes in.
func TestImportKilledAfterStagingOnPostgres(t *testing.T) {
	testImportKilledAfterStaging(t, pgtest.NewDatabase(t))
}

// testImportKilledAfterStaging is TestImportKilledAfterStaging on the
// database at path, a file or a postgres:// URL.
func testImportKilledAfterStaging(t *testing.T, path string) {
	db, err := openStore(testContext(t), path, builtinBooks(t))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	items := newBooks("Staged", 1_000)

	killed := startChild(t, "kill-staged:"+path)
	_, err = catalogclient.New(dial(t, killed.addr), 10*time.Second).ImportBooks(testContext(t), "staged-1", items)
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("the import, its Catalog killed = %v, want Unavailable", err)
	}
	killed.proc.Wait()

	c := startChild(t, path)
	client := catalogclient.New(dial(t, c.addr), 10*time.Second)
	if got := stagedRows(t, path); got != 0 {
		t.Errorf("import_items holds %d rows after the kill, want none", got)
	}
	if books := exportCount(t, client); books != 45 {
		t.Errorf("the catalog holds %d books after the kill, want the 45 there were", books)
	}
	res, err := client.ImportBooks(testContext(t), "staged-1", items)
	if err != nil || res.Imported != len(items) || res.Replayed {
		t.Fatalf("the same import again = %+v, %v; want its %d books imported, not replayed", res, err, len(items))
	}
	if got := stagedRows(t, path); got != 0 {
		t.Errorf("import_items holds %d rows after the import, want none", got)
	}
}

// stagedRows returns the rows of import_items in the database at path,
// a file or a postgres:// URL, read by a connection of its own.
func stagedRows(tb testing.TB, path string) int {
	tb.Helper()
	if strings.HasPrefix(path, "postgres://") {
		conn, err := pgx.Connect(testContext(tb), path)
		if err != nil {
			tb.Fatal(err)
		}
		defer conn.Close(context.Background())
		var n int
		if err := conn.QueryRow(testContext(tb), `SELECT count(*) FROM catalog.import_items`).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		return n
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRowContext(testContext(tb), `SELECT count(*) FROM import_items`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// exportCount returns how many books an export of the whole catalog has.
func exportCount(tb testing.TB, client *catalogclient.Client) int {
	tb.Helper()
	n := 0
	err := client.ExportBooks(testContext(tb), bookshop.AllCategories, catalog.ExportBatchSize, func(batch []bookshop.Book) error {
		n += len(batch)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestImportIdleTimeout pauses an import stream, after a first batch of
// books, for longer than the server waits: the import ends with ABORTED,
// saying why, writes nothing, and gives its place back, so that the next
// import begins at once.
func TestImportIdleTimeout(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		s := catalog.NewServer(svc, logger)
		s.SetImportIdleTimeout(200 * time.Millisecond)
		catalogv1.RegisterCatalogServiceServer(srv, s)
	})
	conn := dial(t, addr)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	stream, err := catalogv1.NewCatalogServiceClient(conn).ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range newBooks("Paused", 300) {
		if err := stream.Send(&catalogv1.ImportBooksRequest{Book: catalogclient.BookToProto(it.Book), Line: int32(it.Line)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	_, err = stream.CloseAndRecv()
	if status.Code(err) != codes.Aborted || !strings.Contains(status.Convert(err).Message(), "no book came for 200ms") {
		t.Errorf("an import paused for 1s = %v, want ABORTED after 200ms", err)
	}
	// The next import begins at once: the paused one holds nothing.
	quick, cancelQuick := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancelQuick()
	res, err := catalogclient.New(conn, 5*time.Second).ImportBooks(quick, "", newBooks("Next", 2))
	if err != nil || res.Imported != 2 {
		t.Errorf("the next import = %+v, %v; want its 2 books imported", res, err)
	}
	if n := exportCount(t, catalogclient.New(conn, 5*time.Second)); n != 47 {
		t.Errorf("the catalog holds %d books, want 47: none of the paused import", n)
	}
}

// TestImportRefusesOversizedLaterMessage sends a book, then a message larger
// than any book: the import ends with INVALID_ARGUMENT naming the second
// message, and writes nothing.
func TestImportRefusesOversizedLaterMessage(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	conn := dial(t, startService(t, catalog.NewService(db, "", 0, nil)))
	stream, err := catalogv1.NewCatalogServiceClient(conn).ImportBooks(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	big := largestBook(1)
	big.Book.Title += strings.Repeat("x", 3_000) // past 4 KiB, within gRPC's 4 MiB
	for _, req := range []*catalogv1.ImportBooksRequest{largestBook(0), big, largestBook(2)} {
		if err := stream.Send(req); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
	}
	_, err = stream.CloseAndRecv()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "message 2 of the import is") {
		t.Errorf("an import whose second message is %d bytes = %v, want INVALID_ARGUMENT naming message 2", proto.Size(big), err)
	}
	if db.Len() != 45 {
		t.Errorf("the catalog holds %d books, want the 45 it had", db.Len())
	}
}
