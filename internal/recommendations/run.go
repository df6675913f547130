package recommendations

import (
	"context"
	"errors"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Deps are what Run needs from the process: the common ones, and where
// the books come from.
type Deps struct {
	process.Deps
	// Books is the feed of the catalog's books. Optional: without it, Run
	// follows the Catalog at Config.CatalogHost.
	Books BookFeed
}

// Run runs Recommendations on deps.Listener until ctx is done: it follows
// the catalog's books into memory, serves the tutorial's Recommend and
// LiveRecommendationsService from them, with health and reflection, and
// then shuts down gracefully. Its health is NOT_SERVING until it holds a
// whole snapshot of the catalog.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := deps.Validate(); err != nil {
		deps.Close()
		return err
	}
	feed := deps.Books
	if feed == nil {
		if cfg.CatalogHost == "" {
			deps.Close()
			return errors.New("recommendations: no books: name a Catalog (CatalogHost) or give a feed (Deps.Books)")
		}
		target, err := rpc.Target(cfg.CatalogHost, catalogclient.DefaultPort)
		if err != nil {
			deps.Close()
			return err
		}
		conn, err := rpc.Dial(target, rpc.ClientConfig{TLS: deps.ClientTLS, Metrics: deps.Metrics, Tracing: deps.Tracing})
		if err != nil {
			deps.Close()
			return err
		}
		defer conn.Close()
		feed = catalogclient.New(conn, rpc.DefaultCallTimeout).WithWatchLimit(cfg.MaxBooks)
		deps.Logger.Info("following the Catalog", "target", target)
	}
	books := NewBooks(cfg.MaxBooks)
	books.metrics = newMetrics(deps.Metrics)
	srv, err := newGRPCServer(cfg, books, deps.Deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Recommendations serving gRPC", "addr", deps.Listener.Addr().String(), "tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error { books.Follow(ctx, feed, deps.Logger); return nil },
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) })
}

// NewGRPCServer returns a gRPC server with Recommend and
// LiveRecommendationsService registered over books, authorized by Policy
// when deps' TLS verifies client certificates, counted in deps.Metrics,
// its live streams capped as DefaultConfig says. It is SERVING once books
// is ready.
func NewGRPCServer(books *Books, deps process.Deps) (*rpc.Server, error) {
	return newGRPCServer(DefaultConfig(), books, deps)
}

// newGRPCServer is NewGRPCServer with cfg's caps on live streams. One
// connection may hold a caller's every live stream and its other calls
// besides: a caller past its cap gets RESOURCE_EXHAUSTED, at once, rather
// than waiting, in its gRPC client, for a place on the connection.
func newGRPCServer(cfg Config, books *Books, deps process.Deps) (*rpc.Server, error) {
	m := newMetrics(deps.Metrics)
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	scfg.Ready = books.Ready()
	scfg.MaxConcurrentStreams = uint32(cfg.perCaller() + rpc.DefaultMaxConcurrentStreams)
	// A stream's window stays at HTTP/2's 64 KiB rather than grow with
	// the connection's bandwidth: what a client sends and the server has
	// not read waits in it. The connection's window is opened as data
	// comes, read or not; 1 MiB lets many streams send at once.
	srv := rpc.NewServer(scfg, grpc.StaticStreamWindowSize(64<<10), grpc.StaticConnWindowSize(1<<20))
	recommendationspb.RegisterRecommendationsServer(srv, NewServer(m.counting(New(books, nil)), deps.Logger))
	live := NewLiveServer(func() *Session { return NewSession(books, nil) }, deps.Logger)
	live.metrics = m
	live.draining = srv.Draining()
	live.streams = newLiveStreams(cfg.MaxLiveStreams, cfg.perCaller())
	recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, live)
	return srv, nil
}
