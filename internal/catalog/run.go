package catalog

import (
	"cmp"
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogdb"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogfile"
	"github.com/bookshop-go/bookshop/internal/catalog/postgres"
	"github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Run runs the Catalog on deps.Listener until ctx is done: it opens the
// database, PostgreSQL when cfg.Database has a URL and the SQLite file
// cfg.DB otherwise (creating and seeding it on first start), serves
// CatalogService with health and reflection, then shuts down gracefully,
// ending the watches first. On PostgreSQL it follows the imports of the
// other replicas (Service.Follow). While the database does not answer it
// stays SERVING: it serves the catalog it holds in memory, refuses
// imports (UNAVAILABLE), and Follow logs the database away and back.
// Unlike the other services', its health does not follow the database:
// every replica holds the whole catalog, so a database away for a while
// (a restart, a failover) costs imports, not the shop's pages, which a
// readiness that turned every replica unready at once would.
func Run(ctx context.Context, cfg Config, deps process.Deps) error {
	if err := deps.Validate(); err != nil {
		deps.Close()
		return err
	}
	db, err := Open(ctx, cfg, deps)
	if err != nil {
		deps.Close()
		if ctx.Err() != nil {
			return nil // stopped while opening: nothing was served, nothing lost
		}
		return err
	}
	defer deps.CloseLogged("database", db)
	svc := NewService(db, cfg.Currency, cfg.MaxFeedBooks, deps.Metrics)
	srv, err := NewGRPCServer(svc, deps)
	if err != nil {
		deps.Close()
		return err
	}
	deps.Logger.Info("Catalog serving gRPC", "addr", deps.Listener.Addr().String(), "books", db.Len(), "tracing", deps.Tracing != nil)
	// The watches never end by themselves: end them as the server's
	// shutdown begins, so that followers go elsewhere and the graceful
	// stop need not wait.
	defer srv.OnDrain(svc.StopWatches)()
	parts := []func(context.Context) error{
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener) },
	}
	if _, ok := db.(sharedDatabase); ok {
		parts = append(parts, func(ctx context.Context) error { return svc.Follow(ctx, deps.Logger) })
	}
	return process.RunAll(ctx, parts...)
}

// Database is where the Catalog keeps its books: an SQLite file
// (*sqlite.DB), or PostgreSQL (*postgres.DB), shared with other replicas.
type Database interface {
	Store
	bookshop.BookStore
	// Len returns the number of books.
	Len() int
	// TextBytes returns the bytes of the books' titles and authors.
	TextBytes() int64
	// Over reports whether the catalog is past its caps.
	Over() bool
	Close() error
}

// sharedDatabase is a Database that other replicas share, whose imports
// Run follows.
type sharedDatabase interface {
	Database
	Follower
}

// Open opens the Catalog's database as cfg says, creating it and seeding
// it, from cfg.File or the built-in catalog, on first start.
//
// A database of an earlier version has books without a price: they are
// served without one (shown, not sold), and Open logs how many. So it
// does for books priced in another currency than cfg.Currency (the shop's
// currency changed): the Service serves them without a price too, since a
// cart cannot add their prices to the others', and exports them with it.
func Open(ctx context.Context, cfg Config, deps process.Deps) (Database, error) {
	currency := cmp.Or(cfg.Currency, bookshop.DefaultCurrency)
	var (
		seed *bookshop.Shelf
		err  error
	)
	switch {
	case cfg.File != "":
		seed, err = catalogfile.Open(cfg.File, currency)
	case currency != catalogfile.BuiltinCurrency:
		err = fmt.Errorf("the built-in catalog is priced in %s, not %s: seed the catalog from a file priced in %s", catalogfile.BuiltinCurrency, currency, currency)
	default:
		seed, err = catalogfile.Builtin()
	}
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	limits := cfg.Limits()
	cfg.Database.Logger = deps.Logger // told of each attempt while it waits for the database
	db, where, err := openDatabase(ctx, cfg, seed.Books(), limits)
	if err != nil {
		return nil, err
	}
	deps.Logger.Info("catalog database open", "db", where, "books", db.Len(), "text_bytes", db.TextBytes(), "seed", cmp.Or(cfg.File, "built-in"), "currency", currency)
	if db.Over() {
		deps.Logger.Warn("the catalog is larger than its caps: it is served as it is, but every import that adds a book is refused; raise -max-books or -max-text-mib with the memory limit (docs/capacity.md)",
			"books", db.Len(), "max_books", limits.Books, "text_bytes", db.TextBytes(), "max_text_bytes", limits.TextBytes)
	}
	var unpriced, foreign int
	for _, b := range db.All() {
		switch {
		case b.Price == (bookshop.Money{}):
			unpriced++
		case b.Price.Currency != currency:
			foreign++
		}
	}
	if unpriced > 0 {
		deps.Logger.Warn("books without a price, from an earlier version: they are shown but cannot be bought; re-import them with a price (export the catalog, fill in the price column, and seed a new database from it with -file)", "books", unpriced)
	}
	if foreign > 0 {
		deps.Logger.Warn("books priced in another currency than the shop's: they are shown without a price and cannot be bought; re-import them priced in the shop's currency (export the catalog, convert the price column, and seed a new database from it with -file)", "books", foreign, "currency", currency)
	}
	return db, nil
}

// openDatabase opens the PostgreSQL database of cfg.Database when it has
// a URL, and the SQLite file cfg.DB otherwise, each created and migrated
// as needed and seeded with seed when new, held to limits. It returns the
// database and its name for the log, which shows no password.
func openDatabase(ctx context.Context, cfg Config, seed []bookshop.Book, limits catalogdb.Limits) (Database, string, error) {
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database, seed, limits)
		if err != nil {
			return nil, "", err
		}
		return db, db.String(), nil
	}
	db, err := sqlite.OpenLimited(ctx, cfg.DB, seed, limits)
	if err != nil {
		return nil, "", err
	}
	return db, "SQLite " + cfg.DB, nil
}

// NewGRPCServer returns a gRPC server with CatalogService registered over
// svc, authorized by Policy when deps' TLS verifies client certificates.
func NewGRPCServer(svc *Service, deps process.Deps) (*rpc.Server, error) {
	scfg, err := rpc.ServiceConfig(deps, Policy(), Validators())
	if err != nil {
		return nil, err
	}
	// A stream's window stays at HTTP/2's 64 KiB rather than grow with
	// the connection's bandwidth: what the client of an import that waits
	// for the one before it sends waits unread in it. The connection's
	// window is opened as data comes, read or not; 1 MiB lets an import
	// stream at full speed. (As Recommendations does.)
	srv := rpc.NewServer(scfg, grpc.StaticStreamWindowSize(64<<10), grpc.StaticConnWindowSize(1<<20))
	catalogv1.RegisterCatalogServiceServer(srv, NewServer(svc, deps.Logger))
	return srv, nil
}

// The Service's promises, checked by the compiler.
var (
	_ bookshop.Catalog  = (*Service)(nil)
	_ bookshop.Importer = (*Service)(nil)
	_ Database          = (*sqlite.DB)(nil)
	_ sharedDatabase    = (*postgres.DB)(nil)
)
