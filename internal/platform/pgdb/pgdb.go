// Package pgdb opens the PostgreSQL database that a service keeps its data
// in, when it is given one instead of its SQLite file, through a bounded
// pgx v5 pool, and brings the service's schema to the version of the
// binary with the migrations the service embeds.
//
// What is the same for every service is here: the settings (a URL and the
// pool's bounds, see [Settings]), a schema per service (every connection's
// search_path, created if missing), a start that waits for a database
// not up yet, and versioned migrations applied at start under an advisory
// lock so that replicas starting at once migrate once (see [Open]), a
// transaction helper that runs again what PostgreSQL
// aborts for another's sake, with the rule for porting code written for
// SQLite's one writer: lock the rows a decision rests on ([DB.Tx]; and
// [DB.TwoTrips], for rows that every request wants), a [DB.Ping] for
// readiness, on a connection of its own, [Classify], which makes a lost database the kernel's
// Unavailable (UNAVAILABLE to a gRPC caller, who may retry) rather than an
// internal error, and [Redact], which every message that names the
// database goes through so that no password reaches a log or an error.
// What differs stays in the service: its schema name, migrations and
// queries.
package pgdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookshop-go/bookshop/internal/platform/migrations"
)

// The defaults of Settings: a pool that fits a small server, where each
// replica of each service has its own (PostgreSQL's max_connections is 100
// by default: ten services with two replicas at 8 stay under it when idle
// connections close, and 4 connections keep a service's writes moving).
const (
	DefaultMaxConns       = 8
	DefaultMinConns       = 0
	DefaultConnectTimeout = 5 * time.Second
)

// MaxConns bounds Settings.MaxConns: no service needs more from one
// replica, and a mistyped 10000 must not exhaust the server.
const MaxConns = 200

// Schema is the part of a service's database that is the service's own:
// its PostgreSQL schema and the migrations that make it.
type Schema struct {
	// Name is the schema's name, such as "inventory": lower-case letters,
	// digits and _, starting with a letter, at most 63 bytes, not pg_...
	// Every connection's search_path is it alone, so the service's
	// queries name their tables unqualified, as with SQLite.
	Name string
	// Migrations holds the schema changes, one file per version at its
	// root, named NNNN_what.sql (NNNN a version from 1, each version once)
	// and holding SQL statements. A service embeds them (go:embed) and
	// passes the directory through fs.Sub. A migration, once released, is
	// never changed: a later change is a new file.
	Migrations fs.FS
	// Seed, if not nil, fills a new schema: one with no migration
	// recorded, which Open makes in one transaction, every migration and
	// then the seed. If it fails, nothing is recorded, and the next start
	// makes the schema again, seed and all.
	Seed func(ctx context.Context, tx pgx.Tx) error
}

// schemaName is what Schema.Name may be.
var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// check returns an error unless s names a schema Open may use.
func (s Schema) check() error {
	if !schemaName.MatchString(s.Name) || len(s.Name) >= 3 && s.Name[:3] == "pg_" {
		return fmt.Errorf("schema name %q: want lower-case letters, digits and _, starting with a letter, at most 63, not pg_", s.Name)
	}
	return nil
}

// DB is a service's database: a pool of connections whose search_path is
// the service's schema. It is safe for concurrent use. Open makes one.
type DB struct {
	// Pool is the connections, at most Settings.MaxConns. Each statement
	// is prepared once per connection and kept (pgx's statement cache).
	Pool *pgxpool.Pool

	schema string
	where  string // the URL, redacted

	// ping is Ping's connection, apart from the pool's (see Ping),
	// opened on first use and again after it fails.
	pingMu   sync.Mutex
	pingConn *pgx.Conn
	opening  *opening // the opening of pingConn under way, or nil
	pingLost bool     // the last ping failed
	// closing ends with Close (endClosing), and an opening with it;
	// then Ping opens nothing more.
	closing    context.Context
	endClosing context.CancelFunc
}

// opening is the opening of a Ping's connection, which outlives the Ping
// that started it (see Ping). conn and err are set before done closes.
type opening struct {
	done chan struct{}
	conn *pgx.Conn
	err  error
}

// Open connects to the database at st.URL, creates schema s.Name if it is
// missing, and migrates it to the latest of s.Migrations (see
// [DB.migrate]): it returns once the schema is the binary's.
//
// A database that cannot be reached yet (down, starting up, refusing
// connections) is tried again, with pauses that grow from a quarter of a
// second to 5 s, at random within each, until it answers or st.Wait has
// passed since the first attempt; each failed attempt is logged to
// st.Logger at Warn. So a service started before its database, as
// Compose or a rollout may start them, waits for it rather than exiting
// (and, in Kubernetes, looping through restarts).
//
// It fails if the URL does not parse; at once if the server refuses the
// login for a reason that trying again cannot fix (a wrong user or
// password, SQLSTATE class 28; a missing database, 3D000; no right to
// connect, 42501), saying what to check; if the server cannot be reached
// within st.Wait (each attempt bounded by st.ConnectTimeout), with the
// last attempt's error; when ctx ends first, with ctx's error; if the
// schema holds another program's tables; or if its version is newer than
// the binary knows: a replica with an older binary than the schema
// refuses to start, naming both versions. Its errors name the database by
// its redacted URL, never its password.
func Open(ctx context.Context, st Settings, s Schema) (*DB, error) {
	where := Redact(st.URL)
	if err := s.check(); err != nil {
		return nil, err
	}
	ms, err := migrations.Read(s.Migrations)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", s.Name, err)
	}
	cfg, err := st.poolConfig(s.Name)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", where, err)
	}
	db := &DB{Pool: pool, schema: s.Name, where: where}
	db.closing, db.endClosing = context.WithCancel(context.Background())
	if err := db.reach(ctx, st); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.migrate(ctx, ms, s.Seed); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s, schema %s: %w", where, s.Name, err)
	}
	return db, nil
}

// poolConfig returns the pool's configuration for st and schema. Errors:
// a URL that does not parse, or settings out of their bounds; the URL in
// them is redacted, and pgx's own text, which may quote it, is left out.
func (st Settings) poolConfig(schema string) (*pgxpool.Config, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if passwordCut(st.URL) {
		// pgx would take the part of the password after its #, / or ? for
		// the host, and quote it in each error of connecting.
		return nil, fmt.Errorf("database URL %s does not parse: percent-encode the @, #, / and ? of its password (as %%40, %%23, %%2F and %%3F), and an @ in its database name", Redact(st.URL))
	}
	cfg, err := pgxpool.ParseConfig(st.URL)
	if err != nil {
		return nil, fmt.Errorf("database URL %s does not parse: want postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE, or key=value pairs", Redact(st.URL))
	}
	cfg.MaxConns = int32(cmp.Or(st.MaxConns, DefaultMaxConns))
	cfg.MinConns = int32(st.MinConns)
	cfg.ConnConfig.ConnectTimeout = cmp.Or(st.ConnectTimeout, DefaultConnectTimeout)
	params := cfg.ConnConfig.RuntimeParams
	params["search_path"] = schema
	if params["application_name"] == "" {
		params["application_name"] = "bookshop-" + schema
	}
	return cfg, nil
}

// Close closes every connection, waiting for those in use to be given
// back, and stops Ping's opening of its connection if one is under way.
// It returns nil: a pool has nothing to flush.
func (db *DB) Close() error {
	db.endClosing()
	db.Pool.Close()
	db.pingMu.Lock()
	defer db.pingMu.Unlock()
	if o := db.opening; o != nil {
		// At once: endClosing stopped it. pingConn is nil while an
		// opening runs.
		<-o.done
		db.opening, db.pingConn = nil, o.conn
	}
	if db.pingConn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		db.pingConn.Close(ctx)
		db.pingConn = nil
	}
	return nil
}

// Ping returns nil when the database answers within ctx, and otherwise
// an error that names it (redacted), Unavailable when it is Unreachable
// (see Classify): for readiness, which rpc.Server.Watch checks every few
// seconds.
//
// It asks on a connection of its own, not one of the pool's: under load
// every pooled connection may be busy, and a readiness check that waited
// its turn behind them would call a busy service down, and send its
// traffic elsewhere, when its database answers. So a service holds one
// connection more than its pool's MaxConns. The first ping that answers
// after one that did not resets the pool: its connections were likely
// cut with the database's, and the calls after it get new ones rather
// than find the dead ones one by one.
//
// When it has no connection, Ping opens one, and the opening is the
// database's answer (it ends when the server is ready for a query). The
// opening has the connect timeout of the pool's connections, not ctx's:
// a Ping whose ctx ends first returns ctx's error and leaves the opening
// going, for the next Ping to take up (and resets nothing: the database
// is slow, not lost). A busy database may take longer to start a
// connection's process than a check lasts; were each opening given up
// with its check, the next would start again from nothing, and a database
// that is slow, not down, would never be found up.
//
// Ping is made for one caller, the readiness check: calls wait for one
// another.
func (db *DB) Ping(ctx context.Context) error {
	db.pingMu.Lock()
	defer db.pingMu.Unlock()
	if db.closing.Err() != nil {
		return fmt.Errorf("database %s: closed", db.where)
	}
	if err := db.ping(ctx); err != nil {
		if !errors.Is(err, errStillOpening) {
			db.pingLost = true
		}
		return Classify(fmt.Errorf("database %s: %w", db.where, err))
	}
	if db.pingLost {
		db.pingLost = false
		db.Pool.Reset()
	}
	return nil
}

// errStillOpening is ping's error when ctx ends before the opening of its
// connection does.
var errStillOpening = errors.New("still opening a connection (for up to the connect timeout)")

// ping asks the database on Ping's connection; without one, it waits
// within ctx for the opening under way, or starts one. A connection that
// fails is closed, for the next to open anew.
func (db *DB) ping(ctx context.Context) error {
	if o := db.opening; o != nil && ended(o) {
		// It ended while no one waited: its connection is asked now, and
		// its failure, an old one, is not the answer.
		db.opening, db.pingConn = nil, o.conn
	}
	if db.pingConn != nil && !db.pingConn.IsClosed() {
		if err := db.pingConn.Ping(ctx); err != nil {
			db.pingConn.Close(context.WithoutCancel(ctx))
			db.pingConn = nil
			return err
		}
		return nil
	}
	db.pingConn = nil
	o := db.opening
	if o == nil {
		o = db.open()
		db.opening = o
	}
	select {
	case <-o.done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errStillOpening, ctx.Err())
	}
	db.opening = nil
	if o.err != nil {
		return o.err
	}
	db.pingConn = o.conn
	return nil
}

// ended reports whether o has ended.
func ended(o *opening) bool {
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

// open starts opening a connection for Ping, within the connect timeout
// and until Close.
func (db *DB) open() *opening {
	o := &opening{done: make(chan struct{})}
	cfg := db.Pool.Config().ConnConfig // Config returns a copy
	go func() {
		defer close(o.done)
		// One bound for the whole opening (pgx applies its connect
		// timeout to each address it tries, but not to the name lookup).
		ctx, cancel := context.WithTimeout(db.closing, cfg.ConnectTimeout)
		defer cancel()
		o.conn, o.err = pgx.ConnectConfig(ctx, cfg)
	}()
	return o
}

// Schema returns the name of the service's schema.
func (db *DB) Schema() string { return db.schema }

// String names the database for logs: its URL, redacted, and the schema.
func (db *DB) String() string { return db.where + " schema " + db.schema }
