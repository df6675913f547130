package rpc

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// TestHealthKeepalive checks that the plaintext health port does not keep
// a connection for ever, with its keepalive shortened to fractions of a
// second: a connection with no call is closed once idle, and one with a
// watch once old, the watch ended with UNAVAILABLE (its client opens it
// again, elsewhere if it likes). Before, both stayed as long as their
// clients wanted, each holding its place and its memory.
func TestHealthKeepalive(t *testing.T) {
	const (
		idle  = 300 * time.Millisecond
		age   = time.Second
		grace = 200 * time.Millisecond
	)
	s := NewServer(ServerConfig{Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second})
	s.healthKeepalive = keepalive.ServerParameters{MaxConnectionIdle: idle, MaxConnectionAge: age, MaxConnectionAgeGrace: grace}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunHealth(ctx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	callCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func() *grpc.ClientConn {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	// Idle: the server's GOAWAY takes the client's connection out of READY.
	conn := dial()
	if _, err := healthpb.NewHealthClient(conn).Check(callCtx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitCtx, cancelWait := context.WithTimeout(callCtx, 5*time.Second)
	conn.WaitForStateChange(waitCtx, connectivity.Ready)
	cancelWait()
	if st := conn.GetState(); st == connectivity.Ready {
		t.Errorf("a connection idle for 5s, with the health port's idle timeout at %v, is still %v", idle, st)
	} else {
		t.Logf("an idle connection: %v after %v", st, time.Since(start).Round(10*time.Millisecond))
	}

	// Old: a watch keeps the connection busy, and ends with it.
	watch, err := healthpb.NewHealthClient(dial()).Watch(callCtx, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = watch.Recv()
	}
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = watch.Recv()
	took := time.Since(start)
	if status.Code(err) != codes.Unavailable || took > age+grace+2*time.Second {
		t.Errorf("a watch on a connection older than %v (and %v of grace): Recv = %v after %v; want UNAVAILABLE within %v", age, grace, err, took.Round(10*time.Millisecond), age+grace+2*time.Second)
	}
}
