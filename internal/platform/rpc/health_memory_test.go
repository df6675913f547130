package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/memtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// serveEnv, set in its environment, makes the test binary a child process
// that runs a server with its plaintext health port (see startHealthChild).
const serveEnv = "RPC_TEST_SERVE_HEALTH"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) != "" {
		os.Exit(rpctest.ServeChild(func(ctx context.Context, lis net.Listener) error {
			hlis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			heldLis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			go http.Serve(heldLis, memtest.Handler()) //nolint:errcheck // ends with the process
			fmt.Printf("health %s\n", hlis.Addr())
			fmt.Printf("held http://%s/\n", heldLis.Addr())
			logger := slog.New(slog.DiscardHandler)
			srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second})
			recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(failingRecommender{}, logger))
			return srv.RunWithHealth(ctx, lis, hlis)
		}))
	}
	os.Exit(m.Run())
}

// healthChild is a server with its health port, in a child process of the
// test, so that what it holds is not mixed with what the test's clients
// hold.
type healthChild struct {
	addr   string // its port
	health string // its plaintext health port
	held   string // the URL of its memtest.Handler
}

// startHealthChild starts a healthChild and waits until it serves.
func startHealthChild(tb testing.TB) healthChild {
	tb.Helper()
	proc, addr := rpctest.StartChild(tb, serveEnv+"=1")
	c := healthChild{addr: addr}
	var ok1, ok2 bool
	c.health, ok1 = strings.CutPrefix(proc.Line(tb), "health ")
	c.held, ok2 = strings.CutPrefix(proc.Line(tb), "held ")
	if !ok1 || !ok2 {
		tb.Fatal("the child process did not say where its health port is, and where to read what it holds")
	}
	// Serving, asked on a connection closed at once, which gives its
	// place on the health port back.
	conn, err := grpc.NewClient(c.health, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		tb.Fatalf("the child's health = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	return c
}

// heldBytes returns what the child holds (memtest.Held).
func (c healthChild) heldBytes(tb testing.TB) uint64 {
	tb.Helper()
	n, err := memtest.ReadHeld(c.held)
	if err != nil {
		tb.Fatalf("read what the child holds: %v", err)
	}
	return n
}

// http2Conn opens an HTTP/2 connection to addr as a client does, with no
// call: the client's preface and SETTINGS, then the server's SETTINGS
// read and acknowledged. It holds next to nothing on the client's side.
// Errors: the connection's, such as the server closing it.
func http2Conn(tb testing.TB, addr string) (net.Conn, error) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	const (
		preface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00" // an empty SETTINGS frame
		ack      = "\x00\x00\x00\x04\x01\x00\x00\x00\x00" // SETTINGS with ACK
	)
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a plain TCP connection
	head := make([]byte, 9)
	_, err = io.WriteString(c, preface+settings)
	if err == nil {
		_, err = io.ReadFull(c, head) // the server's first frame
	}
	if err == nil && head[3] != 4 {
		err = fmt.Errorf("the server's first frame is of type %d, not SETTINGS", head[3])
	}
	if err == nil {
		_, err = io.ReadFull(c, make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2])))
	}
	if err == nil {
		_, err = io.WriteString(c, ack)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{}) //nolint:errcheck // a plain TCP connection
	tb.Cleanup(func() { c.Close() })
	return c, nil
}

// TestHealthMemory checks what a server holds for the health calls that
// anyone who reaches its ports may make, at their caps: rpc.HealthMaxConns
// idle connections to its plaintext health port, at most
// rpc.HealthConnBytes each, and rpc.MaxHealthWatches watches on its port
// and rpc.HealthPortMaxWatches on the health port, at most
// rpc.HealthWatchBytes each; the figures docs/capacity.md budgets every
// gRPC service with, which it checks. The server is a child process, so
// that the test's own clients do not count.
func TestHealthMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("opens a thousand watches")
	}
	c := startHealthChild(t)
	before := c.heldBytes(t)
	// The connection that saw the child serving may hold its place for a
	// moment after it closed: the port, full, closes it, the oldest.
	for i := range rpc.HealthMaxConns {
		if _, err := http2Conn(t, c.health); err != nil {
			t.Fatalf("connection %d of %d to the health port: %v", i+1, rpc.HealthMaxConns, err)
		}
	}
	time.Sleep(100 * time.Millisecond) // the server has read the last acknowledgements
	conns := c.heldBytes(t)
	eachConn := (conns - before) / rpc.HealthMaxConns

	// The watches: on the server's port, one connection of the test
	// holds them all, as a client's health checks on its connections
	// would (each a watch); on the health port, two connections (which
	// take the places of two of the idle ones above).
	health := grpc_health_v1.NewHealthClient(dial(t, c.addr))
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	const watches = rpc.MaxHealthWatches + rpc.HealthPortMaxWatches
	for i := range watches {
		if i >= rpc.MaxHealthWatches && (i-rpc.MaxHealthWatches)%rpc.HealthMaxStreams == 0 {
			health = grpc_health_v1.NewHealthClient(dial(t, c.health))
		}
		if err := watchHealth(ctx, health); err != nil {
			t.Fatalf("watch %d of %d: %v", i+1, watches, err)
		}
	}
	eachWatch := (c.heldBytes(t) - conns) / watches
	t.Logf("%d idle connections to the health port: %d bytes each; %d health watches on both ports: %d bytes each", rpc.HealthMaxConns, eachConn, watches, eachWatch)
	if eachConn > rpc.HealthConnBytes {
		t.Errorf("an idle connection to the health port holds %d bytes, more than rpc.HealthConnBytes, %d", eachConn, rpc.HealthConnBytes)
	}
	if eachWatch > rpc.HealthWatchBytes {
		t.Errorf("a health watch holds %d bytes, more than rpc.HealthWatchBytes, %d", eachWatch, rpc.HealthWatchBytes)
	}
	// Every gRPC service counts them in its worst case (deploy's
	// TestCapacity checks that each has the items).
	for _, service := range []string{"Recommendations", "Catalog", "Cart", "Checkout", "Accounts", "Inventory", "Orders", "Payments", "Promotions"} {
		if n, each := memtest.Documented(t, service, "health watches"); n != rpc.MaxHealthWatches+rpc.HealthPortMaxWatches || each != rpc.HealthWatchBytes {
			t.Errorf("docs/capacity.md budgets %d health watches of %d bytes for %s, want those of both ports, rpc.MaxHealthWatches and rpc.HealthPortMaxWatches, %d, of rpc.HealthWatchBytes, %d", n, each, service, rpc.MaxHealthWatches+rpc.HealthPortMaxWatches, rpc.HealthWatchBytes)
		}
		if n, each := memtest.Documented(t, service, "health connections"); n != rpc.HealthMaxConns || each != rpc.HealthConnBytes {
			t.Errorf("docs/capacity.md budgets %d health connections of %d bytes for %s, want rpc.HealthMaxConns, %d, of rpc.HealthConnBytes, %d", n, each, service, rpc.HealthMaxConns, rpc.HealthConnBytes)
		}
	}
}
