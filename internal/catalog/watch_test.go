package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// startService serves svc as CatalogService over real gRPC on loopback and
// returns its address.
func startService(tb testing.TB, svc *catalog.Service) string {
	tb.Helper()
	return rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		catalogv1.RegisterCatalogServiceServer(srv, catalog.NewServer(svc, logger))
	})
}

// newBooks returns n valid books to import, without ids, with titles that
// start with prefix.
func newBooks(prefix string, n int) []bookshop.ImportItem {
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		items[i] = bookshop.ImportItem{Line: i + 2, Book: bookshop.Book{
			Category: bookshop.Category(i % 3), Title: fmt.Sprintf("%s %d", prefix, i), Author: "Watch Test", Year: 2001, Price: testPrice,
		}}
	}
	return items
}

// importBooks imports items through svc and fails the test unless all of
// them are imported.
func importBooks(tb testing.TB, svc *catalog.Service, items []bookshop.ImportItem) bookshop.ImportResult {
	tb.Helper()
	res, err := svc.ImportBooks(testContext(tb), "", items)
	if err != nil {
		tb.Fatalf("ImportBooks: %v", err)
	}
	if res.Imported != len(items) || len(res.Rejected) != 0 || len(res.Books) != len(items) {
		tb.Fatalf("ImportBooks of %d books = %d imported, %d books, rejected %v; want all imported", len(items), res.Imported, len(res.Books), res.Rejected)
	}
	return res
}

// watch runs client.Watch in a goroutine until ctx ends, sending what the
// callbacks get on the returned channels, and Watch's error on the last.
func watch(ctx context.Context, client *catalogclient.Client) (snapshots, added <-chan []bookshop.Book, done <-chan error) {
	s, a, d := make(chan []bookshop.Book, 1), make(chan []bookshop.Book, 16), make(chan error, 1)
	go func() {
		d <- client.Watch(ctx,
			func(books []bookshop.Book) error { s <- books; return nil },
			func(books []bookshop.Book) error { a <- books; return nil })
	}()
	return s, a, d
}

// receive returns the next value of ch, failing the test after 5s.
func receive[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		tb.Fatalf("no %s within 5s", what)
		panic("unreachable")
	}
}

func bookIDs(books []bookshop.Book) []int32 {
	out := make([]int32, len(books))
	for i, b := range books {
		out[i] = b.ID
	}
	return out
}

// TestWatchBooks follows a catalog of several snapshot messages through
// the client: a whole snapshot first, then each import as one batch.
func TestWatchBooks(t *testing.T) {
	seed := builtinBooks(t)
	for i := range 1200 {
		seed = append(seed, bookshop.Book{ID: int32(1000 + i), Category: bookshop.Category(i % 3), Title: fmt.Sprintf("Seeded %d", i), Author: "Test", Year: 2000, Price: testPrice})
	}
	db := openDB(t, seed)
	svc := catalog.NewService(db, "", 0, nil)
	client := catalogclient.New(dial(t, startService(t, svc)), time.Second)

	ctx, cancel := context.WithCancel(testContext(t))
	snapshots, added, done := watch(ctx, client)
	snapshot := receive(t, snapshots, "snapshot")
	if !slices.Equal(snapshot, db.All()) {
		t.Fatalf("snapshot holds %d books (ids %v...), want the catalog's %d", len(snapshot), bookIDs(snapshot[:min(5, len(snapshot))]), len(db.All()))
	}

	for round := range 2 {
		res := importBooks(t, svc, newBooks(fmt.Sprintf("Round %d", round), 3))
		got := receive(t, added, "added batch")
		if !slices.Equal(got, res.Books) {
			t.Errorf("import %d: added %v, want the imported books %v", round, got, res.Books)
		}
		for _, b := range got {
			if b.ID <= 2199 {
				t.Errorf("import %d: added book id %d, want a new id", round, b.ID)
			}
		}
	}
	select {
	case extra := <-added:
		t.Errorf("added %v, want nothing more", extra)
	case err := <-done:
		t.Fatalf("Watch ended early: %v", err)
	case <-time.After(100 * time.Millisecond):
	}

	cancel()
	if err := receive(t, done, "end of Watch"); !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel = %v, want context.Canceled", err)
	}
}

// TestWatchBooksMessages reads the WatchBooks stream itself: the snapshot
// in batches of at most WatchBatchBooks, only the last marked
// snapshot_complete, then an import in a message of its own; and books at
// their largest, 2 KB, in messages of at most 4 KiB.
func TestWatchBooksMessages(t *testing.T) {
	seed := builtinBooks(t)
	for i := range 1200 {
		seed = append(seed, bookshop.Book{ID: int32(1000 + i), Category: bookshop.Category(i % 3), Title: fmt.Sprintf("Seeded %d", i), Author: "Test", Year: 2000, Price: testPrice})
	}
	db := openDB(t, seed)
	svc := catalog.NewService(db, "", 0, nil)
	stream, err := catalogv1.NewCatalogServiceClient(dial(t, startService(t, svc))).WatchBooks(testContext(t), &catalogv1.WatchBooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var snapshot []bookshop.Book
	for messages := 1; ; messages++ {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("message %d: %v", messages, err)
		}
		if n := len(resp.GetBooks()); n == 0 || n > catalog.WatchBatchBooks {
			t.Errorf("message %d holds %d books, want 1 to %d", messages, n, catalog.WatchBatchBooks)
		}
		for _, b := range resp.GetBooks() {
			snapshot = append(snapshot, catalogclient.BookFromProto(b))
		}
		if resp.GetSnapshotComplete() {
			if want := (len(seed) + catalog.WatchBatchBooks - 1) / catalog.WatchBatchBooks; messages != want {
				t.Errorf("snapshot_complete on message %d, want on message %d of %d books", messages, want, len(seed))
			}
			break
		}
	}
	if !slices.Equal(snapshot, db.All()) {
		t.Fatalf("snapshot holds %d books, want the catalog's %d in id order", len(snapshot), db.Len())
	}

	res := importBooks(t, svc, newBooks("After", 2))
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetSnapshotComplete() {
		t.Error("the message of an import is marked snapshot_complete")
	}
	var got []int32
	for _, b := range resp.GetBooks() {
		got = append(got, b.GetId())
	}
	if want := bookIDs(res.Books); !slices.Equal(got, want) {
		t.Errorf("message after the import holds ids %v, want %v", got, want)
	}

	var large []bookshop.ImportItem
	for i := range 5 {
		large = append(large, bookshop.ImportItem{Book: catalogclient.BookFromProto(largestBook(i).GetBook())})
	}
	importBooks(t, svc, large)
	for books := 0; books < len(large); {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if size := proto.Size(resp); size > 4<<10 || len(resp.GetBooks()) == 0 {
			t.Errorf("a message of %d of the largest books is %d bytes, want 1 book or more in at most 4 KiB", len(resp.GetBooks()), size)
		}
		books += len(resp.GetBooks())
		if last := books == len(large); resp.GetChangeComplete() != last {
			t.Errorf("%d of %d large books: change_complete %v, want %v", books, len(large), resp.GetChangeComplete(), last)
		}
	}
}

// TestWatchBooksEmptyCatalog checks that an empty catalog is one empty
// message marked snapshot_complete, and that imports follow it.
func TestWatchBooksEmptyCatalog(t *testing.T) {
	svc := catalog.NewService(openDB(t, nil), "", 0, nil)
	stream, err := catalogv1.NewCatalogServiceClient(dial(t, startService(t, svc))).WatchBooks(testContext(t), &catalogv1.WatchBooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetBooks()) != 0 || !resp.GetSnapshotComplete() {
		t.Fatalf("first message of an empty catalog = %d books, snapshot_complete %v; want 0 books, snapshot_complete", len(resp.GetBooks()), resp.GetSnapshotComplete())
	}
	res := importBooks(t, svc, newBooks("First", 1))
	resp, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetBooks()) != 1 || resp.GetBooks()[0].GetId() != res.Books[0].ID || resp.GetSnapshotComplete() {
		t.Errorf("message after the first import = %v, want book %d alone, not snapshot_complete", resp, res.Books[0].ID)
	}

	// The client hands the empty snapshot on as such.
	client := catalogclient.New(dial(t, startService(t, catalog.NewService(openDB(t, nil), "", 0, nil))), time.Second)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	snapshots, _, _ := watch(ctx, client)
	if got := receive(t, snapshots, "snapshot"); len(got) != 0 {
		t.Errorf("snapshot of an empty catalog = %v, want none", got)
	}
}

// TestWatchBooksFallsBehind checks that a watcher that does not read while
// the feed moves past it ends with UNAVAILABLE, not with a gap in its
// copy. The client's flow-control windows are fixed small, so that the
// server blocks sending the first large import; the feed keeps only the
// last import; two more imports then leave the watcher behind.
func TestWatchBooksFallsBehind(t *testing.T) {
	db := openDB(t, builtinBooks(t))
	svc := catalog.NewService(db, "", 1, nil)
	conn := dial(t, startService(t, svc), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	stream, err := catalogv1.NewCatalogServiceClient(conn).WatchBooks(testContext(t), &catalogv1.WatchBooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSnapshotComplete() {
			break
		}
	}
	// About 500 kB: far more than the client's window and the server's
	// write buffers hold.
	big := make([]bookshop.ImportItem, 1000)
	for i := range big {
		big[i] = bookshop.ImportItem{Book: bookshop.Book{
			Category: bookshop.Mystery, Title: fmt.Sprintf("%d %s", i, strings.Repeat("t", bookshop.MaxTitleLen-10)),
			Author: strings.Repeat("a", bookshop.MaxAuthorLen), Year: 1999, Price: testPrice,
		}}
	}
	importBooks(t, svc, big)
	importBooks(t, svc, newBooks("Second", 1))
	importBooks(t, svc, newBooks("Third", 1))

	received := 0
	for {
		resp, err := stream.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "watch again") {
				t.Fatalf("watch that fell behind ended with %v, want UNAVAILABLE, watch again", err)
			}
			break
		}
		received += len(resp.GetBooks())
	}
	if received > len(big) {
		t.Errorf("the watcher that fell behind received %d books, more than the first import's %d: it skipped ahead", received, len(big))
	}
}

// TestServiceWatchFallsBehind is TestWatchBooksFallsBehind on the Service
// itself: a watcher blocked in its snapshot callback during two imports,
// with a feed of one book, cannot catch up.
func TestServiceWatchFallsBehind(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 1, nil)
	inSnapshot, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	var added [][]bookshop.Book
	go func() {
		done <- svc.Watch(testContext(t),
			func([]bookshop.Book) error { close(inSnapshot); <-release; return nil },
			func(books []bookshop.Book) error { added = append(added, books); return nil })
	}()
	receive(t, inSnapshot, "snapshot")
	importBooks(t, svc, newBooks("First", 1))
	importBooks(t, svc, newBooks("Second", 1))
	close(release)
	err := receive(t, done, "end of Watch")
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Watch that fell behind = %v, want Unavailable", err)
	}
	if len(added) != 0 {
		t.Errorf("Watch that fell behind added %v, want nothing", added)
	}
}

// TestStopWatches checks that StopWatches ends a watch in progress, and
// any later one, with Unavailable, through the client.
func TestStopWatches(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	client := catalogclient.New(dial(t, startService(t, svc)), time.Second)
	snapshots, _, done := watch(testContext(t), client)
	receive(t, snapshots, "snapshot")
	svc.StopWatches()
	if err := receive(t, done, "end of Watch"); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Watch after StopWatches = %v, want Unavailable", err)
	}
	_, _, done = watch(testContext(t), client)
	if err := receive(t, done, "end of a later Watch"); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Watch started after StopWatches = %v, want Unavailable", err)
	}
}

// TestServiceMaxWatches checks that past MaxWatches at once a watch is
// refused with Unavailable, and that a watch that ends makes room.
func TestServiceMaxWatches(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	snapshots, done := make(chan struct{}, catalog.MaxWatches), make(chan error, catalog.MaxWatches)
	cancels := make([]context.CancelFunc, catalog.MaxWatches)
	for i := range catalog.MaxWatches {
		wctx, wcancel := context.WithCancel(ctx)
		cancels[i] = wcancel
		go func() {
			done <- svc.Watch(wctx, func([]bookshop.Book) error { snapshots <- struct{}{}; return nil }, func([]bookshop.Book) error { return nil })
		}()
	}
	for range catalog.MaxWatches {
		receive(t, snapshots, "snapshot")
	}
	noop := func([]bookshop.Book) error { return nil }
	if err := svc.Watch(ctx, noop, noop); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Fatalf("watch %d = %v, want Unavailable", catalog.MaxWatches+1, err)
	}
	cancels[0]()
	if err := receive(t, done, "end of a cancelled watch"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled watch = %v, want context.Canceled", err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	got := make(chan error, 1)
	go func() { got <- svc.Watch(wctx, func([]bookshop.Book) error { wcancel(); return nil }, noop) }()
	if err := receive(t, got, "end of the watch that took the free place"); !errors.Is(err, context.Canceled) {
		t.Errorf("watch after one ended = %v, want it served (then cancelled)", err)
	}
	cancel()
	for range catalog.MaxWatches - 1 {
		receive(t, done, "end of a watch")
	}
}

// TestWatchBooksLargeImport checks that an import larger than one message
// comes as several, only the last marked change_complete, and that the
// client hands it to its follower whole, in one call.
func TestWatchBooksLargeImport(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	addr := startService(t, svc)

	raw, err := catalogv1.NewCatalogServiceClient(dial(t, addr)).WatchBooks(testContext(t), &catalogv1.WatchBooksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := raw.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSnapshotComplete() {
			break
		}
	}

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	snapshotted := make(chan struct{})
	var got [][]bookshop.Book
	watched := make(chan error, 1)
	go func() {
		watched <- catalogclient.New(dial(t, addr), time.Second).Watch(ctx,
			func([]bookshop.Book) error { close(snapshotted); return nil },
			func(books []bookshop.Book) error { got = append(got, books); cancel(); return nil })
	}()
	<-snapshotted

	const n = 2*catalog.ExportBatchSize + 200
	res := importBooks(t, svc, newBooks("Large", n))
	if res.Imported != n {
		t.Fatalf("imported %d, want %d", res.Imported, n)
	}
	for messages, books := 1, 0; books < n; messages++ {
		resp, err := raw.Recv()
		if err != nil {
			t.Fatal(err)
		}
		books += len(resp.GetBooks())
		if last := books == n; resp.GetChangeComplete() != last {
			t.Errorf("message %d (%d of %d books): change_complete %v, want %v", messages, books, n, resp.GetChangeComplete(), last)
		}
	}
	if err := <-watched; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch = %v, want context.Canceled", err)
	}
	if len(got) != 1 || len(got[0]) != n {
		var sizes []int
		for _, g := range got {
			sizes = append(sizes, len(g))
		}
		t.Errorf("added was called with batches of %v books, want one of %d", sizes, n)
	}
}

// TestWatchLimit checks that a client with a limit stops as soon as the
// catalog sends more books at once than it may hold.
func TestWatchLimit(t *testing.T) {
	svc := catalog.NewService(openDB(t, builtinBooks(t)), "", 0, nil)
	client := catalogclient.New(dial(t, startService(t, svc)), time.Second).WithWatchLimit(10)
	err := client.Watch(testContext(t),
		func([]bookshop.Book) error { t.Error("snapshot called past the limit"); return nil },
		func([]bookshop.Book) error { return nil })
	var tooMany *catalogclient.TooManyBooksError
	if !errors.As(err, &tooMany) || tooMany.Limit != 10 {
		t.Errorf("Watch with a limit of 10 over %d books = %v, want a TooManyBooksError of 10", len(builtinBooks(t)), err)
	}
}
