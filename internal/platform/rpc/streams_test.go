package rpc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// TestMaxConcurrentStreams checks ServerConfig.MaxConcurrentStreams: a
// client connection holds at most that many calls in flight, its next
// waiting until one ends, so that one connection cannot make the server
// hold streams without end.
func TestMaxConcurrentStreams(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second, MaxConcurrentStreams: 2})
	books := builtin(t)
	recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, recommendations.NewLiveServer(
		func() *recommendations.Session { return recommendations.NewSession(books, nil) }, logger))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	client := recommendationsv1.NewLiveRecommendationsServiceClient(dial(t, lis.Addr().String()))

	// open opens a stream and waits for the answer to one event: the
	// stream is then in flight on the server.
	open := func(ctx context.Context) (recommendationsv1.LiveRecommendationsService_LiveRecommendClient, error) {
		stream, err := client.LiveRecommend(ctx)
		if err != nil {
			return nil, err
		}
		if err := stream.Send(&recommendationsv1.LiveRecommendRequest{Type: recommendationsv1.EventType_EVENT_TYPE_VIEWED, BookId: 1}); err != nil {
			return nil, err
		}
		_, err = stream.Recv()
		return stream, err
	}
	first, err := open(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(testContext(t)); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
	defer cancel()
	if _, err := open(waitCtx); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a third stream on a connection that may hold two = %v, want it to wait (DeadlineExceeded)", err)
	}
	// Once one ends, another may start.
	if err := first.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Recv(); err != io.EOF {
		t.Fatalf("the first stream, closed: %v, want io.EOF", err)
	}
	if _, err := open(testContext(t)); err != nil {
		t.Errorf("a stream after one of two ended: %v", err)
	}
}
