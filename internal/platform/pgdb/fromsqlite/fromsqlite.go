// Package fromsqlite moves a service's data from its SQLite file to its
// PostgreSQL schema, and proves that it arrived: the engine of `bookshop
// migrate-data`. It knows no service: it compares the two databases'
// tables, copies every row of each, and checks every row after.
//
// A move ([Move]) goes in steps:
//
//  1. Plan: the tables of the file (but schema_migrations) and those of the
//     schema must be the same, with the same columns, of kinds that keep
//     their values (integer, text, blob, real), and the same primary key;
//     a difference is a bug in one of the two stores, and the move stops
//     before it writes, naming each (see [Plan]).
//  2. Check the target: each table must be empty, or hold exactly the
//     first rows of the file's in primary-key order, as a move cut off
//     half-way leaves it. Anything else (rows the file does not have, or
//     has otherwise) is another shop's data, or the file changed since:
//     the move refuses to merge into it, before it writes anything.
//  3. Copy, parents before children (foreign keys), each table in
//     primary-key order from where the target's rows end, in batches of
//     Options.BatchRows rows, a transaction each, with INSERT ... ON
//     CONFLICT DO NOTHING: a move killed at any point (kill -9 included)
//     leaves whole batches, and run again it goes on from there, so that
//     no row is lost and none is copied twice.
//  4. Sequences: each column that PostgreSQL numbers (an identity or a
//     serial) is set past the largest value copied, and past the largest
//     SQLite ever gave (its AUTOINCREMENT counter), so that a new row never
//     takes an old one's number.
//  5. Verify: every table is read again on both sides, in primary-key
//     order, and each row turned into one canonical text (see [Checksum])
//     whose SHA-256 over the table, and the number of rows, must be the
//     same; and each sequence must give next a number past those of step
//     4, or the next insert would collide. When they are not, the move
//     says which table, how many rows each side has, and the first row
//     that differs (or the sequence short), and returns an error: it
//     never reports success over a difference.
//
// The file is opened read-only ([OpenSource]): the move never changes
// it. Messages name the PostgreSQL database by its redacted URL
// (pgdb.Redact), never its password.
package fromsqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// DefaultBatchRows is how many rows a batch copies, in one transaction,
// unless Options say otherwise.
const DefaultBatchRows = 1000

// MaxBatchRows bounds Options.BatchRows: one batch is one statement, and
// PostgreSQL takes at most 65,535 parameters in one.
const MaxBatchRows = 10_000

// maxParams is the most parameters PostgreSQL takes in one statement.
const maxParams = 65535

// Source is a service's SQLite file, open read-only.
type Source struct {
	db   *sql.DB
	path string
}

// OpenSource opens the SQLite file at path read-only: nothing is written
// to it, and a missing file is an error rather than a new, empty one. It
// fails if path holds ? or #, if there is no file, or if the file is not
// an SQLite database.
func OpenSource(ctx context.Context, path string) (*Source, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("SQLite file %s: the path must not contain ? or #", path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("SQLite file %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("SQLite file %s: %w", path, err)
	}
	db.SetMaxOpenConns(2) // a stream of rows, and a query beside it
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("SQLite file %s: %w", path, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("SQLite file %s: not an SQLite database: %w", path, err)
	}
	return &Source{db: db, path: path}, nil
}

// Version returns the file's schema version: the latest migration
// recorded in its schema_migrations. It fails for a file without that
// table: not a Bookshop database.
func (s *Source) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("SQLite file %s: no schema version (is it a Bookshop database?): %w", s.path, err)
	}
	return v, nil
}

// Path returns the file's path, as given.
func (s *Source) Path() string { return s.path }

// Close closes the file.
func (s *Source) Close() error { return s.db.Close() }

// Target is a service's schema in PostgreSQL, which its own Open has
// made and migrated: the move writes rows, never tables.
type Target struct {
	pool   *pgxpool.Pool
	schema string
	where  string // the URL, redacted
}

// OpenTarget connects to the database at url, every connection's
// search_path schema, with a few connections. It does not create or
// migrate the schema: the service's own Open does. Its errors name the
// database by its redacted URL, and leave out pgx's text where that
// could quote the URL.
func OpenTarget(ctx context.Context, url, schema string) (*Target, error) {
	where := pgdb.Redact(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL %s does not parse: want postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE, or key=value pairs", where)
	}
	// The lock's own connection, a stream of rows being read, and a batch
	// being written or a second stream.
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = "bookshop-migrate-data"
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgdb.DefaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", where, err)
	}
	return &Target{pool: pool, schema: schema, where: where}, nil
}

// made reports whether the schema has been made by a service's Open: it
// has a schema_migrations table.
func (t *Target) made(ctx context.Context) (bool, error) {
	var ok bool
	err := t.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'schema_migrations')`, t.schema).Scan(&ok)
	return ok, err
}

// Close closes the connections.
func (t *Target) Close() { t.pool.Close() }

// String names the target for messages: its URL, redacted, and schema.
func (t *Target) String() string { return t.where + " schema " + t.schema }

// Options are the choices of a move.
type Options struct {
	// BatchRows is how many rows one transaction copies: 0 is
	// DefaultBatchRows; at most MaxBatchRows. A table of many columns
	// takes fewer, to stay within PostgreSQL's parameters per statement.
	BatchRows int
	// Progress, if not nil, is told of each table as it is copied (Step
	// Copied) and as it is verified (Verified, or Differs).
	Progress func(Step, TableReport)
}

// Step is what Progress is told a table has been through.
type Step int

const (
	// Copied: the table's rows are all in PostgreSQL (Rows, Before,
	// Copied and CopyTime are set).
	Copied Step = iota
	// Verified: both sides have the same rows (Checksum and VerifyTime
	// are set).
	Verified
	// Differs: the two sides differ (Problem says how).
	Differs
)

// TableReport is what a move did with one table.
type TableReport struct {
	Table      string
	Rows       int64         // rows in the SQLite table (when Copied: in PostgreSQL now, Before+Copied)
	Before     int64         // rows PostgreSQL had already, from an earlier run cut off
	Copied     int64         // rows this run inserted
	CopyTime   time.Duration // to check the target and copy
	VerifyTime time.Duration // to read both sides again and compare
	Verified   bool          // both sides have the same rows
	Checksum   string        // the SHA-256 of the table's canonical rows, hex; SQLite's when they differ
	Problem    string        // how they differ, when not Verified
}

// Report is what a move did.
type Report struct {
	Source    string        // the SQLite file
	Target    string        // the database (redacted) and schema
	Tables    []TableReport // in the order copied: parents first
	Sequences []string      // each sequence set: "customers.id: next 20001"
	Time      time.Duration
}

// Rows returns the rows of every table, as the SQLite file has them.
func (r Report) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// Verified reports whether every table was verified.
func (r Report) Verified() bool {
	for _, t := range r.Tables {
		if !t.Verified {
			return false
		}
	}
	return len(r.Tables) > 0
}

// ErrNotVerified is what Move and Verify return, wrapped in an error
// that names each table that differs and how, when the two sides are not
// the same.
var ErrNotVerified = errors.New("not verified")

// ErrOtherData is what Move returns, wrapped, when the target holds rows
// that are not the first rows of the file's: another shop's data, or a
// file changed since an earlier run. Nothing was written.
var ErrOtherData = errors.New("the PostgreSQL schema holds other data")

// ErrBusy is what Move returns, wrapped, when another move of the same
// schema is running.
var ErrBusy = errors.New("another migrate-data is moving this schema")

// Move copies every table of src into dst and verifies them (see the
// package documentation). It returns the report and nil only when every
// table was verified. Errors: the schema not made yet (a service's Open
// makes it), the schemas differ (Plan's), ErrBusy,
// ErrOtherData, ErrNotVerified, each wrapped with what it concerns; and
// those of reading or writing either database, after which the move can
// be run again and goes on from where it stopped.
func Move(ctx context.Context, src *Source, dst *Target, opts Options) (Report, error) {
	return run(ctx, src, dst, opts, true)
}

// Verify compares src and dst as Move's last step does, writing nothing
// (it makes no schema, and sets no sequence): to check a move again
// before switching a service over. It returns the report and nil only
// when every table has the same rows on both sides and every sequence is
// past its column's numbers; otherwise ErrNotVerified, wrapped with each
// difference, or with the schema's absence when it has not been made.
func Verify(ctx context.Context, src *Source, dst *Target, opts Options) (Report, error) {
	return run(ctx, src, dst, opts, false)
}

// run is Move, with copy, and Verify, without.
func run(ctx context.Context, src *Source, dst *Target, opts Options, copyRows bool) (Report, error) {
	start := time.Now()
	rep := Report{Source: src.path, Target: dst.String()}
	if opts.BatchRows == 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.BatchRows < 1 || opts.BatchRows > MaxBatchRows {
		return rep, fmt.Errorf("%d rows a batch: want 1 to %d", opts.BatchRows, MaxBatchRows)
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Step, TableReport) {}
	}

	// One move of a schema at a time: two would each copy what the other
	// is copying. The lock is a session's: a move killed releases it.
	lock, err := dst.pool.Acquire(ctx)
	if err != nil {
		return rep, fmt.Errorf("database %s: %w", dst.where, err)
	}
	defer lock.Release()
	var locked bool
	if err := lock.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(dst.schema)).Scan(&locked); err != nil {
		return rep, fmt.Errorf("database %s: take the lock of the move: %w", dst.where, err)
	}
	if !locked {
		return rep, fmt.Errorf("%s: %w: wait for it to end", dst, ErrBusy)
	}
	defer lock.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey(dst.schema)) //nolint:errcheck // the session's end releases it too

	made, err := dst.made(ctx)
	switch {
	case err != nil:
		return rep, fmt.Errorf("%s: look for the schema: %w", dst, err)
	case !made && copyRows:
		return rep, fmt.Errorf("%s: the schema has not been made: open the service's PostgreSQL store on it first, which makes it", dst)
	case !made:
		return rep, fmt.Errorf("%s: %w: the schema has not been made, so nothing has been moved there", dst, ErrNotVerified)
	}
	tables, err := Plan(ctx, src, dst)
	if err != nil {
		return rep, err
	}
	rep.Tables = make([]TableReport, len(tables))
	for i, t := range tables {
		rep.Tables[i].Table = t.Name
	}

	if copyRows {
		// Check every table before writing to any: a target that holds
		// other data is refused whole.
		resume := make([]position, len(tables))
		for i, t := range tables {
			t0 := time.Now()
			resume[i], err = existing(ctx, src, dst, t)
			if err != nil {
				return rep, err
			}
			rep.Tables[i].Before = resume[i].rows
			rep.Tables[i].CopyTime = time.Since(t0)
		}
		for i, t := range tables {
			t0 := time.Now()
			copied, err := copyTable(ctx, src, dst, t, resume[i], opts.BatchRows)
			rep.Tables[i].Copied = copied
			rep.Tables[i].CopyTime += time.Since(t0)
			if err != nil {
				return rep, fmt.Errorf("copy table %s: %w", t.Name, err)
			}
			rep.Tables[i].Rows = rep.Tables[i].Before + copied
			progress(Copied, rep.Tables[i])
		}
		rep.Sequences, err = resetSequences(ctx, src, dst, tables)
		if err != nil {
			return rep, err
		}
	}

	var differ []string
	for i, t := range tables {
		r := &rep.Tables[i]
		t0 := time.Now()
		v, err := verifyTable(ctx, src, dst, t)
		if err == nil && v.problem == "" {
			v.problem, err = checkSequences(ctx, dst, t)
		}
		r.VerifyTime = time.Since(t0)
		if err != nil {
			return rep, fmt.Errorf("verify table %s: %w", t.Name, err)
		}
		r.Rows, r.Checksum, r.Verified, r.Problem = v.rows, v.checksum, v.problem == "", v.problem
		if r.Verified {
			progress(Verified, *r)
		} else {
			differ = append(differ, "table "+t.Name+": "+v.problem)
			progress(Differs, *r)
		}
	}
	rep.Time = time.Since(start)
	if len(differ) > 0 {
		return rep, fmt.Errorf("%s against %s: %w: %s", src.path, dst, ErrNotVerified, strings.Join(differ, "; "))
	}
	return rep, nil
}

// lockKey returns the key of the advisory lock that one move of schema
// holds: the FNV-1a hash of "bookshop migrate-data " and the schema's
// name, not the key of the service's migrations (pgdb.LockKey).
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("bookshop migrate-data " + schema))
	return int64(h.Sum64())
}
