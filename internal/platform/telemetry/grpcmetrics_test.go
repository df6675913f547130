package telemetry_test

// An external test package: the demo services it calls import
// platform/rpc, which imports telemetry. It reads the metrics as
// Prometheus does, from a scrape of Metrics.Handler.

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/bookshop-go/bookshop/internal/demo"
	"github.com/bookshop-go/bookshop/internal/gen/bidirectionalpb"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The kinds of call, as the grpc_type label names them.
const (
	unary        = "unary"
	clientStream = "client_stream"
	serverStream = "server_stream"
	bidiStream   = "bidi_stream"
)

// numCodes is the number of gRPC status codes, OK to Unauthenticated.
const numCodes = int(codes.Unauthenticated) + 1

// scrape returns the metrics m serves, parsed from the Prometheus text
// format.
func scrape(tb testing.TB, m *telemetry.Metrics) map[string]*dto.MetricFamily {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics = %d, want 200:\n%s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		tb.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// series returns the number of series of family name.
func series(families map[string]*dto.MetricFamily, name string) int {
	return len(families[name].GetMetric())
}

// counter returns the value of the counter of family name whose labels
// are grpc_type, grpc_service, grpc_method and, if code is not empty,
// grpc_code; ok is false when there is no such series.
func counter(families map[string]*dto.MetricFamily, name, typ, service, method, code string) (v float64, ok bool) {
	want := map[string]string{"grpc_type": typ, "grpc_service": service, "grpc_method": method}
	if code != "" {
		want["grpc_code"] = code
	}
	for _, m := range families[name].GetMetric() {
		labels := make(map[string]string)
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if len(labels) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// TestGRPCMetricsEveryKind makes one call of each kind, through the
// tutorial's demo services over real gRPC on loopback, and checks what
// both sides counted: one call started and handled OK, of its kind, with
// the messages each side sent and received.
func TestGRPCMetricsEveryKind(t *testing.T) {
	m := telemetry.NewMetrics()
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
	before := scrape(t, m)
	if got, ok := counter(before, "grpc_server_handled_total", bidiStream, "bidirectional.Bidirectional", "GetServerResponse", "OK"); !ok || got != 0 {
		t.Errorf("bidi handled before any call = %v (series present: %v), want 0", got, ok)
	}
	if n := series(before, "grpc_server_handled_total"); n != 4*numCodes {
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

	after := scrape(t, m)

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
		for _, side := range []string{"server", "client"} {
			name := side + " " + tc.service + "/" + tc.method
			value := func(metric, code string) float64 {
				v, ok := counter(after, "grpc_"+side+"_"+metric, tc.typ, tc.service, tc.method, code)
				if !ok {
					t.Errorf("%s: no grpc_%s_%s series", name, side, metric)
				}
				return v
			}
			if got := value("handled_total", "OK"); got != tc.ok {
				t.Errorf("%s handled OK = %v, want %v", name, got, tc.ok)
			}
			if side == "server" {
				if got := value("started_total", ""); got != tc.ok {
					t.Errorf("%s started = %v, want %v", name, got, tc.ok)
				}
			}
			recv, sent := tc.recvServer, tc.sentSrv
			if side == "client" {
				recv, sent = sent, recv
			}
			if got := value("msg_received_total", ""); got != recv {
				t.Errorf("%s messages received = %v, want %v", name, got, recv)
			}
			if side == "server" || tc.typ != unary { // the cancelled unary call counts a request as sent
				if got := value("msg_sent_total", ""); got != sent {
					t.Errorf("%s messages sent = %v, want %v", name, got, sent)
				}
			}
		}
	}
	if got, _ := counter(after, "grpc_client_handled_total", unary, "unary.Unary", "GetServerResponse", "Canceled"); got != 1 {
		t.Errorf("client handled Canceled = %v, want 1", got)
	}
	if got := series(after, "grpc_client_handling_seconds"); got != 4 {
		t.Errorf("client latency series = %d, want 4 (a method each)", got)
	}
}

// TestGRPCMetricsClientStreamCancelled checks that a client stream that
// its caller ends by cancelling its context, without receiving again, is
// counted as ended, Canceled, on the client too.
func TestGRPCMetricsClientStreamCancelled(t *testing.T) {
	m := telemetry.NewMetrics()
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
	handled := func() (map[string]*dto.MetricFamily, float64) {
		families := scrape(t, m)
		v, _ := counter(families, "grpc_client_handled_total", bidiStream, "bidirectional.Bidirectional", "GetServerResponse", "Canceled")
		return families, v
	}
	deadline := time.Now().Add(5 * time.Second)
	families, got := handled()
	for got != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("client handled Canceled = %v after the caller cancelled, want 1", got)
		}
		time.Sleep(5 * time.Millisecond)
		families, got = handled()
	}
	if got := series(families, "grpc_client_handling_seconds"); got != 1 {
		t.Errorf("client latency series = %d, want 1", got)
	}
}
