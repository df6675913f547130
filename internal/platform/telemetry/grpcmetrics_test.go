package telemetry

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bookshop-go/bookshop/internal/demo"
	"github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
)

// TestGRPCMetricsEveryKind makes one call of each kind, through the
// tutorial's demo services over real gRPC on loopback, and checks what
// both sides counted: one call started and handled OK, of its kind, with
// the messages each side sent and received.
func TestGRPCMetricsEveryKind(t *testing.T) {
	m := NewMetrics()
	su, ss := m.ServerInterceptors()
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(su), grpc.ChainStreamInterceptor(ss))
	demo.Register(srv)
	m.InitServer(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	cu, cs := m.ClientInterceptors()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(cu), grpc.WithChainStreamInterceptor(cs))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Before any call, every method of the server is there, at zero.
	if got := testutil.ToFloat64(m.grpcServer.handled.WithLabelValues(bidiStream, "bidirectional.Bidirectional", "GetServerResponse", "OK")); got != 0 {
		t.Errorf("bidi handled before any call = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(m.grpcServer.handled); n != 4*numCodes {
		t.Errorf("server handled series before any call = %d, want %d (4 methods, every code)", n, 4*numCodes)
	}

	if err := demo.CallUnary(ctx, conn, io.Discard, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := demo.CallServerStreaming(ctx, conn, io.Discard, "hello", 3); err != nil {
		t.Fatal(err)
	}
	if err := demo.CallClientStreaming(ctx, conn, io.Discard, []string{"a", "b", "c", "d"}); err != nil {
		t.Fatal(err)
	}
	if err := demo.CallBidirectional(ctx, conn, io.Discard, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	cancelled, stop := context.WithCancel(ctx)
	stop()
	_ = demo.CallUnary(cancelled, conn, io.Discard, "never sent")

	for _, tc := range []struct {
		typ, service, method string
		ok, canceled         float64
		recvServer, sentSrv  float64
	}{
		{unary, "unary.Unary", "GetServerResponse", 1, 1, 1, 1},
		{serverStream, "bookshop.demo.v1.ServerStreamingService", "StreamReplies", 1, 0, 1, 3},
		{clientStream, "bookshop.demo.v1.ClientStreamingService", "CollectMessages", 1, 0, 4, 1},
		{bidiStream, "bidirectional.Bidirectional", "GetServerResponse", 1, 0, 2, 2},
	} {
		for side, g := range map[string]*grpcMetrics{"server": m.grpcServer, "client": m.grpcClient} {
			name := side + " " + tc.service + "/" + tc.method
			if got := testutil.ToFloat64(g.handled.WithLabelValues(tc.typ, tc.service, tc.method, "OK")); got != tc.ok {
				t.Errorf("%s handled OK = %v, want %v", name, got, tc.ok)
			}
			if got := testutil.ToFloat64(g.started.WithLabelValues(tc.typ, tc.service, tc.method)); side == "server" && got != tc.ok {
				t.Errorf("%s started = %v, want %v", name, got, tc.ok)
			}
			recv, sent := tc.recvServer, tc.sentSrv
			if side == "client" {
				recv, sent = sent, recv
			}
			if got := testutil.ToFloat64(g.received.WithLabelValues(tc.typ, tc.service, tc.method)); got != recv {
				t.Errorf("%s messages received = %v, want %v", name, got, recv)
			}
			if side == "server" || tc.typ != unary { // the cancelled unary call counts a request as sent
				if got := testutil.ToFloat64(g.sent.WithLabelValues(tc.typ, tc.service, tc.method)); got != sent {
					t.Errorf("%s messages sent = %v, want %v", name, got, sent)
				}
			}
		}
	}
	if got := testutil.ToFloat64(m.grpcClient.handled.WithLabelValues(unary, "unary.Unary", "GetServerResponse", "Canceled")); got != 1 {
		t.Errorf("client handled Canceled = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(m.grpcClient.handling); got != 4 {
		t.Errorf("client latency series = %d, want 4 (a method each)", got)
	}
}

// TestGRPCMetricsClientStreamCancelled checks that a client stream that
// its caller ends by cancelling its context, without receiving again, is
// counted as ended, Canceled, on the client too.
func TestGRPCMetricsClientStreamCancelled(t *testing.T) {
	m := NewMetrics()
	su, ss := m.ServerInterceptors()
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(su), grpc.ChainStreamInterceptor(ss))
	demo.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	cu, cs := m.ClientInterceptors()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(cu), grpc.WithChainStreamInterceptor(cs))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	stream, err := bidirectionalpb.NewBidirectionalClient(conn).GetServerResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&bidirectionalpb.Message{Message: "hello"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	handled := m.grpcClient.handled.WithLabelValues(bidiStream, "bidirectional.Bidirectional", "GetServerResponse", "Canceled")
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(handled) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("client handled Canceled = %v after the caller cancelled, want 1", testutil.ToFloat64(handled))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := testutil.CollectAndCount(m.grpcClient.handling); got != 1 {
		t.Errorf("client latency series = %d, want 1", got)
	}
}
