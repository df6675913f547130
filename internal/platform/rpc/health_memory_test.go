package rpc_test

import (
	"bytes"
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

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
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
	// place on the health port back. The health port may answer before
	// the server's port has marked it SERVING (the two start at once),
	// so NOT_SERVING is asked again until then.
	conn, err := grpc.NewClient(c.health, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		resp, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err == nil && resp.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING {
			return c
		}
		if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING || ctx.Err() != nil {
			tb.Fatalf("the child's health = %v, %v; want SERVING", resp.GetStatus(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
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

// heavyHealthConn opens an HTTP/2 connection to the health port at addr
// (see http2Conn) and leaves it idle holding the most that a client can
// make the server keep on a connection once its calls are over, as far as
// we know grpc-go's and x/net's HTTP/2:
//   - the framer's read buffer, which keeps the size of the largest frame
//     other than DATA read on the connection: a frame of an unknown type,
//     which the server ignores, of 16 KiB, the largest frame it reads;
//   - HPACK's table of the header fields the client sent, 4 KiB as HPACK
//     counts it (each field's name and value and 32 bytes): three Checks,
//     each answered SERVING, whose headers fill it with the smallest
//     fields, which take the most memory for their size (the table's
//     entry and two map entries each; 26 KB a connection, against 27 KB
//     with one field of 4 KiB, whose frame also grows the read buffer);
//   - the HPACK decoder's buffer of a header field split across frames,
//     which keeps its capacity: a field whose name and value are as long
//     as the port allows (maxString), split after its last byte but one,
//     and a CONTINUATION of as many bytes as the server takes after it.
//
// Errors: the connection's, such as the server closing it.
func heavyHealthConn(tb testing.TB, addr string, maxString int) error {
	tb.Helper()
	c, err := http2Conn(tb, addr)
	if err != nil {
		return err
	}
	fr := http2.NewFramer(c, c)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	// request writes the headers of a Check on stream id, and fields more,
	// into block.
	request := func(fields ...hpack.HeaderField) {
		block.Reset()
		for _, f := range append([]hpack.HeaderField{
			{Name: ":method", Value: "POST"},
			{Name: ":scheme", Value: "http"},
			{Name: ":path", Value: "/grpc.health.v1.Health/Check"},
			{Name: ":authority", Value: addr},
			{Name: "content-type", Value: "application/grpc"},
			{Name: "te", Value: "trailers"},
		}, fields...) {
			enc.WriteField(f) //nolint:errcheck // into a bytes.Buffer
		}
	}
	err = fr.WriteRawFrame(0x20, 0, 0, make([]byte, 16<<10))
	stream := uint32(1)
	for i := 0; i < 3 && err == nil; i++ {
		var fillers []hpack.HeaderField
		for j := range 45 {
			n := 45*i + j
			fillers = append(fillers, hpack.HeaderField{Name: fmt.Sprintf("x%c%c", 'a'+n/26, 'a'+n%26)})
		}
		request(fillers...)
		err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block.Bytes(), EndHeaders: true})
		if err == nil {
			err = fr.WriteData(stream, true, []byte{0, 0, 0, 0, 0}) // an empty HealthCheckRequest
		}
		stream += 2
	}
	if err == nil {
		request()
		split := append(block.Bytes(), 0x00) // a literal field, not indexed, with a new name
		split = hpackString(split, strings.Repeat("x", maxString))
		split = hpackString(split, strings.Repeat("v", maxString))
		rest := append([]byte{'v'}, bytes.Repeat([]byte{0x82}, 7<<10)...) // the last byte, then ":method: GET", indexed, again and again
		err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: split[:len(split)-1]})
		if err == nil {
			err = fr.WriteContinuation(stream, true, rest)
		}
		if err == nil {
			err = fr.WriteRSTStream(stream, http2.ErrCodeCancel) // where the server took the headers, the call ends
		}
	}
	if err == nil {
		// The server has read it all when it answers a PING sent after.
		err = fr.WritePing(false, [8]byte{1})
	}
	// Then the three answers, and the PING's, come back.
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a plain TCP connection
	defer c.SetDeadline(time.Time{})                //nolint:errcheck // a plain TCP connection
	serving, pinged := 0, false
	for err == nil && (serving < 3 || !pinged) {
		var f http2.Frame
		if f, err = fr.ReadFrame(); err != nil {
			break
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			if bytes.Equal(f.Data(), []byte{0, 0, 0, 0, 2, 0x08, byte(grpc_health_v1.HealthCheckResponse_SERVING)}) {
				serving++
			}
		case *http2.PingFrame:
			pinged = pinged || f.IsAck()
		}
	}
	if err != nil {
		return fmt.Errorf("%d of the 3 Checks answered SERVING: %w", serving, err)
	}
	return nil
}

// hpackString appends s to b as an HPACK string literal, not Huffman-coded.
func hpackString(b []byte, s string) []byte {
	n := len(s)
	if n < 127 {
		return append(append(b, byte(n)), s...)
	}
	b = append(b, 127)
	for n -= 127; n >= 128; n >>= 7 {
		b = append(b, byte(n&127|128))
	}
	return append(append(b, byte(n)), s...)
}

// TestHealthMemory checks what a server holds for the health calls that
// anyone who reaches its ports may make, at their caps:
// rpc.MaxHealthWatches watches on its port and rpc.HealthPortMaxWatches
// on its plaintext health port, at most rpc.HealthWatchBytes each, and
// rpc.HealthMaxConns connections to the health port, each left holding
// the most a client can make it keep once its calls are over
// (heavyHealthConn), at most rpc.HealthConnBytes each; the figures
// docs/capacity.md budgets every gRPC service with, which it checks.
// The server is a child process, so that the test's own clients do not
// count. Before, the connections were measured idle, having made no
// call: 15 KB each, where such a connection holds 54 KB, and one whose
// header fields were as long as grpc-go then took, megabytes.
func TestHealthMemory(t *testing.T) {
	memtest.Budgets(t)
	if testing.Short() {
		t.Skip("opens a thousand watches")
	}
	c := startHealthChild(t)
	before := c.heldBytes(t)

	// The watches: on the server's port, one connection of the test
	// holds them all, as a client's health checks on its connections
	// would (each a watch); on the health port, two connections. (What
	// those two hold themselves counts with the watches: 30 bytes a
	// watch.)
	health := grpc_health_v1.NewHealthClient(dial(t, c.addr))
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	const watches = rpc.MaxHealthWatches + rpc.HealthPortMaxWatches
	const watchConns = rpc.HealthPortMaxWatches / rpc.HealthMaxStreams
	for i := range watches {
		if i >= rpc.MaxHealthWatches && (i-rpc.MaxHealthWatches)%rpc.HealthMaxStreams == 0 {
			health = grpc_health_v1.NewHealthClient(dial(t, c.health))
		}
		if err := watchHealth(ctx, health); err != nil {
			t.Fatalf("watch %d of %d: %v", i+1, watches, err)
		}
	}
	watched := c.heldBytes(t)
	eachWatch := (watched - before) / watches

	// The health port's other places, each taken by a connection left
	// holding what it can (heavyHealthConn). The connection that saw the
	// child serving may hold its place for a moment after it closed: the
	// port, full, closes it, the oldest.
	const conns = rpc.HealthMaxConns - watchConns
	for i := range conns {
		if err := heavyHealthConn(t, c.health, 2<<10); err != nil {
			t.Fatalf("connection %d of %d to the health port: %v", i+1, conns, err)
		}
	}
	time.Sleep(100 * time.Millisecond) // the server has read the last acknowledgements
	eachConn := (c.heldBytes(t) - watched) / conns
	t.Logf("%d health watches on both ports: %d bytes each; %d connections to the health port, each left holding what it can: %d bytes each", watches, eachWatch, conns, eachConn)
	if eachConn > rpc.HealthConnBytes {
		t.Errorf("a connection to the health port holds %d bytes, more than rpc.HealthConnBytes, %d", eachConn, rpc.HealthConnBytes)
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
