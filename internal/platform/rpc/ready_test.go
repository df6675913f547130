package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// serveHealthOnly serves hs as the only service of a plain gRPC server on
// loopback until the test ends, and returns a client connection to it.
func serveHealthOnly(tb testing.TB, hs healthpb.HealthServer) *grpc.ClientConn {
	tb.Helper()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	return readyConn(tb, lis.Addr().String())
}

// readyConn returns a client connection to addr, closed when the test ends.
func readyConn(tb testing.TB, addr string) *grpc.ClientConn {
	tb.Helper()
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatalf("rpc.Dial(%q): %v", addr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// hangingHealth is a health service whose Check never answers. Its Watch,
// which clients use for client-side health checking, says SERVING.
type hangingHealth struct {
	healthpb.UnimplementedHealthServer
}

func (hangingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (hangingHealth) Watch(_ *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// TestHealthReady checks HealthReady against a Bookshop server, a server
// whose health says NOT_SERVING and then SERVING, a service the server
// does not know, a server without the health service, as the tutorial's,
// and a port nothing listens on.
func TestHealthReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("Bookshop server", func(t *testing.T) {
		books, err := catalogfile.Builtin()
		if err != nil {
			t.Fatalf("catalogfile.Builtin: %v", err)
		}
		conn := readyConn(t, startRecommendations(t, recommendations.New(books, nil)))
		for _, service := range []string{"Recommendations", ""} {
			if err := rpc.HealthReady(conn, service)(ctx); err != nil {
				t.Errorf("HealthReady(%q) = %v, want nil", service, err)
			}
		}
		err = rpc.HealthReady(conn, "NoSuchService")(ctx)
		if got := status.Code(err); got != codes.NotFound {
			t.Errorf("HealthReady(%q) = %v (code %v), want an error wrapping NOT_FOUND", "NoSuchService", err, got)
		}
	})

	t.Run("NOT_SERVING, then SERVING", func(t *testing.T) {
		hs := health.NewServer()
		hs.SetServingStatus("Recommendations", healthpb.HealthCheckResponse_NOT_SERVING)
		ready := rpc.HealthReady(serveHealthOnly(t, hs), "Recommendations")
		err := ready(ctx)
		if err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
			t.Errorf("HealthReady while NOT_SERVING = %v, want an error naming NOT_SERVING", err)
		}
		hs.SetServingStatus("Recommendations", healthpb.HealthCheckResponse_SERVING)
		if err := ready(ctx); err != nil {
			t.Errorf("HealthReady once SERVING = %v, want nil", err)
		}
	})

	t.Run("no health service", func(t *testing.T) {
		srv := grpc.NewServer() // serves nothing: every method is UNIMPLEMENTED
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan struct{})
		go func() { _ = srv.Serve(lis); close(served) }()
		t.Cleanup(srv.Stop)
		ready := rpc.HealthReady(readyConn(t, lis.Addr().String()), "Recommendations")
		for i := range 3 {
			if err := ready(ctx); err != nil {
				t.Fatalf("HealthReady of a server without health, check %d = %v, want nil (UNIMPLEMENTED counts as serving)", i+1, err)
			}
		}
		// Readiness then follows whether the server answers at all.
		srv.Stop()
		<-served
		if err := ready(ctx); status.Code(err) != codes.Unavailable {
			t.Errorf("HealthReady once the server without health stopped = %v, want an error wrapping UNAVAILABLE", err)
		}
	})

	// A server without health checked with a call of the service's own:
	// ready while it serves the service, not when it lacks it too, as any
	// gRPC server on the wrong port does.
	t.Run("no health service, with a probe", func(t *testing.T) {
		serve := func(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
			srv := grpc.NewServer()
			register(srv)
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(lis) }()
			t.Cleanup(srv.Stop)
			return readyConn(t, lis.Addr().String())
		}
		probe := func(conn grpc.ClientConnInterface) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := recommendationspb.NewRecommendationsClient(conn).Recommend(ctx,
					&recommendationspb.RecommendationRequest{UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: 1})
				return err
			}
		}

		withRecs := serve(t, func(srv *grpc.Server) {
			recommendationspb.RegisterRecommendationsServer(srv, recommendations.NewServer(
				recommendations.New(openDB(t, builtinBooks(t)), nil), slog.New(slog.DiscardHandler)))
		})
		if err := rpc.HealthOrProbeReady(withRecs, "Recommendations", probe(withRecs))(ctx); err != nil {
			t.Errorf("HealthOrProbeReady of a server with Recommendations but no health = %v, want nil", err)
		}

		empty := serve(t, func(*grpc.Server) {})
		err := rpc.HealthOrProbeReady(empty, "Recommendations", probe(empty))(ctx)
		if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), `"Recommendations" has no health service, and a call of its own failed`) {
			t.Errorf("HealthOrProbeReady of a server with neither = %v, want an error saying the call failed, wrapping UNIMPLEMENTED", err)
		}
	})

	t.Run("closed port", func(t *testing.T) {
		err := rpc.HealthReady(readyConn(t, rpctest.ClosedAddr(t)), "Recommendations")(ctx)
		if got := status.Code(err); got != codes.Unavailable {
			t.Errorf("HealthReady of a closed port = %v (code %v), want an error wrapping UNAVAILABLE", err, got)
		}
	})

	t.Run("no answer, no deadline", func(t *testing.T) {
		ready := rpc.HealthReady(serveHealthOnly(t, hangingHealth{}), "Recommendations")
		start := time.Now()
		err := ready(context.Background()) // HealthReady sets its own deadline
		if got := status.Code(err); got != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("HealthReady of a server that never answers = %v (code %v), want an error wrapping DEADLINE_EXCEEDED and context.DeadlineExceeded", err, got)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("HealthReady of a server that never answers took %v, want about 1s", elapsed)
		}
	})
}

// TestReconnectsSoon takes a server away for longer than gRPC's own
// backoff lets a client notice its return at once, and brings it back on
// the same address: a client of Dial reaches it again within about its
// ReconnectMaxDelay (200 ms here), where gRPC's default backoff would wait
// until its next attempt, 2 s later or more.
func TestReconnectsSoon(t *testing.T) {
	serve := func(addr string) (*grpc.Server, string) {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		srv := grpc.NewServer()
		healthpb.RegisterHealthServer(srv, health.NewServer())
		go func() { _ = srv.Serve(lis) }()
		return srv, lis.Addr().String()
	}
	srv, addr := serve("127.0.0.1:0")
	conn, err := rpc.Dial(addr, rpc.ClientConfig{ReconnectMaxDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	check := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("Check with the server up: %v", err)
	}
	srv.Stop()
	down := time.Now()
	for time.Since(down) < 3*time.Second {
		_ = check() // the client tries, fails, and backs off
		time.Sleep(50 * time.Millisecond)
	}
	srv, _ = serve(addr)
	t.Cleanup(srv.Stop)
	back := time.Now()
	for check() != nil {
		if time.Since(back) > 5*time.Second {
			t.Fatal("the client did not reach the server within 5 s of its return")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(back); took > time.Second {
		t.Errorf("the client reached the server %v after its return, want within about 200 ms (its ReconnectMaxDelay)", took)
	}
}
