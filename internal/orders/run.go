package orders

import (
	"context"

	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders/postgres"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Run runs the Orders service on deps.Listener until ctx is done: it
// opens the database, PostgreSQL when cfg.Database has a URL and the
// SQLite file cfg.DB otherwise (creating it on first start), serves
// OrdersService with health and reflection, NOT_SERVING while the
// database does not answer, then shuts down gracefully. It calls no other
// service, and has nothing to finish at start: an order is recorded whole
// or not at all (see packages sqlite and postgres).
func Run(ctx context.Context, cfg Config, deps process.Deps) error {
	if err := deps.Validate(); err != nil {
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
	n, err := db.CountOrders(ctx)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	svc := NewService(db, Options{Logger: deps.Logger, Metrics: deps.Metrics})
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Orders serving gRPC", "addr", deps.Listener.Addr().String(), "db", where, "orders", n, "tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) },
		func(ctx context.Context) error { return srv.Watch(ctx, cfg.ReadyInterval, db.Ping) })
}

// database is where Run keeps the orders: an SQLite file, or PostgreSQL.
type database interface {
	Store
	// CountOrders returns the number of orders, for the log at start.
	CountOrders(ctx context.Context) (int, error)
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

// NewGRPCServer returns a gRPC server with OrdersService registered over
// svc, authorized by Policy when deps' TLS verifies client certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	ordersv1.RegisterOrdersServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promises of the Orders service's parts, checked by the compiler.
var (
	_ database = (*sqlite.DB)(nil)
	_ database = (*postgres.DB)(nil)
)
