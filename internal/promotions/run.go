package promotions

import (
	"context"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/postgres"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
)

// SweepInterval is how often Run records the claims past their expiry as
// expired, and deletes the records of those that ended more than
// RecordTTL ago. An expired claim holds nothing from its expiry time,
// swept or not.
const SweepInterval = 30 * time.Second

// Run runs the Promotions service on deps.Listener until ctx is done: it
// opens the database, PostgreSQL when cfg.Database has a URL and the
// SQLite file cfg.DB otherwise (creating it on first start), records the
// service's first start with its campaign there (the campaign's start by
// default; each campaign has its own), serves PromotionsService with
// health and reflection, NOT_SERVING while the database does not answer,
// sweeps the claims at once and every SweepInterval, and
// then shuts down gracefully. It refuses (a config.UsageError) an end
// without a start that is not after the campaign's first start recorded:
// the campaign would never run.
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
	svc, err := NewService(ctx, db, Options{
		Logger: deps.Logger, Metrics: deps.Metrics, ClaimTTL: cfg.ClaimTTL, Promotion: cfg.Promotion,
		Campaign: bookshop.Campaign{Starts: cfg.Starts, Ends: cfg.Ends},
	})
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	c := svc.Campaign()
	if cfg.Starts.IsZero() && !c.Ends.IsZero() && !c.Ends.After(c.Starts) {
		// Validate checks -ends against -starts; without -starts, the start
		// is the campaign's first start recorded in the database, known
		// only now.
		deps.Close()
		return config.UsageErrorf("-ends or PROMOTIONS_ENDS %s is not after the campaign's start, %s, the service's first start with campaign %s on %s (-starts is empty): "+
			"the campaign would never run; set -starts, or an -ends after it",
			c.Ends.UTC().Format(time.RFC3339), c.Starts.UTC().Format(time.RFC3339), svc.Promotion().Code, where)
	}
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	ends := "never"
	if !c.Ends.IsZero() {
		ends = c.Ends.UTC().Format(time.RFC3339)
	}
	deps.Logger.Info("Promotions serving gRPC", "addr", deps.Listener.Addr().String(), "db", where, "promotion", svc.Promotion().Code,
		"campaign_starts", c.Starts.UTC().Format(time.RFC3339), "campaign_ends", ends,
		"claim_ttl", cfg.ClaimTTL.String(), "tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) },
		func(ctx context.Context) error { return srv.Watch(ctx, cfg.ReadyInterval, db.Ping) },
		func(ctx context.Context) error { return svc.RunSweeper(ctx, SweepInterval) })
}

// database is where Run keeps the claims: an SQLite file, or PostgreSQL.
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

// NewGRPCServer returns a gRPC server with PromotionsService registered
// over svc, authorized by Policy when deps' TLS verifies client
// certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	promotionsv1.RegisterPromotionsServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promises of the Promotions service's parts, checked by the compiler.
var (
	_ bookshop.Promotions = (*Service)(nil)
	_ database            = (*sqlite.DB)(nil)
	_ database            = (*postgres.DB)(nil)
)
