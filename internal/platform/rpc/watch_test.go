package rpc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// TestServerWatch checks that a failing check of what the service depends
// on, such as its database, turns its health NOT_SERVING, and that the
// check passing again turns it back to SERVING.
func TestServerWatch(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var srv *rpc.Server
	addr, _, _ := runServerWith(t, rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second}, func(s *rpc.Server) {
		srv = s
		recommendationspb.RegisterRecommendationsServer(s, recommendations.NewServer(failingRecommender{}, logger))
	})
	var failure atomic.Pointer[error]
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() {
		watched <- srv.Watch(ctx, 10*time.Millisecond, func(context.Context) error {
			if err := failure.Load(); err != nil {
				return *err
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-watched; err != nil {
			t.Errorf("Watch = %v, want nil at the end of its context", err)
		}
	})

	health, err := grpc_health_v1.NewHealthClient(dial(t, addr)).Watch(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: "Recommendations"})
	if err != nil {
		t.Fatal(err)
	}
	want := func(st grpc_health_v1.HealthCheckResponse_ServingStatus, when string) {
		t.Helper()
		for {
			resp, err := health.Recv()
			if err != nil {
				t.Fatalf("health %s: %v", when, err)
			}
			if resp.GetStatus() == st {
				return
			}
		}
	}
	// The liveness probe's name says only that the server runs: a failing
	// dependency must not have the kubelet restart it.
	live := func(when string) {
		t.Helper()
		resp, err := grpc_health_v1.NewHealthClient(dial(t, addr)).Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: rpc.LivenessService})
		if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Errorf("health %q %s = %v, %v; want SERVING", rpc.LivenessService, when, resp.GetStatus(), err)
		}
	}
	want(grpc_health_v1.HealthCheckResponse_SERVING, "while the check passes")
	live("while the check passes")
	down := errors.New("database unreachable")
	failure.Store(&down)
	want(grpc_health_v1.HealthCheckResponse_NOT_SERVING, "while the check fails")
	live("while the check fails")
	failure.Store(nil)
	want(grpc_health_v1.HealthCheckResponse_SERVING, "once the check passes again")
}
