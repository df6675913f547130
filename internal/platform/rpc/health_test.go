package rpc_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// TestHealthWatchesCapped opens more health watches than a server serves:
// on its port, rpc.MaxHealthWatches of them over one connection are
// served and one more, on another connection, is refused with
// RESOURCE_EXHAUSTED; on its plaintext health port, which anyone who
// reaches it may call, one connection carries at most
// rpc.HealthMaxStreams calls at once, so that the next waits. Before,
// both took any number, each watch holding a stream and two goroutines.
func TestHealthWatchesCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a thousand watches")
	}
	logger := slog.New(slog.DiscardHandler)
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second})
	recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(failingRecommender{}, logger))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.RunWithHealth(ctx, lis, hlis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	// watch opens a watch on client and waits for its first status.
	watch := func(ctx context.Context, client grpc_health_v1.HealthClient) error {
		w, err := client.Watch(ctx, &grpc_health_v1.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		return err
	}
	watchCtx, cancelWatches := context.WithCancel(testContext(t))
	defer cancelWatches()

	health := grpc_health_v1.NewHealthClient(dial(t, hlis.Addr().String()))
	for i := range rpc.HealthMaxStreams {
		if err := watch(watchCtx, health); err != nil {
			t.Fatalf("health port: watch %d of %d: %v", i+1, rpc.HealthMaxStreams, err)
		}
	}
	waitCtx, cancel := context.WithTimeout(watchCtx, 300*time.Millisecond)
	err = watch(waitCtx, health)
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("health port: a watch past %d on one connection = %v, want it to wait (DeadlineExceeded)", rpc.HealthMaxStreams, err)
	}

	main := grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String()))
	for i := rpc.HealthMaxStreams; i < rpc.MaxHealthWatches; i++ {
		if err := watch(watchCtx, main); err != nil {
			t.Fatalf("watch %d of %d: %v", i+1, rpc.MaxHealthWatches, err)
		}
	}
	err = watch(watchCtx, grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String())))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a watch past the %d the server serves = %v, want RESOURCE_EXHAUSTED", rpc.MaxHealthWatches, err)
	}
	// Check, which ends at once, is still answered.
	if resp, err := main.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{}); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("Check with every watch taken = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}
