// Package rpctest starts real Bookshop gRPC servers on loopback for
// tests in other packages, and reads and writes raw protobuf for wire
// tests.
package rpctest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/platform/process"
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
// listens on, for tests of a service that is down: a connection to it is
// refused. The port stays bound, not listening, until the test ends, so
// that no server of this or another test is given it meanwhile (a port
// only closed was, now and then, the next one a test's own server got).
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("socket: %v", err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatalf("bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatalf("getsockname: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
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

// Run runs a service as its command does (run is such as
// inventory.Run with its Config bound) with logger, on 127.0.0.1 at a
// free port until the test ends, and returns the address it serves on.
// The test fails if run returns an error, named by name.
func Run(tb testing.TB, name string, run func(context.Context, process.Deps) error, logger *slog.Logger) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: lis})
	}()
	tb.Cleanup(sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("%s: %v", name, err)
		}
	}))
	return lis.Addr().String()
}

// WaitHealth waits until the gRPC health of service at addr is want, and
// fails the test if it is not within 10 seconds; when says at which
// moment of the test, for the failure's message.
func WaitHealth(tb testing.TB, addr, service string, want healthpb.HealthCheckResponse_ServingStatus, when string) {
	tb.Helper()
	health := healthpb.NewHealthClient(Dial(tb, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err == nil && resp.GetStatus() == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("health %s = %v, %v; want %v", when, resp.GetStatus(), err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
