package recommendations_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// serveEnv, set in its environment to "streams,per-caller", makes the
// test binary a child process that runs Recommendations with those caps
// on live streams (see startChild).
const serveEnv = "RECOMMENDATIONS_TEST_SERVE"

// childBooks is the catalog of the child process: enough books that a
// session can remember recommendations.MaxSessionBooks of them.
const childBooks = 3 * recommendations.MaxSessionBooks

func TestMain(m *testing.M) {
	if caps := os.Getenv(serveEnv); caps != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			cfg := recommendations.DefaultConfig()
			if _, err := fmt.Sscanf(caps, "%d,%d", &cfg.MaxLiveStreams, &cfg.MaxLiveStreamsPerCaller); err != nil {
				return fmt.Errorf("%s=%q: %v", serveEnv, caps, err)
			}
			// What the child holds, for the parent to read.
			heldLis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			go http.Serve(heldLis, memtest.Handler()) //nolint:errcheck // ends with the process
			fmt.Printf("held http://%s/\n", heldLis.Addr())
			books := make([]bookshop.Book, childBooks)
			for i := range books {
				books[i] = bookshop.Book{ID: int32(i + 1), Category: bookshop.Category(i % 3), Title: fmt.Sprintf("Book %d", i+1), Author: "Author", Year: 2000,
					Price: bookshop.Money{Units: 999, Currency: bookshop.DefaultCurrency}}
			}
			return recommendations.Run(ctx, cfg, recommendations.Deps{
				Deps: process.Deps{Logger: slog.New(slog.DiscardHandler), Metrics: telemetry.NewMetrics(),
					DrainTimeout: time.Second, Listener: lis},
				Books: recommendations.StaticBooks(books),
			})
		}))
	}
	os.Exit(m.Run())
}

// child is Recommendations running in a child process of the test, so
// that what it holds is not mixed with what the test's clients hold.
type child struct {
	addr string // its gRPC address
	held string // the URL of its memtest.Handler
}

// startChild runs Recommendations in a child process with caps of
// streams live streams in all and perCaller of one caller, and waits
// until it serves.
func startChild(tb testing.TB, streams, perCaller int) child {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, fmt.Sprintf("%s=%d,%d", serveEnv, streams, perCaller))
	held, ok := strings.CutPrefix(proc.Line(tb), "held ")
	if !ok {
		tb.Fatal("the child process did not say where to read what it holds")
	}
	c := child{addr: addr, held: held}
	// Serving once it holds the books.
	recs := recommendationspb.NewRecommendationsClient(dial(tb, addr))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := recs.Recommend(testContext(tb), &recommendationspb.RecommendationRequest{MaxResults: 1}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatal("the child's live streams did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// heldBytes returns what the child holds (memtest.Held).
func (c child) heldBytes(tb testing.TB) uint64 {
	tb.Helper()
	n, err := memtest.ReadHeld(c.held)
	if err != nil {
		tb.Fatalf("read what the child holds: %v", err)
	}
	return n
}

// open opens a live stream and sends it one event, and returns the stream
// once its answer has come, or the stream's error.
func (c child) open(tb testing.TB, client recommendationsv1.LiveRecommendationsServiceClient) (recommendationsv1.LiveRecommendationsService_LiveRecommendClient, error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	stream, err := client.LiveRecommend(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1}); err != nil {
		_, err = stream.Recv()
		return nil, err
	}
	if _, err := stream.Recv(); err != nil {
		return nil, err
	}
	return stream, nil
}

// TestLiveStreamMemory opens live streams on one connection, as the
// Marketplace does, and checks what each holds on the server: with its
// Session at its fullest (recommendations.SessionBytes, TestSessionMemory)
// at most recommendations.LiveStreamBytes, the figure docs/capacity.md
// budgets with. The server is a child process, so that the test's own
// clients do not count.
func TestLiveStreamMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("opens 1,000 streams")
	}
	const n = 1000
	c := startChild(t, recommendations.DefaultMaxLiveStreams, 0)
	client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, c.addr))
	before := c.heldBytes(t)
	for i := range n {
		if _, err := c.open(t, client); err != nil {
			t.Fatalf("live stream %d: %v", i+1, err)
		}
	}
	each := (c.heldBytes(t) - before) / n
	t.Logf("%d live streams: %d bytes each on the server, with a session of one event; %d with a full one", n, each, each+recommendations.SessionBytes)
	if each+recommendations.SessionBytes > recommendations.LiveStreamBytes {
		t.Errorf("a live stream holds %d bytes, and its session up to %d: more than recommendations.LiveStreamBytes, %d", each, recommendations.SessionBytes, recommendations.LiveStreamBytes)
	}
	if count, bytes := memtest.Documented(t, "Recommendations", "live streams"); count != recommendations.DefaultMaxLiveStreams || bytes != recommendations.LiveStreamBytes {
		t.Errorf("docs/capacity.md budgets %d live streams of %d bytes, want the default cap, %d, of recommendations.LiveStreamBytes, %d", count, bytes, recommendations.DefaultMaxLiveStreams, recommendations.LiveStreamBytes)
	}
}

// TestLiveStreamCaps checks the caps on live streams: a caller (here a
// client address) past its own gets RESOURCE_EXHAUSTED at once, another
// caller opens more up to the cap on all, and a stream that ends gives
// its place back.
func TestLiveStreamCaps(t *testing.T) {
	c := startChild(t, 6, 4)
	// from dials the child from a loopback address of its own: a caller.
	from := func(ip string) recommendationsv1.LiveRecommendationsServiceClient {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		conn := dial(t, c.addr, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}))
		return recommendationsv1.NewLiveRecommendationsServiceClient(conn)
	}
	a, b := from("127.0.0.1"), from("127.0.0.2")
	opened := 0
	open := func(client recommendationsv1.LiveRecommendationsServiceClient, want codes.Code) recommendationsv1.LiveRecommendationsService_LiveRecommendClient {
		t.Helper()
		stream, err := c.open(t, client)
		if status.Code(err) != want {
			t.Fatalf("a live stream with %d open = %v, want %v", opened, err, want)
		}
		if err == nil {
			opened++
		} else if !strings.Contains(status.Convert(err).Message(), "live streams") {
			t.Errorf("a stream past the cap ends with %q, want it to say why", status.Convert(err).Message())
		}
		return stream
	}
	first := open(a, codes.OK)
	for range 3 {
		open(a, codes.OK)
	}
	open(a, codes.ResourceExhausted) // its four
	open(b, codes.OK)
	open(b, codes.OK)
	open(b, codes.ResourceExhausted) // six in all
	if err := first.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Recv(); err == nil {
		t.Fatal("a stream closed by its client sent more")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.open(t, b)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stream after one ended = %v, want a place", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveStreamUnreadMemory opens live streams whose client sends
// events and reads none of the lists they answer with, and checks what
// each then holds on the server:
//
//   - a client that sends as fast as it can: its stream ends with
//     RESOURCE_EXHAUSTED once recommendations.MaxPendingEvents events
//     wait for their lists, and holds at most
//     recommendations.LiveStreamBytes until it does (before, the events
//     waited in grpc-go's buffers, up to a window that grew to megabytes:
//     1 MB a stream);
//   - a client that sends one event at a time and keeps its windows shut
//     (the smallest, opened only by its reading): the server's sends wait,
//     with grpc-go's write quota of lists queued, and the stream holds at
//     most recommendations.LiveStreamStalledBytes.
func TestLiveStreamUnreadMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("fills the windows of 150 streams")
	}
	c := startChild(t, recommendations.DefaultMaxLiveStreams, 0)
	viewed := func(id int32) *recommendationsv1.LiveRecommendRequest {
		return &recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: id%childBooks + 1, MaxResults: 20}
	}
	t.Run("flood", func(t *testing.T) {
		const n = 50
		client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, c.addr))
		before := c.heldBytes(t)
		var sent atomic.Int64
		for i := range n {
			stream, err := c.open(t, client)
			if err != nil {
				t.Fatalf("live stream %d: %v", i+1, err)
			}
			go func() { // until the stream ends, or its sends wait
				for id := range int32(20_000) {
					if stream.Send(viewed(id)) != nil {
						return
					}
					sent.Add(1)
				}
			}()
		}
		// Until the events stop going out.
		for last := int64(-1); sent.Load() != last; time.Sleep(300 * time.Millisecond) {
			last = sent.Load()
		}
		each := (c.heldBytes(t) - before) / n
		t.Logf("%d live streams, %d events sent in all, their lists unread: %d bytes each on the server", n, sent.Load(), each)
		if each > recommendations.LiveStreamBytes {
			t.Errorf("a live stream whose client floods it holds %d bytes, more than recommendations.LiveStreamBytes, %d", each, recommendations.LiveStreamBytes)
		}
	})
	t.Run("windows shut", func(t *testing.T) {
		const (
			n      = 100
			events = 400 // more than the lists that the windows and the quota hold
		)
		client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, c.addr, grpc.WithStaticStreamWindowSize(64<<10)))
		before := c.heldBytes(t)
		var wg sync.WaitGroup
		for i := range n {
			stream, err := c.open(t, client)
			if err != nil {
				t.Fatalf("live stream %d: %v", i+1, err)
			}
			wg.Go(func() {
				for id := range int32(events) {
					if stream.Send(viewed(id)) != nil {
						return
					}
					time.Sleep(time.Millisecond) // one at a time, as a shopper does
				}
			})
		}
		wg.Wait()
		time.Sleep(300 * time.Millisecond)
		each := (c.heldBytes(t) - before) / n
		t.Logf("%d live streams, %d events each, their lists unread, windows shut: %d bytes each on the server", n, events, each)
		if each > recommendations.LiveStreamStalledBytes {
			t.Errorf("a live stream whose client reads nothing holds %d bytes, more than recommendations.LiveStreamStalledBytes, %d", each, recommendations.LiveStreamStalledBytes)
		}
	})
}
