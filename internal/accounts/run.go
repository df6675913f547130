package accounts

import (
	"context"

	"github.com/bookshop-go/bookshop/internal/accounts/postgres"
	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Run runs the Accounts service on deps.Listener until ctx is done: it
// opens the database, PostgreSQL when cfg.Database has a URL and the
// SQLite file cfg.DB otherwise (creating it on first start), serves
// AccountsService with health and reflection, NOT_SERVING while the
// database does not answer, deletes expired sessions at once and every
// SweepInterval, then shuts down gracefully.
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
	opts := cfg.options()
	opts.Logger, opts.Metrics = deps.Logger, deps.Metrics
	svc, err := NewService(ctx, db, opts)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	customers, err := db.CountCustomers(ctx)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	deps.Logger.Info("Accounts serving gRPC", "addr", deps.Listener.Addr().String(), "db", where, "customers", customers,
		"session_ttl", cfg.SessionTTL.String(), "signups_per_hour", cfg.SignUpsPerHour, "tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) },
		func(ctx context.Context) error { return srv.Watch(ctx, cfg.ReadyInterval, db.Ping) },
		func(ctx context.Context) error { return svc.RunSweeper(ctx, SweepInterval) })
}

// database is where Run keeps the accounts: an SQLite file, or
// PostgreSQL.
type database interface {
	Store
	// CountCustomers returns the number of accounts, for the log at start.
	CountCustomers(ctx context.Context) (int, error)
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

// NewGRPCServer returns a gRPC server with AccountsService registered over
// svc, authorized by Policy when deps' TLS verifies client certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	accountsv1.RegisterAccountsServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The Service's promises, checked by the compiler.
var (
	_ bookshop.Accounts = (*Service)(nil)
	_ database          = (*sqlite.DB)(nil)
	_ database          = (*postgres.DB)(nil)
)
