package rpc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// seenContext is a Recommender that remembers what the context of the
// last call carried.
type seenContext struct {
	next bookshop.Recommender

	mu          sync.Mutex
	span        trace.SpanContext
	traceparent []string
}

func (s *seenContext) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	s.mu.Lock()
	s.span = trace.SpanContextFromContext(ctx)
	s.traceparent = metadata.ValueFromIncomingContext(ctx, "traceparent")
	s.mu.Unlock()
	return s.next.Recommend(ctx, req)
}

// startObserved serves the built-in catalog's recommendations with the
// given telemetry, and returns a client with the same.
func startObserved(tb testing.TB, metrics *telemetry.Metrics, tracing *telemetry.Tracing) (recommendationspb.RecommendationsClient, *seenContext) {
	tb.Helper()
	books, err := catalogfile.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	seen := &seenContext{next: recommendations.New(books, nil)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := rpc.NewServer(rpc.ServerConfig{Logger: logger, DrainTimeout: time.Second, Metrics: metrics, Tracing: tracing})
	recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(seen, logger))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	conn, err := rpc.Dial(lis.Addr().String(), rpc.ClientConfig{Metrics: metrics, Tracing: tracing})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("gRPC server: %v", err)
		}
	})
	return recommendationspb.NewRecommendationsClient(conn), seen
}

var homepageRequest = &recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 3}

// TestTracingOffDoesNothing checks that a server and client without
// Tracing neither make spans nor send trace context.
func TestTracingOffDoesNothing(t *testing.T) {
	client, seen := startObserved(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Recommend(ctx, homepageRequest); err != nil {
		t.Fatal(err)
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if seen.span.IsValid() {
		t.Errorf("handler's context has span %v without tracing, want none", seen.span)
	}
	if len(seen.traceparent) != 0 {
		t.Errorf("call carried traceparent %q without tracing, want none", seen.traceparent)
	}
}

// TestTracingOnPropagates checks the other side: with Tracing, the client
// sends W3C trace context and the handler runs in the server span, a child
// of the client's.
func TestTracingOnPropagates(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	client, seen := startObserved(t, nil, telemetry.NewTracing(tp))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Recommend(ctx, homepageRequest); err != nil {
		t.Fatal(err)
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if !seen.span.IsValid() || !seen.span.IsSampled() {
		t.Fatalf("handler's context has span %v, want a sampled one", seen.span)
	}
	if len(seen.traceparent) != 1 || len(seen.traceparent[0]) != 55 {
		t.Errorf("call carried traceparent %q, want one W3C traceparent", seen.traceparent)
	}
}

// BenchmarkRecommendTelemetry measures the cost of each part of the
// telemetry on a Recommend call, client and server together, with 50 calls
// in flight, so that ns/op is the CPU time a call costs:
//
//   - off: no metrics, no tracing (no OTEL_EXPORTER_OTLP_ENDPOINT, no
//     ADMIN_ADDR): the servers and clients have no telemetry handler or
//     interceptor at all, so this is the cost of the call itself;
//   - metrics: the Prometheus interceptors on both sides;
//   - tracing-unsampled: the OpenTelemetry handlers with a sampler that
//     keeps nothing: what tracing would cost if it were merely "not
//     sampled" rather than off;
//   - tracing: every call sampled, spans dropped by a no-op exporter.
func BenchmarkRecommendTelemetry(b *testing.B) {
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	always := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	b.Cleanup(func() {
		never.Shutdown(context.Background())
		always.Shutdown(context.Background())
	})
	for _, bc := range []struct {
		name    string
		metrics *telemetry.Metrics
		tracing *telemetry.Tracing
	}{
		{"off", nil, nil},
		{"metrics", telemetry.NewMetrics(), nil},
		{"tracing-unsampled", nil, telemetry.NewTracing(never)},
		{"tracing", nil, telemetry.NewTracing(always)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client, _ := startObserved(b, bc.metrics, bc.tracing)
			ctx := benchContext(b)
			b.ReportAllocs()
			b.SetParallelism(25) // 50 calls in flight on two cores, as BenchmarkRecommend
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.Recommend(ctx, homepageRequest); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
