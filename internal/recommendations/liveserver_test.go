package recommendations_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// builtinCatalog returns the built-in catalog.
func builtinCatalog(tb testing.TB) *bookshop.Shelf {
	tb.Helper()
	books, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatalf("catalogfile.Builtin: %v", err)
	}
	return books
}

// trackedLive is the real LiveServer, counting the handlers that run and
// reporting each one's return.
type trackedLive struct {
	*recommendations.LiveServer
	open  atomic.Int32
	ended chan error // one value per handler that returns
}

func (t *trackedLive) LiveRecommend(stream grpc.BidiStreamingServer[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]) error {
	t.open.Add(1)
	err := t.LiveServer.LiveRecommend(stream)
	t.open.Add(-1) // before ended, which tells the test the handler is done
	t.ended <- err
	return err
}

// startLive serves live recommendations with sessions from newSession over
// real gRPC on loopback, and returns the address and the tracker.
func startLive(tb testing.TB, newSession func() *recommendations.Session) (string, *trackedLive) {
	tb.Helper()
	live := &trackedLive{ended: make(chan error, 100)}
	addr := rpctest.Start(tb, func(srv *rpc.Server, logger *slog.Logger) {
		live.LiveServer = recommendations.NewLiveServer(newSession, logger)
		recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, live)
	})
	return addr, live
}

// startBuiltinLive serves live recommendations over the built-in catalog.
func startBuiltinLive(tb testing.TB) (string, *trackedLive) {
	tb.Helper()
	books := builtinCatalog(tb)
	return startLive(tb, func() *recommendations.Session { return recommendations.NewSession(books, nil) })
}

// waitEnded waits for one handler of live to return, and returns its error.
func waitEnded(tb testing.TB, live *trackedLive, within time.Duration) error {
	tb.Helper()
	select {
	case err := <-live.ended:
		return err
	case <-time.After(within):
		tb.Fatalf("the LiveRecommend handler did not return within %v (%d open)", within, live.open.Load())
		return nil
	}
}

type liveClientStream = grpc.BidiStreamingClient[recommendationsv1.LiveRecommendRequest, recommendationsv1.LiveRecommendResponse]

// exchange sends req on stream and returns the answer, failing the test on
// error.
func exchange(tb testing.TB, stream liveClientStream, req *recommendationsv1.LiveRecommendRequest) *recommendationsv1.LiveRecommendResponse {
	tb.Helper()
	if err := stream.Send(req); err != nil {
		tb.Fatalf("Send(%v): %v", req, err)
	}
	resp, err := stream.Recv()
	if err != nil {
		tb.Fatalf("Recv after Send(%v): %v", req, err)
	}
	return resp
}

// TestLiveRecommend sends events on one stream with the generated client
// and checks every list: its size, no book viewed or dismissed, books of
// the viewed category first, and the count of events.
func TestLiveRecommend(t *testing.T) {
	books := builtinCatalog(t)
	addr, live := startBuiltinLive(t)
	client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, addr))
	stream, err := client.LiveRecommend(testContext(t))
	if err != nil {
		t.Fatalf("LiveRecommend: %v", err)
	}

	all := books.Books()
	seen := make(map[int32]bool)
	for i := range 30 {
		b := all[(i*7)%len(all)]
		typ := recommendationsv1.EventType_EVENT_TYPE_VIEWED
		if i%3 == 2 {
			typ = recommendationsv1.EventType_EVENT_TYPE_DISMISSED
		}
		max := int32(i % 6) // 0 means 4
		req := &recommendationsv1.LiveRecommendRequest{Type: typ, BookId: b.ID, UserId: 1, MaxResults: max}
		seen[b.ID] = true
		resp := exchange(t, stream, req)

		want := int(max)
		if want == 0 {
			want = 4
		}
		if got := resp.GetBooks(); len(got) != want {
			t.Fatalf("event %d: %v got %d books, want %d", i, req, len(got), want)
		}
		if got := resp.GetEvents(); got != int32(i+1) {
			t.Errorf("event %d: events = %d, want %d", i, got, i+1)
		}
		for _, r := range resp.GetBooks() {
			if seen[r.GetId()] {
				t.Fatalf("event %d: the list holds book %d, which was viewed or dismissed", i, r.GetId())
			}
			cb, err := books.Book(context.Background(), r.GetId())
			if err != nil || r.GetTitle() != cb.Title || r.GetAuthor() != cb.Author || int(r.GetYear()) != cb.Year {
				t.Errorf("event %d: book %v, want %+v (%v)", i, r, cb, err)
			}
		}
	}

	// The client closes its side: the server ends the stream with OK.
	if err := stream.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after CloseSend = %v, want io.EOF", err)
	}
	if err := waitEnded(t, live, 5*time.Second); err != nil {
		t.Errorf("LiveRecommend returned %v after CloseSend, want nil", err)
	}
}

// TestLiveRecommendCategoryFirst checks that the books of a viewed
// category come first.
func TestLiveRecommendCategoryFirst(t *testing.T) {
	books := builtinCatalog(t)
	addr, _ := startBuiltinLive(t)
	client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, addr))
	for _, cat := range bookshop.Categories() {
		t.Run(cat.String(), func(t *testing.T) {
			stream, err := client.LiveRecommend(testContext(t))
			if err != nil {
				t.Fatalf("LiveRecommend: %v", err)
			}
			inCat, _ := books.BooksInCategory(context.Background(), cat)
			req := &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: inCat[0].ID, MaxResults: 10}
			resp := exchange(t, stream, req)
			for _, r := range resp.GetBooks() {
				if b, _ := books.Book(context.Background(), r.GetId()); b.Category != cat {
					t.Errorf("after viewing a %v book, the list holds book %d of %v, want %v only", cat, r.GetId(), b.Category, cat)
				}
			}
		})
	}
}

// TestLiveRecommendInvalid checks that a bad event ends the stream with
// INVALID_ARGUMENT and a message that says what was wrong, after good
// events or as the first.
func TestLiveRecommendInvalid(t *testing.T) {
	good := &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1}
	tests := []struct {
		name      string
		req       *recommendationsv1.LiveRecommendRequest
		wantInMsg string
	}{
		{"no type", &recommendationsv1.LiveRecommendRequest{BookId: 1}, "no type"},
		{"unknown type", &recommendationsv1.LiveRecommendRequest{Type: 7, BookId: 1}, "unknown event type 7"},
		{"unknown book", &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 9999}, "9999"},
		{"book 0", &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_DISMISSED}, "id 0"},
		{"max_results past 20", &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1, MaxResults: 21}, "max_results must be from 1 to 20, got 21"},
		{"negative max_results", &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1, MaxResults: -1}, "got -1"},
	}
	addr, live := startBuiltinLive(t)
	client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, addr))
	for _, tt := range tests {
		for _, first := range []bool{true, false} {
			name := tt.name + ", after an event"
			if first {
				name = tt.name + ", first"
			}
			t.Run(name, func(t *testing.T) {
				stream, err := client.LiveRecommend(testContext(t))
				if err != nil {
					t.Fatalf("LiveRecommend: %v", err)
				}
				if !first {
					exchange(t, stream, good)
				}
				if err := stream.Send(tt.req); err != nil {
					t.Fatalf("Send(%v): %v", tt.req, err)
				}
				resp, err := stream.Recv()
				if code := status.Code(err); code != codes.InvalidArgument {
					t.Fatalf("Recv after Send(%v) = %v, %v; want INVALID_ARGUMENT", tt.req, resp, err)
				}
				if msg := status.Convert(err).Message(); !strings.Contains(msg, tt.wantInMsg) {
					t.Errorf("Send(%v) message = %q, want it to contain %q", tt.req, msg, tt.wantInMsg)
				}
				if err := waitEnded(t, live, 5*time.Second); status.Code(err) != codes.InvalidArgument {
					t.Errorf("LiveRecommend returned %v, want INVALID_ARGUMENT", err)
				}
			})
		}
	}
}

// blockingStore is a LiveStore whose Book blocks until its context is
// done, so that a Session over it blocks in Apply.
type blockingStore struct{ applying chan struct{} }

func (s blockingStore) Book(ctx context.Context, _ int32) (bookshop.Book, error) {
	close(s.applying)
	<-ctx.Done()
	return bookshop.Book{}, ctx.Err()
}

func (s blockingStore) BooksInCategory(context.Context, bookshop.Category) ([]bookshop.Book, error) {
	return nil, nil
}

// verifyNoLeaks checks, once the test and all its cleanups are done (the
// servers and connections closed), that no goroutine it started is left.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // the first cleanup runs last
}

// TestLiveRecommendClientGoesAway checks that the server's handler returns
// promptly when the client cancels its stream, whether the handler waits
// for the next event or is busy with one, so that no goroutine is left.
func TestLiveRecommendClientGoesAway(t *testing.T) {
	t.Run("waiting for an event", func(t *testing.T) {
		verifyNoLeaks(t)
		addr, live := startBuiltinLive(t)
		client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, addr))
		ctx, cancel := context.WithCancel(testContext(t))
		stream, err := client.LiveRecommend(ctx)
		if err != nil {
			t.Fatalf("LiveRecommend: %v", err)
		}
		exchange(t, stream, &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1})
		if n := live.open.Load(); n != 1 {
			t.Fatalf("%d handlers open during the stream, want 1", n)
		}
		cancel()
		if err := waitEnded(t, live, 2*time.Second); status.Code(err) != codes.Canceled {
			t.Errorf("LiveRecommend returned %v after the client cancelled, want CANCELLED", err)
		}
		if n := live.open.Load(); n != 0 {
			t.Errorf("%d handlers open after the client cancelled, want 0", n)
		}
	})
	t.Run("busy with an event", func(t *testing.T) {
		verifyNoLeaks(t)
		applying := make(chan struct{})
		addr, live := startLive(t, func() *recommendations.Session {
			return recommendations.NewSession(blockingStore{applying: applying}, nil)
		})
		client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, addr))
		ctx, cancel := context.WithCancel(testContext(t))
		stream, err := client.LiveRecommend(ctx)
		if err != nil {
			t.Fatalf("LiveRecommend: %v", err)
		}
		if err := stream.Send(&recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		<-applying
		cancel()
		if err := waitEnded(t, live, 2*time.Second); status.Code(err) != codes.Canceled {
			t.Errorf("LiveRecommend returned %v after the client cancelled, want CANCELLED", err)
		}
		if n := live.open.Load(); n != 0 {
			t.Errorf("%d handlers open after the client cancelled, want 0", n)
		}
	})
}

// TestLiveClient checks the client the Marketplace uses: events in, lists
// out, the viewed books left out, and Close ending the server's handler.
func TestLiveClient(t *testing.T) {
	addr, live := startBuiltinLive(t)
	client := recommendationsclient.NewLiveClient(dial(t, addr))
	stream, err := client.Open(testContext(t), 1, 3)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer stream.Close()

	books := builtinCatalog(t)
	viewed := make(map[int32]bool)
	next := int32(1)
	for i := range 10 {
		ev := bookshop.Event{Type: bookshop.Viewed, BookID: next}
		viewed[next] = true
		if err := stream.Send(ev); err != nil {
			t.Fatalf("Send(%+v): %v", ev, err)
		}
		got, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after Send(%+v): %v", ev, err)
		}
		if len(got) != 3 {
			t.Fatalf("event %d: %d books, want 3", i, len(got))
		}
		for _, b := range got {
			if viewed[b.ID] {
				t.Fatalf("event %d: the list holds book %d, which was viewed", i, b.ID)
			}
			if want, _ := books.Book(context.Background(), b.ID); b != want {
				t.Errorf("event %d: book %+v, want %+v", i, b, want)
			}
		}
		next = got[0].ID // the shopper follows the first recommendation
	}

	stream.Close()
	stream.Close() // twice is fine
	if err := waitEnded(t, live, 2*time.Second); status.Code(err) != codes.Canceled {
		t.Errorf("LiveRecommend returned %v after Close, want CANCELLED", err)
	}
	if _, err := stream.Recv(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("Recv after Close = %v, want an error", err)
	}
	if err := stream.Send(bookshop.Event{Type: bookshop.Viewed, BookID: 1}); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Send after Close = %v, want an Unavailable error", err)
	}
}

// TestLiveClientErrors checks the errors of the client: refused before the
// call, refused by the server, and a service that is down.
func TestLiveClientErrors(t *testing.T) {
	addr, _ := startBuiltinLive(t)
	client := recommendationsclient.NewLiveClient(dial(t, addr))

	for _, max := range []int{0, -1, 21} {
		if s, err := client.Open(testContext(t), 1, max); bookshop.ErrorCode(err) != bookshop.Invalid {
			t.Errorf("Open(max %d) = %v, %v; want an Invalid error", max, s, err)
		}
	}

	stream, err := client.Open(testContext(t), 1, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer stream.Close()
	if err := stream.Send(bookshop.Event{Type: 9, BookID: 1}); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Send(type 9) = %v, want an Invalid error", err)
	}
	// The server refuses an unknown book and ends the stream.
	if err := stream.Send(bookshop.Event{Type: bookshop.Dismissed, BookID: 4242}); err != nil {
		t.Fatalf("Send(book 4242): %v", err)
	}
	got, err := stream.Recv()
	if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), "4242") {
		t.Errorf("Recv after an unknown book = %v, %v; want an Invalid error naming the book", got, err)
	}

	// A service that is down.
	down := recommendationsclient.NewLiveClient(dial(t, rpctest.ClosedAddr(t)))
	s, err := down.Open(testContext(t), 1, 4)
	if err == nil {
		// The stream may open before the connection fails; then the
		// first Recv tells.
		defer s.Close()
		_ = s.Send(bookshop.Event{Type: bookshop.Viewed, BookID: 1})
		_, err = s.Recv()
	}
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("a service that is down: error %v, want Unavailable", err)
	}
	if msg := bookshop.ErrorMessage(err); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "refused") {
		t.Errorf("a service that is down: message %q, want no internal details", msg)
	}
}

// TestLiveClientConcurrentSend sends from several goroutines while one
// receives, as the Marketplace does (run with -race).
func TestLiveClientConcurrentSend(t *testing.T) {
	addr, _ := startBuiltinLive(t)
	client := recommendationsclient.NewLiveClient(dial(t, addr))
	stream, err := client.Open(testContext(t), 0, 2)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer stream.Close()

	const senders, each = 4, 10
	received := make(chan int, 1)
	go func() {
		n := 0
		for n < senders*each {
			if _, err := stream.Recv(); err != nil {
				t.Errorf("Recv: %v", err)
				break
			}
			n++
		}
		received <- n
	}()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				ev := bookshop.Event{Type: bookshop.Viewed, BookID: int32(1 + (g*each+i)%9)}
				if err := stream.Send(ev); err != nil {
					t.Errorf("Send(%+v): %v", ev, err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case n := <-received:
		if n != senders*each {
			t.Errorf("received %d lists, want %d", n, senders*each)
		}
	case <-testContext(t).Done():
		t.Fatal("lists did not all arrive")
	}
}

// TestLiveClientRefused checks that Open itself tells a stream the server
// refuses, past its caps, as Exhausted, so that the Marketplace can answer
// its browser at once rather than after its event stream began; and that
// a stream it took is open before its first event.
func TestLiveClientRefused(t *testing.T) {
	c := startChild(t, 2, 1) // one stream of a caller
	client := recommendationsclient.NewLiveClient(dial(t, c.addr))
	first, err := client.Open(testContext(t), 1, 4)
	if err != nil {
		t.Fatalf("Open, the first stream: %v", err)
	}
	defer first.Close()
	second, err := client.Open(testContext(t), 1, 4)
	if err == nil {
		second.Close()
		t.Fatal("Open past the caller's cap = a stream, want an Exhausted error")
	}
	if bookshop.ErrorCode(err) != bookshop.Exhausted || !strings.Contains(bookshop.ErrorMessage(err), "live streams") {
		t.Errorf("Open past the caller's cap = %v, want an Exhausted error that says why", err)
	}
	// The first still works.
	if err := first.Send(bookshop.Event{Type: bookshop.Viewed, BookID: 1}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if _, err := first.Recv(); err != nil {
		t.Fatalf("Recv: %v", err)
	}
}

// TestLiveRecommendFlooded checks that a client that sends events faster
// than the server answers them, and reads none of their lists until it
// has sent 2,000, gets the lists of the events the server took, if any,
// and then RESOURCE_EXHAUSTED, once more than MaxPendingEvents events
// waited: the server reads what the client sends as it comes, and keeps
// no more. (Before, the events waited, unread, in grpc-go's buffers, and
// the client's sends waited once they were full.)
func TestLiveRecommendFlooded(t *testing.T) {
	addr, live := startBuiltinLive(t)
	// Windows that only the client's reading opens: the server's sends
	// wait once they are full.
	client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, addr, grpc.WithStaticStreamWindowSize(64<<10)))
	stream, err := client.LiveRecommend(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(2000) {
		req := &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: i%2 + 1, MaxResults: 20}
		if err := stream.Send(req); errors.Is(err, io.EOF) {
			break // the server ended the stream: Recv has its status
		} else if err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	lists := 0
	for ; ; lists++ {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "read the lists") {
		t.Errorf("after %d lists: %v, want RESOURCE_EXHAUSTED saying to read the lists", lists, err)
	}
	t.Logf("%d lists before the end", lists)
	if err := waitEnded(t, live, 5*time.Second); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("LiveRecommend returned %v, want RESOURCE_EXHAUSTED", err)
	}
}
