package cart

import (
	"context"
	"log/slog"
	"time"

	"github.com/bookshop-go/bookshop/internal/cart/postgres"
	"github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// SweepInterval is how often Run deletes the guests' carts that have
// outlived Config.GuestTTL, and the idempotency keys older than KeyTTL.
const SweepInterval = time.Hour

// Run runs the Cart on deps.Listener until ctx is done: it opens the
// database, PostgreSQL when cfg.Database has a URL and the SQLite file
// cfg.DB otherwise (creating it on first start), connects to the Catalog
// at cfg.CatalogHost (it serves while the Catalog is down: counts work,
// pricing fails with UNAVAILABLE), serves CartService with health and
// reflection, NOT_SERVING while the database does not answer, sweeps the
// idle guests' carts and the idempotency keys past KeyTTL at once and
// every SweepInterval, and then shuts down gracefully.
func Run(ctx context.Context, cfg Config, deps process.Deps) error {
	if err := deps.Validate(); err != nil {
		deps.Close()
		return err
	}
	target, err := rpc.Target(cfg.CatalogHost, catalogclient.DefaultPort)
	if err != nil {
		deps.Close()
		return err
	}
	cfg.Database.Logger = deps.Logger // told of each attempt while it waits for the database
	db, where, err := openDatabase(ctx, cfg)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while opening: nothing was served, nothing lost
		}
		return err
	}
	defer deps.CloseLogged("database", db)
	deps.Logger.Info("cart database open", "db", where)
	conn, err := rpc.Dial(target, rpc.ClientConfig{TLS: deps.ClientTLS, Metrics: deps.Metrics, Tracing: deps.Tracing})
	if err != nil {
		deps.Close()
		return err
	}
	defer conn.Close()
	// A change prices its cart without a call to the Catalog for the books
	// priced lately (catalogclient.Cache).
	books := catalogclient.Cached(catalogclient.New(conn, rpc.DefaultCallTimeout), cfg.CatalogCache)
	svc := NewService(db, books, Options{Logger: deps.Logger, Metrics: deps.Metrics, GuestTTL: cfg.GuestTTL})
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Cart serving gRPC", "addr", deps.Listener.Addr().String(), "catalog", target, "tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error {
			return process.Every(ctx, SweepInterval, func(ctx context.Context) { sweep(ctx, svc, deps.Logger) })
		},
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) },
		func(ctx context.Context) error { return srv.Watch(ctx, cfg.ReadyInterval, db.Ping) })
}

// database is where Run keeps the carts: an SQLite file, or PostgreSQL.
type database interface {
	Store
	// Ping returns nil while the database answers: readiness.
	Ping(ctx context.Context) error
	Close() error
}

// openDatabase opens the PostgreSQL database of cfg.Database when it has
// a URL, and the SQLite file cfg.DB otherwise, each created and migrated
// as needed. It returns the database and its name for the log, which
// shows no password.
func openDatabase(ctx context.Context, cfg Config) (database, string, error) {
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database)
		if err != nil {
			return nil, "", err
		}
		return db, db.String(), nil
	}
	db, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		return nil, "", err
	}
	return db, "SQLite " + cfg.DB, nil
}

// sweep deletes the idle guests' carts and the old idempotency keys; Run
// calls it at once and then every SweepInterval (process.Every). A
// failed sweep is logged and tried again at the next.
func sweep(ctx context.Context, svc *Service, logger *slog.Logger) {
	now := time.Now()
	n, err := svc.SweepGuests(ctx, now)
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		logger.Error("sweep guests' carts", "err", err)
	case n > 0:
		logger.Info("swept idle guests' carts", "deleted", n)
	}
	n, err = svc.SweepKeys(ctx, now)
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		logger.Error("sweep idempotency keys", "err", err)
	case n > 0:
		logger.Info("swept old idempotency keys", "deleted", n)
	}
}

// NewGRPCServer returns a gRPC server with CartService registered over
// svc, authorized by Policy when deps' TLS verifies client certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	cartv1.RegisterCartServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promises of the Cart's parts, checked by the compiler.
var (
	_ database = (*sqlite.DB)(nil)
	_ database = (*postgres.DB)(nil)
	_ Catalog  = (*catalogclient.Client)(nil)
	_ Catalog  = (*catalogclient.Cache)(nil)
)
