// Package sqlite keeps the Payments service's charges in an SQLite
// database, through modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing and applies
// the schema migrations embedded in the binary. A charge is kept with its
// idempotency key, its amount, its state and, of the card, only the brand
// and the last four digits: nothing here ever sees a card's number or
// CVC. Beside the charges, the keys cancelled before they made one.
//
// Every change is one transaction that takes SQLite's write lock as it
// begins (BEGIN IMMEDIATE), and looks the key up inside it: two charges
// with one key, from any number of goroutines, cannot both be recorded.
// A change is on the disk when its method returns (synchronous=FULL): a
// charge acknowledged survives a crash or a power cut. Reads go through a
// pool of read-only connections, and do not wait for writes.
//
// One process writes the file: the Payments service runs as one replica
// on it. Replicas share a PostgreSQL database instead (package postgres).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// readers is the most read-only connections open at once to a file.
const readers = 4

// DB is the payments database. It implements the Payments service's Store
// (internal/payments) and is safe for concurrent use.
type DB struct {
	pools *sqlitedb.DB // writes through Write, one at a time; reads through Read
}

// Open opens the payments database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if the
// file is not a Bookshop payments database or has a newer schema than this
// binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open payments database %q: %w", path, err)
	}
	// FULL: a charge acknowledged must never be lost, or a retry with its
	// key would charge again.
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: readers})
	if err != nil {
		return nil, fmt.Errorf("open payments database %q: %w", path, err)
	}
	if err := sqlitedb.Migrate(ctx, pools, sqlitedb.Schema{Name: "payments database", Migrations: ms}); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open payments database %q: %w", path, err)
	}
	return &DB{pools: pools}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Ping returns nil when the database answers, for readiness: a file that
// is open always does, unless its disk fails.
func (db *DB) Ping(ctx context.Context) error { return db.pools.Read.PingContext(ctx) }

// millis and fromMillis convert times to and from the database's Unix
// milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// columns are the columns scan reads, in its order.
const columns = `id, idempotency_key, amount_units, currency, brand, last4, state, decline_reason, created, refunded`

// scan reads a charge from row, and reports whether there was one.
func scan(row *sql.Row) (*bookshop.Charge, error) {
	var (
		c        bookshop.Charge
		created  int64
		refunded sql.NullInt64
	)
	err := row.Scan(&c.ID, &c.Key, &c.Amount.Units, &c.Amount.Currency, &c.Brand, &c.Last4, &c.State, &c.DeclineReason, &created, &refunded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.Created = fromMillis(created)
	if refunded.Valid {
		c.Refunded = fromMillis(refunded.Int64)
	}
	return &c, nil
}

// querier is what the lookups need: the pools (reads of Read) or a
// transaction, each query prepared once (see sqlitedb.Tx).
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// byKey returns the charge made with key, or nil and whether key was
// cancelled.
func byKey(ctx context.Context, q querier, key string) (*bookshop.Charge, bool, error) {
	c, err := scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM charges WHERE idempotency_key = ?`, key))
	if err != nil || c != nil {
		return c, false, err
	}
	var one int
	err = q.QueryRowContext(ctx, `SELECT 1 FROM cancelled_keys WHERE idempotency_key = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return nil, err == nil, err
}

// ChargeByID returns charge id, or nil when there is none.
func (db *DB) ChargeByID(ctx context.Context, id string) (*bookshop.Charge, error) {
	c, err := scan(db.pools.QueryRowContext(ctx, `SELECT `+columns+` FROM charges WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("read charge %s: %w", id, err)
	}
	return c, nil
}

// ChargeByKey returns the charge made with idempotency key key; or nil,
// and whether the key was cancelled.
func (db *DB) ChargeByKey(ctx context.Context, key string) (*bookshop.Charge, bool, error) {
	c, cancelled, err := byKey(ctx, db.pools, key)
	if err == nil && (c != nil || cancelled) {
		err = db.pools.Durable() // what the key did is answered again: on the disk first
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the charge of key %s: %w", key, err)
	}
	return c, cancelled, nil
}

// AddCharge records c, a new charge (its ID, Key, Amount, Brand, Last4,
// State, DeclineReason and Created set), in one transaction that looks
// its key up first: when the key made a charge, it records nothing and
// returns that one as prior; when the key was cancelled, it records
// nothing and returns cancelled.
func (db *DB) AddCharge(ctx context.Context, c bookshop.Charge) (prior *bookshop.Charge, cancelled bool, err error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("add charge %s: begin: %w", c.ID, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	prior, cancelled, err = byKey(ctx, tx, c.Key)
	if err != nil {
		return nil, false, fmt.Errorf("add charge %s: read key: %w", c.ID, err)
	}
	if prior != nil || cancelled {
		// Answered again: on the disk first (the request that made it
		// may still wait for its sync).
		if err := tx.EndReplay(); err != nil {
			return nil, false, fmt.Errorf("add charge %s: %w", c.ID, err)
		}
		return prior, cancelled, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO charges (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		c.ID, c.Key, c.Amount.Units, c.Amount.Currency, c.Brand, c.Last4, c.State, c.DeclineReason, millis(c.Created))
	if err != nil {
		return nil, false, fmt.Errorf("add charge %s: %w", c.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("add charge %s: commit: %w", c.ID, err)
	}
	return nil, false, nil
}

// CancelKey cancels idempotency key key, at now, unless it made a charge,
// in one transaction: it returns the charge when there is one, and
// records nothing; otherwise it records the key cancelled (once: a key
// cancelled again keeps its first time) and returns nil.
func (db *DB) CancelKey(ctx context.Context, key string, now time.Time) (*bookshop.Charge, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("cancel key %s: begin: %w", key, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	c, cancelled, err := byKey(ctx, tx, key)
	if err != nil {
		return nil, fmt.Errorf("cancel key %s: %w", key, err)
	}
	if c != nil || cancelled {
		if err := tx.EndReplay(); err != nil { // answered again: on the disk first
			return nil, fmt.Errorf("cancel key %s: %w", key, err)
		}
		return c, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cancelled_keys (idempotency_key, cancelled) VALUES (?, ?)`, key, millis(now)); err != nil {
		return nil, fmt.Errorf("cancel key %s: %w", key, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cancel key %s: commit: %w", key, err)
	}
	return nil, nil
}

// Refund marks charge id refunded at now if it is approved, in one
// transaction, and returns it as it is then: refunded (at now by this
// call, or earlier), or declined as it was; nil when there is no charge
// id.
func (db *DB) Refund(ctx context.Context, id string, now time.Time) (*bookshop.Charge, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("refund charge %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `UPDATE charges SET state = 'refunded', refunded = ? WHERE id = ? AND state = 'approved'`, millis(now), id); err != nil {
		return nil, fmt.Errorf("refund charge %s: %w", id, err)
	}
	c, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM charges WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("refund charge %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("refund charge %s: commit: %w", id, err)
	}
	return c, nil
}
