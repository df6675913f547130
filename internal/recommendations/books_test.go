package recommendations_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// discard is a logger that writes nothing.
var discard = slog.New(slog.DiscardHandler)

// catalogServer is a real Catalog served over gRPC on a fixed loopback
// address, which a test can stop and start again.
type catalogServer struct {
	tb   testing.TB
	db   *sqlite.DB
	addr string

	svc  *catalog.Service // of the server running; nil when stopped
	stop func()
}

// startCatalogServer opens an in-memory catalog seeded with seed and
// serves it on a free loopback port until the test ends.
func startCatalogServer(tb testing.TB, seed []bookshop.Book) *catalogServer {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), sqlite.Memory, seed)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	c := &catalogServer{tb: tb, db: db, addr: "127.0.0.1:0"}
	c.start()
	tb.Cleanup(func() {
		if c.svc != nil {
			c.shutdown()
		}
	})
	return c
}

// start serves a new Service over the database at c.addr, as catalog.Run
// does.
func (c *catalogServer) start() {
	c.tb.Helper()
	lis, err := net.Listen("tcp", c.addr)
	if err != nil {
		c.tb.Fatalf("listen: %v", err)
	}
	c.addr = lis.Addr().String()
	c.svc = catalog.NewService(c.db, "", 0, nil)
	srv, err := catalog.NewGRPCServer(c.svc, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		c.tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	svc := c.svc
	c.stop = func() {
		svc.StopWatches()
		cancel()
		if err := <-done; err != nil {
			c.tb.Errorf("Catalog server: %v", err)
		}
	}
}

// shutdown stops the server as catalog.Run does: watches end first.
func (c *catalogServer) shutdown() {
	c.stop()
	c.svc = nil
}

// importBooks imports n new books of category cat through the running
// Catalog, and returns them as written.
func (c *catalogServer) importBooks(prefix string, cat bookshop.Category, n int) []bookshop.Book {
	c.tb.Helper()
	items := make([]bookshop.ImportItem, n)
	for i := range items {
		items[i] = bookshop.ImportItem{Book: bookshop.Book{Category: cat, Title: fmt.Sprintf("%s %d", prefix, i), Author: "Follow Test", Year: 2020,
			Price: bookshop.Money{Units: 1299, Currency: "EUR"}}}
	}
	res, err := c.svc.ImportBooks(testContext(c.tb), "", items)
	if err != nil || res.Imported != n {
		c.tb.Fatalf("ImportBooks = %+v, %v; want %d imported", res, err, n)
	}
	return res.Books
}

// follow makes a Books that follows the Catalog at addr until the test
// ends, and waits until it is ready.
func follow(tb testing.TB, addr string) *recommendations.Books {
	tb.Helper()
	books := recommendations.NewBooks(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		books.Follow(ctx, catalogclient.New(dial(tb, addr), time.Second), discard)
	}()
	tb.Cleanup(func() { cancel(); <-done })
	select {
	case <-books.Ready():
	case <-time.After(5 * time.Second):
		tb.Fatal("Books not ready 5s after Follow began")
	}
	return books
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holds reports whether books holds every book of want, as it is.
func holds(tb testing.TB, books *recommendations.Books, want []bookshop.Book) bool {
	tb.Helper()
	for _, w := range want {
		got, err := books.Book(context.Background(), w.ID)
		if err != nil || got != w {
			return false
		}
		inCat, _ := books.BooksInCategory(context.Background(), w.Category)
		if !slices.Contains(inCat, w) {
			return false
		}
	}
	return true
}

// TestBooksFollowsCatalog follows a real Catalog over gRPC: the snapshot
// makes Books ready and Recommend answers from it; an import shows up soon
// after; and when the Catalog stops and comes back, Books keeps answering
// meanwhile and then follows it again.
func TestBooksFollowsCatalog(t *testing.T) {
	seed := builtin(t).Books()
	cat := startCatalogServer(t, seed)
	books := follow(t, cat.addr)

	if books.Len() != len(seed) {
		t.Fatalf("Books holds %d books when ready, want the catalog's %d", books.Len(), len(seed))
	}
	for _, c := range []bookshop.Category{bookshop.Mystery, bookshop.ScienceFiction, bookshop.SelfHelp} {
		want, _ := cat.db.BooksInCategory(context.Background(), c)
		if got := inCategory(t, books, c); !slices.Equal(got, want) {
			t.Errorf("BooksInCategory(%v) = ids %v, want %v", c, ids(got), ids(want))
		}
	}
	rec := recommendations.New(books, nil)
	req := bookshop.RecommendRequest{Category: bookshop.SelfHelp, MaxResults: 1000}
	got, err := rec.Recommend(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	checkPicked(t, req, got, inCategory(t, books, bookshop.SelfHelp))
	if len(got) != 15 {
		t.Errorf("Recommend(%+v) returned %d books, want the 15 self-help books", req, len(got))
	}

	added := cat.importBooks("Imported", bookshop.SelfHelp, 3)
	waitFor(t, "the imported books in Books", func() bool { return holds(t, books, added) })
	if got, err := rec.Recommend(testContext(t), req); err != nil || len(got) != 18 {
		t.Errorf("Recommend(%+v) after the import = %d books, %v; want 18", req, len(got), err)
	}

	cat.shutdown()
	if got := inCategory(t, books, bookshop.SelfHelp); len(got) != 18 {
		t.Errorf("with the Catalog down, Books holds %d self-help books, want the 18 it had", len(got))
	}
	cat.start()
	// Books follows the new server only once it has watched again:
	// imports before then are in its next snapshot, after it in the feed.
	again := cat.importBooks("After restart", bookshop.Mystery, 2)
	waitFor(t, "the books imported after the restart in Books", func() bool { return holds(t, books, again) })
	if n := books.Len(); n != len(seed)+5 {
		t.Errorf("Books holds %d books after the restart, want %d", n, len(seed)+5)
	}
	more := cat.importBooks("Later", bookshop.ScienceFiction, 1)
	waitFor(t, "a later import in Books", func() bool { return holds(t, books, more) })
}

// scriptedFeed is a BookFeed whose watches the test plays one by one:
// each Watch takes the next script, which calls the callbacks and returns
// Watch's error.
type scriptedFeed struct {
	scripts chan func(snapshot, added func([]bookshop.Book) error) error
	mu      sync.Mutex
	watches int
}

func (f *scriptedFeed) Watch(ctx context.Context, snapshot, added func([]bookshop.Book) error) error {
	f.mu.Lock()
	f.watches++
	f.mu.Unlock()
	select {
	case script := <-f.scripts:
		return script(snapshot, added)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestBooksFollowWatchesAgain checks, with a hand-written feed, that a
// watch that ends is watched again, and that the new snapshot replaces the
// whole copy: a book no longer in it is gone.
func TestBooksFollowWatchesAgain(t *testing.T) {
	first := []bookshop.Book{
		{ID: 1, Category: bookshop.Mystery, Title: "A", Author: "X", Year: 2000},
		{ID: 2, Category: bookshop.Mystery, Title: "B", Author: "X", Year: 2000},
	}
	feed := &scriptedFeed{scripts: make(chan func(snapshot, added func([]bookshop.Book) error) error, 2)}
	books := recommendations.NewBooks(0)
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan struct{})
	go func() { defer close(done); books.Follow(ctx, feed, discard) }()

	select {
	case <-books.Ready():
		t.Fatal("Books ready before any snapshot")
	case <-time.After(50 * time.Millisecond):
	}
	feed.scripts <- func(snapshot, added func([]bookshop.Book) error) error {
		if err := snapshot(slices.Clone(first)); err != nil {
			return err
		}
		if err := added([]bookshop.Book{{ID: 3, Category: bookshop.SelfHelp, Title: "C", Author: "Y", Year: 2001}}); err != nil {
			return err
		}
		return bookshop.Errorf(bookshop.Unavailable, "the catalog went away")
	}
	select {
	case <-books.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("Books not ready 5s after the snapshot")
	}
	waitFor(t, "book 3 added", func() bool { return books.Len() == 3 })

	// The second watch: book 2 is no longer in the catalog.
	second := []bookshop.Book{first[0], {ID: 3, Category: bookshop.SelfHelp, Title: "C", Author: "Y", Year: 2001}}
	feed.scripts <- func(snapshot, _ func([]bookshop.Book) error) error {
		if err := snapshot(slices.Clone(second)); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}
	waitFor(t, "the second snapshot", func() bool {
		_, err := books.Book(context.Background(), 2)
		return bookshop.ErrorCode(err) == bookshop.NotFound
	})
	if got := inCategory(t, books, bookshop.Mystery); !slices.Equal(ids(got), []int32{1}) {
		t.Errorf("mystery books after the second snapshot = %v, want [1]", ids(got))
	}
	if books.Len() != 2 {
		t.Errorf("Books holds %d books after the second snapshot, want 2", books.Len())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Follow still running 5s after its context ended")
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	if feed.watches != 2 {
		t.Errorf("Follow watched %d times, want 2", feed.watches)
	}
}

// gatedFeed is a BookFeed that gives its books only once open is closed.
type gatedFeed struct {
	open  chan struct{}
	books []bookshop.Book
}

func (f gatedFeed) Watch(ctx context.Context, snapshot, _ func([]bookshop.Book) error) error {
	select {
	case <-f.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return recommendations.StaticBooks(f.books).Watch(ctx, snapshot, nil)
}

// TestGRPCServerHealth checks that Recommendations' gRPC server is
// NOT_SERVING until its Books holds a snapshot, then SERVING, and answers
// from the books.
func TestGRPCServerHealth(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	books := recommendations.NewBooks(0)
	srv, err := recommendations.NewGRPCServer(books, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, lis) }()
	feed := gatedFeed{open: make(chan struct{}), books: builtin(t).Books()}
	following := make(chan struct{})
	go func() { defer close(following); books.Follow(ctx, feed, discard) }()
	t.Cleanup(func() {
		cancel()
		<-following
		if err := <-served; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	conn := dial(t, lis.Addr().String())
	health := grpc_health_v1.NewHealthClient(conn)
	services := []string{"", "Recommendations", "bookshop.recommendations.v1.LiveRecommendationsService"}
	for _, s := range services {
		resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: s})
		if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
			t.Errorf("Health.Check(%q) before the books = %v, %v; want NOT_SERVING", s, resp.GetStatus(), err)
		}
	}
	watch, err := health.Watch(testContext(t), &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Health.Watch first status = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}

	close(feed.open)
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("Health.Watch after the snapshot = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	for _, s := range services {
		resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: s})
		if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("Health.Check(%q) after the snapshot = %v, %v; want SERVING", s, resp.GetStatus(), err)
		}
	}
	resp, err := recommendationspb.NewRecommendationsClient(conn).Recommend(testContext(t), &recommendationspb.RecommendationRequest{Category: recommendationspb.BookCategory_SELF_HELP, MaxResults: 100})
	if err != nil || len(resp.GetRecommendations()) != 15 {
		t.Errorf("Recommend(SELF_HELP, 100) = %d books, %v; want the 15 self-help books", len(resp.GetRecommendations()), err)
	}
	live, err := recommendationsv1.NewLiveRecommendationsServiceClient(conn).LiveRecommend(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	lresp := exchange(t, live, &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 5, MaxResults: 3})
	if len(lresp.GetBooks()) != 3 {
		t.Errorf("LiveRecommend after viewing book 5 = %d books, want 3", len(lresp.GetBooks()))
	}
	live.CloseSend()
	// A negative max_results is refused.
	_, err = recommendationspb.NewRecommendationsClient(conn).Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: -1})
	if bookshop.ErrorCode(rpc.FromStatus(err)) != bookshop.Invalid {
		t.Errorf("Recommend(max_results -1) = %v, want INVALID_ARGUMENT", err)
	}
}

// errFeed is a BookFeed whose watches fail at once.
type errFeed struct{}

func (errFeed) Watch(context.Context, func([]bookshop.Book) error, func([]bookshop.Book) error) error {
	return errors.New("no catalog")
}

// TestBooksNotReadyWithoutSnapshot checks that a feed that never gives a
// snapshot leaves Books not ready and empty, and Follow returns when its
// context ends.
func TestBooksNotReadyWithoutSnapshot(t *testing.T) {
	books := recommendations.NewBooks(0)
	ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
	defer cancel()
	books.Follow(ctx, errFeed{}, discard)
	select {
	case <-books.Ready():
		t.Error("Books ready without a snapshot")
	default:
	}
	if books.Len() != 0 {
		t.Errorf("Books holds %d books without a snapshot, want 0", books.Len())
	}
}

// TestLiveStreamEndsAtShutdown shuts a Recommendations server down with a
// LiveRecommend stream open: the stream ends at once with UNAVAILABLE,
// saying to open it again, and the server stops as soon as it has, not
// after its 10 s drain timeout.
func TestLiveStreamEndsAtShutdown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	books := recommendations.NewBooks(0)
	srv, err := recommendations.NewGRPCServer(books, process.Deps{Logger: discard, DrainTimeout: 10 * time.Second, Listener: lis})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, lis) }()
	following := make(chan struct{})
	go func() {
		defer close(following)
		books.Follow(ctx, recommendations.StaticBooks(builtin(t).Books()), discard)
	}()
	defer func() { <-following }()
	<-books.Ready() // before, the stream's first event finds no books

	stream, err := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, lis.Addr().String())).LiveRecommend(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("the first list: %v", err)
	}

	start := time.Now()
	cancel()
	_, err = stream.Recv()
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "open the stream again") {
		t.Errorf("the stream at shutdown ended with %v, want UNAVAILABLE saying to open it again", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the server took %v to stop with a live stream open, want well under its 10s drain timeout", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop")
	}
}
