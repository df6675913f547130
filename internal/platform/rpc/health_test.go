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

// TestHealthConnectionsCapped opens more connections to the plaintext
// health port, which anyone who reaches it may call, than it holds at
// once: rpc.HealthMaxConns clients, each answered, keep theirs; the next
// connections are closed at once, before the server sends a byte; the
// first clients are still answered; and once one of them leaves, a new
// connection is served. Before, the port took any number, each an HTTP/2
// connection of some 16 KiB that nothing closed.
func TestHealthConnectionsCapped(t *testing.T) {
	_, hlis := runWithHealth(t)
	addr := hlis.Addr().String()
	check := func(client grpc_health_v1.HealthClient) error {
		resp, err := client.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{})
		if err == nil && resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
			err = errors.New(resp.GetStatus().String())
		}
		return err
	}
	conns := make([]interface{ Close() error }, rpc.HealthMaxConns)
	clients := make([]grpc_health_v1.HealthClient, rpc.HealthMaxConns)
	for i := range clients {
		conn := dial(t, addr)
		conns[i], clients[i] = conn, grpc_health_v1.NewHealthClient(conn)
		if err := check(clients[i]); err != nil {
			t.Fatalf("Check on connection %d of %d = %v, want SERVING", i+1, rpc.HealthMaxConns, err)
		}
	}

	// read dials the port and reads what the server sends first: its
	// HTTP/2 SETTINGS when it serves the connection, nothing (EOF or a
	// reset) when it closes it.
	read := func() (int, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a plain TCP connection
		return c.Read(make([]byte, 64))
	}
	for i := range 3 {
		n, err := read()
		if n > 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection %d past the %d the health port holds: read %d bytes, %v; want it closed at once", i+1, rpc.HealthMaxConns, n, err)
		}
	}
	for i, client := range clients {
		if err := check(client); err != nil {
			t.Fatalf("Check on connection %d of %d, with the port full = %v, want SERVING", i+1, rpc.HealthMaxConns, err)
		}
	}

	conns[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := read()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection after one of the %d left: read %d bytes, %v after 10s; want the server's SETTINGS", rpc.HealthMaxConns, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
