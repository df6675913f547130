package checkout

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout/postgres"
	"github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// SweepInterval is how often Run deletes the records of the checkouts
// that ended more than KeyTTL ago.
const SweepInterval = time.Hour

// Run runs the Checkout on deps.Listener until ctx is done: it opens the
// saga log, in PostgreSQL when cfg.Database has a URL (where replicas
// share it) and in the SQLite file cfg.DB otherwise (creating it on first
// start), connects to the Cart, the Catalog, the Inventory, Payments,
// Orders and Promotions at cfg's hosts (it serves while they are down: a
// checkout that needs one fails with UNAVAILABLE, or waits for it,
// recorded; without Promotions, carts are quoted and charged at their
// full price), serves CheckoutService with health and reflection,
// NOT_SERVING while the saga log's database does not answer, takes up
// the unfinished checkouts (those no other replica works on) at once and
// then every
// cfg.RecoverInterval, deletes the records of the checkouts ended more
// than KeyTTL ago every SweepInterval, and then shuts down gracefully:
// the calls in flight and the checkouts running get deps.DrainTimeout,
// together, to end (an unfinished one is taken up at the next start).
func Run(ctx context.Context, cfg Config, deps process.Deps) error {
	if err := deps.Validate(); err != nil {
		deps.Close()
		return err
	}
	targets := make(map[string]string)
	for _, d := range cfg.dependencies() {
		t, err := rpc.Target(*d.host, d.port)
		if err != nil {
			deps.Close()
			return err
		}
		targets[d.name] = t
	}
	cfg.Database.Logger = deps.Logger // told of each attempt while it waits for the database
	db, where, replica, err := openDatabase(ctx, cfg)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while opening: nothing was served, nothing lost
		}
		return err
	}
	defer deps.CloseLogged("database", db)
	deps.Logger.Info("checkout database open", "db", where, "replica", replica)
	conns := make(map[string]*grpc.ClientConn, len(targets))
	for name, t := range targets {
		conn, err := rpc.Dial(t, rpc.ClientConfig{TLS: deps.ClientTLS, Metrics: deps.Metrics, Tracing: deps.Tracing})
		if err != nil {
			deps.Close()
			return err
		}
		defer conn.Close()
		conns[name] = conn
	}
	timeout := cfg.CallTimeout
	opts := cfg.options()
	opts.Logger, opts.Metrics, opts.Replica = deps.Logger, deps.Metrics, replica
	svc := NewService(Deps{
		Carts: cartclient.New(conns["cart"], timeout),
		// Quotes and orders price their books without a call to the Catalog
		// for the books priced lately (catalogclient.Cache).
		Catalog: catalogclient.Cached(catalogclient.New(conns["catalog"], timeout), cfg.CatalogCache),
		// Quotes say how many copies are left from a count kept a moment
		// (inventoryclient.StockCache); orders reserve at the Inventory.
		Inventory:  inventoryclient.WithStockCache(inventoryclient.New(conns["inventory"], timeout), cfg.StockCache),
		Payments:   paymentsclient.New(conns["payments"], timeout),
		Orders:     ordersclient.New(conns["orders"], timeout),
		Promotions: promotionsclient.New(conns["promotions"], timeout),
		Store:      db,
	}, opts)
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Checkout serving gRPC", "addr", deps.Listener.Addr().String(), "cart", targets["cart"], "catalog", targets["catalog"],
		"inventory", targets["inventory"], "payments", targets["payments"], "orders", targets["orders"], "promotions", targets["promotions"],
		"tracing", deps.Tracing != nil)
	return process.RunAll(ctx,
		func(ctx context.Context) error { return recoverLoop(ctx, svc, cfg.RecoverInterval, deps.Logger) },
		func(ctx context.Context) error { return srv.Watch(ctx, cfg.ReadyInterval, db.Ping) },
		func(ctx context.Context) error {
			// One drain budget, from when the drain begins (ctx ends, or
			// RunWithHealth returns), for the calls in flight and the
			// checkouts they started alike: the two one after the other
			// took up to twice deps.DrainTimeout, past the 15 s that
			// Compose gives a container to stop.
			drain, cancel := context.WithCancel(context.Background())
			defer cancel()
			begin := sync.OnceValue(func() *time.Timer { return time.AfterFunc(deps.DrainTimeout, cancel) })
			defer context.AfterFunc(ctx, func() { begin() })()
			err := srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener)
			defer begin().Stop()
			svc.Wait(drain)
			return err
		})
}

// database is where Run keeps the saga log: an SQLite file, or
// PostgreSQL.
type database interface {
	Store
	// Ping returns nil while the database answers: readiness.
	Ping(ctx context.Context) error
	Close() error
}

// sqliteReplica is the name of the one process that uses an SQLite saga
// log, in the leases it takes (see Options.Replica): the same at every
// start, so that a restart takes up at once the checkouts its last run
// held.
const sqliteReplica = "sqlite"

// openDatabase opens the PostgreSQL database of cfg.Database when it has
// a URL, and the SQLite file cfg.DB otherwise, each created and migrated
// as needed. It returns the database, its name for the log, which shows
// no password, and the name of this process among the replicas that use
// it: on PostgreSQL, the host's name and a random part, new at each
// start (the leases of a replica that died expire by themselves).
func openDatabase(ctx context.Context, cfg Config) (db database, where, replica string, err error) {
	if cfg.Database.URL != "" {
		pg, err := postgres.Open(ctx, cfg.Database)
		if err != nil {
			return nil, "", "", err
		}
		host, _ := os.Hostname()
		return pg, pg.String(), cmp.Or(host, "checkout") + "-" + bookshop.NewID()[:8], nil
	}
	lite, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		return nil, "", "", err
	}
	return lite, "SQLite " + cfg.DB, sqliteReplica, nil
}

// recoverLoop takes up the unfinished checkouts at once and then every
// interval (process.Every), and deletes the records of the old ended ones
// every SweepInterval, until ctx is done; it returns nil then. A failure
// is logged and tried again at the next turn.
func recoverLoop(ctx context.Context, svc *Service, interval time.Duration, logger *slog.Logger) error {
	var swept time.Time
	return process.Every(ctx, interval, func(ctx context.Context) {
		n, err := svc.Recover(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Error("take up unfinished checkouts", "err", err)
		case n > 0:
			logger.Info("unfinished checkouts taken up", "checkouts", n)
		}
		if now := time.Now(); now.Sub(swept) >= SweepInterval {
			swept = now
			n, err := svc.SweepEnded(ctx, now)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				logger.Error("delete the records of old checkouts", "err", err)
			case n > 0:
				logger.Info("records of old checkouts deleted", "deleted", n)
			}
		}
	})
}

// NewGRPCServer returns a gRPC server with CheckoutService registered
// over svc, authorized by Policy when deps' TLS verifies client
// certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	srv := rpc.NewServer(scfg)
	checkoutv1.RegisterCheckoutServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The promises of the Checkout's parts, checked by the compiler.
var (
	_ database   = (*sqlite.DB)(nil)
	_ database   = (*postgres.DB)(nil)
	_ Carts      = (*cartclient.Client)(nil)
	_ Catalog    = (*catalogclient.Client)(nil)
	_ Catalog    = (*catalogclient.Cache)(nil)
	_ Inventory  = (*inventoryclient.Client)(nil)
	_ Inventory  = (*inventoryclient.CachedStock)(nil)
	_ Payments   = (*paymentsclient.Client)(nil)
	_ Orders     = (*ordersclient.Client)(nil)
	_ Promotions = (*promotionsclient.Client)(nil)
)
