package inventory

import (
	"context"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory/postgres"
	"github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// SweepInterval is how often Run records the reservations past their
// expiry as expired, and deletes the records of those that ended more
// than RecordTTL ago. An expired reservation holds nothing from its
// expiry time, swept or not.
const SweepInterval = 30 * time.Second

// Run runs the Inventory on deps.Listener until ctx is done: it opens the
// database, PostgreSQL when cfg.Database has a URL and the SQLite file
// cfg.DB otherwise (creating it on first start, with cfg.Seed), serves
// InventoryService with health and reflection, NOT_SERVING while the
// database does not answer, sweeps the reservations at once and every
// SweepInterval, and then shuts down gracefully.
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
	svc := NewService(db, Options{Logger: deps.Logger, Metrics: deps.Metrics, TTL: cfg.ReservationTTL})
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Inventory serving gRPC", "addr", deps.Listener.Addr().String(), "db", where,
		"reservation_ttl", cfg.ReservationTTL.String(), "tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) },
		func(ctx context.Context) error { return srv.Watch(ctx, cfg.ReadyInterval, db.Ping) },
		func(ctx context.Context) error { return svc.RunSweeper(ctx, SweepInterval) })
}

// database is where Run keeps the stock: an SQLite file, or PostgreSQL.
type database interface {
	Store
	// Ping returns nil while the database answers: readiness.
	Ping(ctx context.Context) error
	Close() error
}

// openDatabase opens the PostgreSQL database of cfg.Database when it has
// a URL, and the SQLite file cfg.DB otherwise, each created and migrated
// as needed and seeded with cfg.Seed when new. It returns the database
// and its name for the log, which shows no password.
func openDatabase(ctx context.Context, cfg Config) (database, string, error) {
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database, cfg.Seed)
		if err != nil {
			return nil, "", err
		}
		return db, db.String(), nil
	}
	db, err := sqlite.Open(ctx, cfg.DB, cfg.Seed)
	if err != nil {
		return nil, "", err
	}
	return db, "SQLite " + cfg.DB, nil
}

// NewGRPCServer returns a gRPC server with InventoryService registered
// over svc, authorized by Policy when deps' TLS verifies client
// certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	inventoryv1.RegisterInventoryServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promises of the Inventory's parts, checked by the compiler.
var (
	_ bookshop.Inventory = (*Service)(nil)
	_ database           = (*sqlite.DB)(nil)
	_ database           = (*postgres.DB)(nil)
)
