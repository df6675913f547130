// Package rpctest starts real Bookshop gRPC servers on loopback for
// tests in other packages, and reads and writes raw protobuf for wire
// tests.
package rpctest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Start serves, on 127.0.0.1 at a free port and over real gRPC until the
// test ends, a Bookshop gRPC server (health and reflection included) with
// the services that register adds to it. register gets the server's
// logger, which discards. Start returns the server's address
// ("127.0.0.1:PORT"). opts are extra server options, such as a test
// interceptor.
func Start(tb testing.TB, register func(srv *rpc.Server, logger *slog.Logger), opts ...grpc.ServerOption) string {
	tb.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second}, opts...)
	register(srv, logger)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("gRPC server: %v", err)
		}
	})
	return lis.Addr().String()
}

// ClosedAddr returns the address of a port on 127.0.0.1 that nothing
// listens on, for tests of a service that is down.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// Context returns a context that ends with the test, or after 10 s: no
// call of a test waits without end.
func Context(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// Dial returns a plaintext client connection to addr, with opts, closed
// when the test ends.
func Dial(tb testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		tb.Fatalf("grpc.NewClient(%q): %v", addr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}
