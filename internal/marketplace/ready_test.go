package marketplace_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// Answers of /readyz.
const (
	readyzReady        = "ready\n"
	readyzUnavailable  = "not ready: Recommendations is unavailable\n"
	readyzSlow         = "not ready: Recommendations did not answer within 1s\n"
	readyzShuttingDown = "not ready: shutting down\n"
)

// healthReady serves hs as the health service of a gRPC server on loopback
// until the test ends, and returns the readiness check of Recommendations
// over a client of it, as production wires it.
func healthReady(tb testing.TB, hs healthpb.HealthServer) func(context.Context) error {
	tb.Helper()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	return rpc.HealthReady(mustDial(tb, lis.Addr().String()), "Recommendations")
}

// withoutHealthReady serves, on loopback until the test ends, a plain gRPC
// server without the health service, as the tutorial's, that serves
// Recommendations from rec, or nothing at all for a nil rec, as any other
// gRPC server at the wrong address; and returns the readiness check of
// the Marketplace over a client of it, as Run wires it.
func withoutHealthReady(tb testing.TB, rec bookshop.Recommender) func(context.Context) error {
	tb.Helper()
	srv := grpc.NewServer()
	if rec != nil {
		recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(rec, slog.New(slog.DiscardHandler)))
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	conn := mustDial(tb, lis.Addr().String())
	return marketplace.RecommendationsReady(conn, recommendationsclient.New(conn, 10*time.Second))
}

// silentHealth is a health service whose Check never answers. Its Watch,
// which clients use for client-side health checking, says SERVING.
type silentHealth struct {
	healthpb.UnimplementedHealthServer
}

func (silentHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (silentHealth) Watch(_ *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// wantReadyz fails the test unless r is the plain-text, uncached answer
// of /readyz with status and body.
func wantReadyz(tb testing.TB, r response, status int, body string) {
	tb.Helper()
	if r.status != status || r.body != body {
		tb.Errorf("GET /readyz = %d %q, want %d %q", r.status, r.body, status, body)
	}
	if got, want := r.header.Get("Content-Type"), "text/plain; charset=utf-8"; got != want {
		tb.Errorf("GET /readyz Content-Type = %q, want %q", got, want)
	}
	if got, want := r.header.Get("Cache-Control"), "no-store"; got != want {
		tb.Errorf("GET /readyz Cache-Control = %q, want %q", got, want)
	}
	wantSecurityHeaders(tb, "GET", "/readyz", r)
	wantNoInternalText(tb, "/readyz", r.body)
}

// TestReadyz checks /readyz: 200 when Recommendations' health is SERVING,
// or, from a server without health, when it recommends (or with no check
// configured); 503 with a short reason when it is NOT_SERVING, cannot be
// reached, does not answer within 1s, or, without health, does not serve
// Recommendations either.
func TestReadyz(t *testing.T) {
	notServing := health.NewServer()
	notServing.SetServingStatus("Recommendations", healthpb.HealthCheckResponse_NOT_SERVING)
	tests := []struct {
		name   string
		ready  func(tb testing.TB) func(context.Context) error
		status int
		body   string
	}{
		{"no check", func(testing.TB) func(context.Context) error { return nil }, http.StatusOK, readyzReady},
		{"SERVING", func(tb testing.TB) func(context.Context) error {
			addr := startRecommendations(tb, recommendations.New(builtinCatalog(tb), seededRand()))
			return rpc.HealthReady(mustDial(tb, addr), "Recommendations")
		}, http.StatusOK, readyzReady},
		{"NOT_SERVING", func(tb testing.TB) func(context.Context) error {
			return healthReady(tb, notServing)
		}, http.StatusServiceUnavailable, readyzUnavailable},
		{"closed port", func(tb testing.TB) func(context.Context) error {
			return rpc.HealthReady(mustDial(tb, rpctest.ClosedAddr(tb)), "Recommendations")
		}, http.StatusServiceUnavailable, readyzUnavailable},
		{"no answer", func(tb testing.TB) func(context.Context) error {
			return healthReady(tb, silentHealth{})
		}, http.StatusServiceUnavailable, readyzSlow},
		{"no health service, as the tutorial's", func(tb testing.TB) func(context.Context) error {
			return withoutHealthReady(tb, recommendations.New(builtinCatalog(tb), seededRand()))
		}, http.StatusOK, readyzReady},
		{"no health service and no Recommendations", func(tb testing.TB) func(context.Context) error {
			return withoutHealthReady(tb, nil)
		}, http.StatusServiceUnavailable, readyzUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := testLogger(t)
			srv, _ := startLiveSite(t, marketplace.Options{Logger: logger, Ready: tt.ready(t)})
			start := time.Now()
			r := get(t, srv, "/readyz")
			elapsed := time.Since(start)
			wantReadyz(t, r, tt.status, tt.body)
			// A sanity bound only: the check's deadline is 1s.
			if elapsed > 5*time.Second {
				t.Errorf("GET /readyz took %v, want about 1s at most", elapsed)
			}
			if tt.status != http.StatusOK && !strings.Contains(logs.String(), "not ready") {
				t.Errorf("log does not say why the Marketplace is not ready:\n%s", logs)
			}
			if r := do(t, srv, http.MethodHead, "/readyz"); r.status != tt.status || r.body != "" {
				t.Errorf("HEAD /readyz = %d %q, want %d, no body", r.status, r.body, tt.status)
			}
		})
	}
}

// TestReadyzRecovers checks that /readyz turns 200 soon after
// Recommendations' health turns SERVING.
func TestReadyzRecovers(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("Recommendations", healthpb.HealthCheckResponse_NOT_SERVING)
	srv, _ := startLiveSite(t, marketplace.Options{Ready: healthReady(t, hs)})
	wantReadyz(t, get(t, srv, "/readyz"), http.StatusServiceUnavailable, readyzUnavailable)

	hs.SetServingStatus("Recommendations", healthpb.HealthCheckResponse_SERVING)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := get(t, srv, "/readyz")
		if r.status == http.StatusOK {
			wantReadyz(t, r, http.StatusOK, readyzReady)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz 5s after Recommendations turned SERVING = %d %q, want 200", r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzShutdown checks that /readyz answers 503 once Options.Shutdown
// is closed, while /healthz still answers ok.
func TestReadyzShutdown(t *testing.T) {
	shutdown := make(chan struct{})
	srv, _ := startLiveSite(t, marketplace.Options{Shutdown: shutdown, Ready: func(context.Context) error { return nil }})
	wantReadyz(t, get(t, srv, "/readyz"), http.StatusOK, readyzReady)
	close(shutdown)
	wantReadyz(t, get(t, srv, "/readyz"), http.StatusServiceUnavailable, readyzShuttingDown)
	if r := get(t, srv, "/healthz"); r.status != http.StatusOK {
		t.Errorf("GET /healthz at shutdown = %d, want 200", r.status)
	}
}

// countingReady is a readiness check that counts its calls, takes a
// moment, and records the deadline it was given.
type countingReady struct {
	calls    atomic.Int32
	deadline atomic.Int64 // of the last call, as time until it, in ns
}

func (c *countingReady) ready(ctx context.Context) error {
	c.calls.Add(1)
	if d, ok := ctx.Deadline(); ok {
		c.deadline.Store(int64(time.Until(d)))
	}
	time.Sleep(50 * time.Millisecond)
	return nil
}

// TestReadyzSharesChecks checks that /readyz, which is not rate limited,
// cannot be made to flood Recommendations with checks: requests at once
// share one check, which has a deadline of 1s, and its answer is reused
// for a moment.
func TestReadyzSharesChecks(t *testing.T) {
	check := new(countingReady)
	srv, _ := startLiveSite(t, marketplace.Options{Ready: check.ready})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := get(t, srv, "/readyz"); r.status != http.StatusOK {
				t.Errorf("GET /readyz = %d, want 200", r.status)
			}
		})
	}
	wg.Wait()
	if got := check.calls.Load(); got != 1 {
		t.Errorf("20 requests at once ran %d checks, want 1", got)
	}
	if d := time.Duration(check.deadline.Load()); d <= 0 || d > time.Second {
		t.Errorf("the check had %v left until its deadline, want at most 1s", d)
	}
	time.Sleep(1100 * time.Millisecond)
	get(t, srv, "/readyz")
	if got := check.calls.Load(); got != 2 {
		t.Errorf("a request a second later ran %d checks in all, want 2", got)
	}
}
