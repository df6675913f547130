package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
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
	lis, hlis := runWithHealth(t)
	var err error

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

// runWithHealth runs a server of Recommendations with its plaintext health
// port until the test ends, and returns the listeners of both ports.
func runWithHealth(t *testing.T) (lis, hlis net.Listener) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second})
	recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(failingRecommender{}, logger))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hlis, err = net.Listen("tcp", "127.0.0.1:0")
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
	return lis, hlis
}

// TestHealthConnectionsCapped has one client hold as many connections to
// the plaintext health port, which anyone who reaches it may call, as it
// holds at once (rpc.HealthMaxConns), as an attacker would to keep the
// kubelet's probes out: a Check on a new connection, a probe's, is still
// answered SERVING, and the port makes room for it by closing the
// client's oldest connection, so that it still holds no more than its
// cap. Before, the port closed every connection past its cap as soon as
// it accepted it: the probe's Check failed UNAVAILABLE, and a pod whose
// probes failed so was marked unready, then restarted, for as long as the
// client held its connections.
func TestHealthConnectionsCapped(t *testing.T) {
	_, hlis := runWithHealth(t)
	addr := hlis.Addr().String()
	held := make([]net.Conn, rpc.HealthMaxConns)
	for i := range held {
		c, err := http2Conn(t, addr)
		if err != nil {
			t.Fatalf("connection %d of %d to the health port: %v", i+1, rpc.HealthMaxConns, err)
		}
		held[i] = c
	}

	conn := dial(t, addr)
	resp, err := grpc_health_v1.NewHealthClient(conn).Check(testContext(t), &grpc_health_v1.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("Check on a new connection, with %d held by one client = %v, %v; want SERVING", rpc.HealthMaxConns, resp.GetStatus(), err)
	}
	conn.Close()

	// closed reports whether the server closed c: reading it ends in EOF
	// (or a reset) rather than at the deadline, after what the server
	// sent when it served the connection. An idle connection is sent
	// nothing more before its idle timeout.
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) //nolint:errcheck // a plain TCP connection
	}
	closed := func(c net.Conn) bool {
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				return !errors.Is(err, os.ErrDeadlineExceeded)
			}
		}
	}
	var gone []int
	for i, c := range held {
		if closed(c) {
			gone = append(gone, i)
		}
	}
	if len(gone) != 1 || gone[0] != 0 {
		t.Errorf("the held connections the server closed to serve a new one: %v; want the oldest alone, [0]", gone)
	}
}
