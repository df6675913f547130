package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// TestHealthWatchesCapped opens more health watches than a server serves
// on its port: rpc.MaxHealthWatches of them over one connection are
// served and one more, on another connection, is refused with
// RESOURCE_EXHAUSTED; and on its plaintext health port, which anyone who
// reaches it may call, one connection carries at most
// rpc.HealthMaxStreams calls at once, so that the next waits. Before,
// both took any number, each watch holding a stream and two goroutines.
func TestHealthWatchesCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a thousand watches")
	}
	lis, hlis := runWithHealth(t)
	watchCtx, cancelWatches := context.WithCancel(testContext(t))
	defer cancelWatches()

	health := grpc_health_v1.NewHealthClient(dial(t, hlis.Addr().String()))
	for i := range rpc.HealthMaxStreams {
		if err := watchHealth(watchCtx, health); err != nil {
			t.Fatalf("health port: watch %d of %d: %v", i+1, rpc.HealthMaxStreams, err)
		}
	}
	waitCtx, cancel := context.WithTimeout(watchCtx, 300*time.Millisecond)
	err := watchHealth(waitCtx, health)
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("health port: a watch past %d on one connection = %v, want it to wait (DeadlineExceeded)", rpc.HealthMaxStreams, err)
	}

	main := grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String()))
	for i := range rpc.MaxHealthWatches {
		if err := watchHealth(watchCtx, main); err != nil {
			t.Fatalf("watch %d of %d: %v", i+1, rpc.MaxHealthWatches, err)
		}
	}
	// On another connection: the first carries as many calls at once as
	// the server lets one (rpc.DefaultMaxConcurrentStreams).
	other := grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String()))
	err = watchHealth(watchCtx, other)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a watch past the %d the server serves = %v, want RESOURCE_EXHAUSTED", rpc.MaxHealthWatches, err)
	}
	// Check, which ends at once, is still answered.
	if resp, err := other.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{}); err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("Check with every watch taken = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}

// TestHealthPortWatchesApart opens as many health watches on the
// plaintext health port, which anyone who reaches it may call, as it
// serves, rpc.HealthMaxStreams a connection, until one is refused: the
// port serves rpc.HealthPortMaxWatches and refuses the next with
// RESOURCE_EXHAUSTED, and a watch on the server's own port, as another
// service's client-side health check keeps on each connection, is still
// served. Before, watches on both ports counted against the one
// rpc.MaxHealthWatches: the health port served 1,000 (63 connections),
// and the main port's next watch was refused, which takes a client's
// connection out of use.
func TestHealthPortWatchesApart(t *testing.T) {
	lis, hlis := runWithHealth(t)
	watchCtx, cancelWatches := context.WithCancel(testContext(t))
	defer cancelWatches()

	served := 0
	var (
		health grpc_health_v1.HealthClient
		err    error
	)
	for ; served <= rpc.MaxHealthWatches; served++ {
		if served%rpc.HealthMaxStreams == 0 {
			health = grpc_health_v1.NewHealthClient(dial(t, hlis.Addr().String()))
		}
		if err = watchHealth(watchCtx, health); err != nil {
			break
		}
	}
	if served != rpc.HealthPortMaxWatches || status.Code(err) != codes.ResourceExhausted {
		t.Errorf("the health port served %d watches, then %v; want %d, then RESOURCE_EXHAUSTED", served, err, rpc.HealthPortMaxWatches)
	}
	main := grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String()))
	if err := watchHealth(watchCtx, main); err != nil {
		t.Errorf("a watch on the server's port, with the health port's watches taken = %v, want served", err)
	}
}

// TestHealthHeadersCapped calls Check on the plaintext health port with
// more header fields than it takes (4 KiB of metadata): it is refused,
// and a probe's Check, with the usual headers, is answered SERVING.
// Before, the port took 16 MiB of headers a call, and x/net's HPACK
// decoder kept the buffer of a field split across frames as long as the
// connection lasted (TestHealthMemory).
func TestHealthHeadersCapped(t *testing.T) {
	_, hlis := runWithHealth(t)
	health := grpc_health_v1.NewHealthClient(dial(t, hlis.Addr().String()))
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-padding", strings.Repeat("x", 4<<10))
	if resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err == nil {
		t.Errorf("Check with 4 KiB of headers = %v, want refused", resp.GetStatus())
	}
	resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("Check = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}

// The main port takes the headers of any call of ours, and refuses past
// rpc.MaxHeaderBytes.
func TestHeadersCapped(t *testing.T) {
	lis, _ := runWithHealth(t)
	health := grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String()))
	for _, tc := range []struct {
		padding int
		ok      bool
	}{{4 << 10, true}, {rpc.MaxHeaderBytes, false}, {1 << 20, false}} {
		ctx := metadata.AppendToOutgoingContext(testContext(t), "x-padding", strings.Repeat("x", tc.padding))
		resp, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
		if got := err == nil && resp.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING; got != tc.ok {
			t.Errorf("Check with %d bytes of headers on the main port = %v, %v; want served %v", tc.padding, resp.GetStatus(), err, tc.ok)
		}
	}
	resp, err := health.Check(testContext(t), &grpc_health_v1.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("Check after refused ones = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}

// watchHealth opens a watch on client and waits for its first status.
func watchHealth(ctx context.Context, client grpc_health_v1.HealthClient) error {
	w, err := client.Watch(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	return err
}

// runWithHealth runs a server of Recommendations with its plaintext health
// port until the test ends, and returns the listeners of both ports once
// the server says SERVING: the health port may answer before the main
// port has marked the services so, as the two start at once.
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
	health := grpc_health_v1.NewHealthClient(dial(t, lis.Addr().String()))
	waitCtx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
	defer cancel()
	for {
		resp, err := health.Check(waitCtx, &grpc_health_v1.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err == nil && resp.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING {
			return lis, hlis
		}
		if waitCtx.Err() != nil {
			t.Fatalf("the server's health = %v, %v; want SERVING within 10s", resp.GetStatus(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
