package catalog_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// TestImportWaitingWindow checks what a waiting import's client can make
// the Catalog hold: its stream is not read until the import before it
// ends, so what the client sends waits in the server's buffers, up to the
// stream's HTTP/2 window. The Catalog's server (NewGRPCServer, as Run
// makes it) keeps that window at 64 KiB: a client that sends without end
// for two seconds, while an import on the same connection streams up to
// 5,000 books at their largest, gets 248 KiB of titles and authors out
// (the receiver's 64 books read ahead, the window, and its own gRPC write
// quota). Before, the window grew with the connection's bandwidth (BDP
// estimation, up to 16 MiB): 1.0 to 1.6 MiB in two seconds (1,256 KiB
// with 5,000 books, sent in well under the two seconds).
func TestImportWaitingWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), builtinBooks(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.DiscardHandler)
	metrics := telemetry.NewMetrics()
	srv, err := catalog.NewGRPCServer(catalog.NewService(db, "", 0, metrics), process.Deps{Logger: logger, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	// The first import holds the database, and then sends books at their
	// largest, which the server reads as they come; the second,
	// on the same connection, waits, its client sending as fast as gRPC
	// lets it.
	client := catalogv1.NewCatalogServiceClient(dial(t, lis.Addr().String()))
	first, err := client.ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Send(largestBook(0)); err != nil {
		t.Fatal(err)
	}
	// It has taken its place, and a moment later the database, before
	// the second begins.
	waitImports(t, metrics, 1)
	time.Sleep(100 * time.Millisecond)
	waitCtx, cancelWait := context.WithCancel(ctx)
	waiting, err := client.ImportBooks(waitCtx)
	if err != nil {
		t.Fatal(err)
	}
	// The first import streams for as long as the waiting client is
	// measured, up to 5,000 books (10 MB), and then ends: how many books
	// that is depends on the machine, so the test counts them. The cap
	// bounds the import's commit: under -race beside every other package,
	// 20,000 books took a minute to import.
	stopFirst := make(chan struct{})
	type result struct {
		books int
		err   error
	}
	firstSent := make(chan result, 1)
	start := time.Now()
	go func() {
		books := 1
		for books < 5_000 {
			select {
			case <-stopFirst:
				firstSent <- result{books: books}
				return
			default:
			}
			if err := first.Send(largestBook(-books)); err != nil {
				firstSent <- result{books: books, err: err}
				return
			}
			books++
		}
		firstSent <- result{books: books}
	}()
	sent := make(chan int)
	go func() {
		n := 0
		for i := 1; ; i++ {
			book := largestBook(i)
			if waiting.Send(book) != nil {
				break
			}
			n += len(book.GetBook().GetTitle()) + len(book.GetBook().GetAuthor())
		}
		sent <- n
	}()
	time.Sleep(2 * time.Second)
	cancelWait()
	n := <-sent
	close(stopFirst)
	t.Logf("a waiting import's client sent %d KiB of titles and authors in 2s", n>>10)
	if max := 384 << 10; n > max {
		t.Errorf("a waiting import's client sent %d KiB in 2s, more than %d KiB: the stream's window grows", n>>10, max>>10)
	}
	firstDone := <-firstSent
	if firstDone.err != nil {
		t.Fatal(firstDone.err)
	}
	resp, err := first.CloseAndRecv()
	if err != nil || int(resp.GetImported()) != firstDone.books {
		t.Errorf("the first import = %v, %v; want its %d books imported", resp, err, firstDone.books)
	}
	t.Logf("the first import, %d books at their largest, took %v with the waiting one beside it",
		firstDone.books, time.Since(start).Round(10*time.Millisecond))
}
