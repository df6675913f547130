package rpc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// runServer runs a Server with rec registered until stop is called; wait
// returns Run's result.
func runServer(t *testing.T, rec bookshop.Recommender, drain time.Duration) (addr string, stop func(), wait func() error) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return runServerWith(t, rpc.ServerConfig{Logger: logger, DrainTimeout: drain}, func(srv *rpc.Server) {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, logger))
	})
}

// runServerWith runs a Server made by cfg, with the services register
// adds, until stop is called; wait returns Run's result.
func runServerWith(t *testing.T, cfg rpc.ServerConfig, register func(*rpc.Server)) (addr string, stop func(), wait func() error) {
	t.Helper()
	srv := rpc.NewServer(cfg)
	register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	t.Cleanup(cancel)
	return lis.Addr().String(), cancel, func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return 10s after shutdown")
			return nil
		}
	}
}

// TestServerHealthAtShutdown checks that health turns NOT_SERVING as soon as
// shutdown starts, so that probes and balancers stop sending calls, and
// that health watches then end rather than hold the drain open: Run
// returns long before its 30s drain timeout.
func TestServerHealthAtShutdown(t *testing.T) {
	addr, stop, wait := runServer(t, failingRecommender{}, 30*time.Second)
	watch, err := grpc_health_v1.NewHealthClient(dial(t, addr)).Watch(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: "Recommendations"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("health while serving = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	stop()
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health at shutdown = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	for {
		_, err := watch.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Errorf("watch ended with %v, want Unavailable", err)
			}
			break
		}
	}
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after shutdown = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still draining 5s after shutdown with only a health watch open")
	}
}

// TestServerDrains checks graceful shutdown: a call in flight when shutdown
// starts completes; one that outlasts the drain timeout is cut off, and Run
// still returns.
func TestServerDrains(t *testing.T) {
	t.Run("call finishes within the drain timeout", func(t *testing.T) {
		rec := &gatedRecommender{started: make(chan struct{}), release: make(chan struct{})}
		addr, stop, wait := runServer(t, rec, 10*time.Second)
		client := recommendationspb.NewRecommendationsClient(dial(t, addr))
		result := make(chan error, 1)
		go func() {
			_, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1})
			result <- err
		}()
		<-rec.started
		stop()
		close(rec.release)
		if err := <-result; err != nil {
			t.Errorf("call in flight at shutdown: %v, want success", err)
		}
		if err := wait(); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
	t.Run("call outlasts the drain timeout", func(t *testing.T) {
		rec := &gatedRecommender{started: make(chan struct{}), release: make(chan struct{})}
		defer close(rec.release)
		addr, stop, wait := runServer(t, rec, 100*time.Millisecond)
		client := recommendationspb.NewRecommendationsClient(dial(t, addr))
		result := make(chan error, 1)
		go func() {
			_, err := client.Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1})
			result <- err
		}()
		<-rec.started
		stop()
		if err := wait(); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if err := <-result; status.Code(err) != codes.Unavailable {
			t.Errorf("call cut off at shutdown: %v, want Unavailable", err)
		}
	})
}

// gatedRecommender signals when a call starts and answers when released
// (or when its caller gives up).
type gatedRecommender struct {
	started chan struct{}
	release chan struct{}
}

func (g *gatedRecommender) Recommend(ctx context.Context, _ bookshop.RecommendRequest) ([]bookshop.Book, error) {
	close(g.started)
	select {
	case <-g.release:
		return []bookshop.Book{{ID: 1, Title: "The Maltese Falcon"}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestHealthPortThroughLifecycle watches health on the plaintext health
// port through a server's life: NOT_SERVING before Run (not ready yet),
// SERVING while it runs, NOT_SERVING as soon as shutdown begins, while a
// call in flight still drains. The liveness name is NOT_SERVING before
// Run too, and SERVING from Run's start, while the server is not ready
// yet (ServerConfig.Ready), until shutdown begins.
func TestHealthPortThroughLifecycle(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	ready := make(chan struct{})
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: 10 * time.Second, Ready: ready})
	rec := &gatedRecommender{started: make(chan struct{}), release: make(chan struct{})}
	recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, logger))
	hlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	healthCtx, stopHealth := context.WithCancel(context.Background())
	healthDone := make(chan error, 1)
	go func() { healthDone <- srv.RunHealth(healthCtx, hlis) }()
	defer func() {
		stopHealth()
		if err := <-healthDone; err != nil {
			t.Error(err)
		}
	}()
	health := grpc_health_v1.NewHealthClient(dial(t, hlis.Addr().String()))
	checkName := func(name, when string, want grpc_health_v1.HealthCheckResponse_ServingStatus) {
		t.Helper()
		resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: name})
		if err != nil || resp.GetStatus() != want {
			t.Errorf("health %q %s = %v, %v; want %v", name, when, resp.GetStatus(), err, want)
		}
	}
	check := func(when string, want grpc_health_v1.HealthCheckResponse_ServingStatus) {
		t.Helper()
		checkName("Recommendations", when, want)
	}
	check("before Run", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	checkName(rpc.LivenessService, "before Run", grpc_health_v1.HealthCheckResponse_NOT_SERVING)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: rpc.LivenessService})
		if err == nil && resp.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING {
			break
		}
	}
	checkName(rpc.LivenessService, "once Run started, not ready yet", grpc_health_v1.HealthCheckResponse_SERVING)
	check("once Run started, not ready yet", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	close(ready)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: "Recommendations"})
		if err == nil && resp.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	check("while running", grpc_health_v1.HealthCheckResponse_SERVING)

	call := make(chan error, 1)
	go func() {
		_, err := recommendationspb.NewRecommendationsClient(dial(t, lis.Addr().String())).Recommend(testContext(t), &recommendationspb.RecommendationRequest{MaxResults: 1})
		call <- err
	}()
	<-rec.started
	stop()
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{Service: "Recommendations"})
		if err == nil && resp.GetStatus() == grpc_health_v1.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %v, %v 5s after shutdown began", resp.GetStatus(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkName(rpc.LivenessService, "once shutdown began", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a call was still in flight", err)
	default: // still draining, and already NOT_SERVING
	}
	close(rec.release)
	if err := <-call; err != nil {
		t.Errorf("the call in flight at shutdown: %v, want success", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	check("after shutdown", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
}
