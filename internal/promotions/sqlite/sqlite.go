// Package sqlite keeps the promotion's claims in an SQLite database,
// through modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing and
// applies the schema migrations embedded in the binary. It holds when the
// service first ran each campaign (that campaign's start by default), and
// the claims: each checkout's claim of its customer's one use of a
// campaign (package claim's records), under the customer and the
// checkout's key, with the discount it was given and the campaign's code.
// A unique index lets at most one claim of a customer be held or
// confirmed for each campaign: a customer who used one campaign may use
// the next. The times are the caller's (each method takes its now), in
// milliseconds, so that tests can set the clock.
//
// Changes are serialized: one connection writes, and each change is one
// transaction that takes SQLite's write lock as it begins (BEGIN
// IMMEDIATE), so that what it reads is still so when it writes, against
// other goroutines and other processes. A change is on disk before it
// returns: the write-ahead log is synced at each commit
// (synchronous=FULL), so that a claim acknowledged survives a power cut,
// not only a crash. Reads go through a pool of read-only connections,
// and do not wait for writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
	"github.com/bookshop-go/bookshop/internal/promotions/claim"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// maxReaders is the most read-only connections open at once.
const maxReaders = 4

// sweepBatch is how many records DeleteEnded deletes in one transaction,
// so that a large sweep holds the write lock only briefly at a time.
const sweepBatch = 500

// DB is the promotion's claims in SQLite. It is safe for concurrent use.
type DB struct {
	pools *sqlitedb.DB // Write: one connection, every change; Read: the reads
}

// Open opens the promotions database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if
// the file is not a Bookshop promotions database or has a newer schema
// than this binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open promotions database %q: %w", path, err)
	}
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: maxReaders})
	if err != nil {
		return nil, fmt.Errorf("open promotions database %q: %w", path, err)
	}
	if err := sqlitedb.Migrate(ctx, pools, sqlitedb.Schema{Name: "promotions database", Migrations: ms}); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open promotions database %q: %w", path, err)
	}
	return &DB{pools: pools}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Ping returns nil when the database answers, for readiness.
func (db *DB) Ping(ctx context.Context) error { return db.pools.Read.PingContext(ctx) }

// FirstStart returns when the service first ran the campaign of code on
// this database: now, recorded, on the first call for code; what was
// recorded then on every later call, across restarts. Each campaign has
// its own.
func (db *DB) FirstStart(ctx context.Context, code string, now time.Time) (time.Time, error) {
	if _, err := db.pools.ExecContext(ctx, `INSERT INTO campaign_starts (code, started_at) VALUES (?, ?) ON CONFLICT (code) DO NOTHING`,
		code, now.UnixMilli()); err != nil {
		return time.Time{}, fmt.Errorf("record the first start of %s: %w", code, err)
	}
	var ms int64
	if err := db.pools.Write.QueryRowContext(ctx, `SELECT started_at FROM campaign_starts WHERE code = ?`, code).Scan(&ms); err != nil {
		return time.Time{}, fmt.Errorf("read the first start of %s: %w", code, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Usage returns what customerID has done with their use of the campaign
// of code at now: whether a claim of theirs of code was confirmed, and
// whether one is held and expires after now. One statement, so one
// snapshot.
func (db *DB) Usage(ctx context.Context, customerID int32, code string, now time.Time) (claim.Usage, error) {
	var u claim.Usage
	err := db.pools.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM claims WHERE customer_id = ?1 AND discount_code = ?2 AND state = 'confirmed'),
		EXISTS (SELECT 1 FROM claims WHERE customer_id = ?1 AND discount_code = ?2 AND state = 'held' AND expires_at > ?3)`,
		customerID, code, now.UnixMilli()).Scan(&u.Spent, &u.Held)
	if err != nil {
		return claim.Usage{}, fmt.Errorf("read the use of customer %d: %w", customerID, err)
	}
	return u, nil
}

// Update changes the claim of customerID's key in one transaction: it
// records as expired, at now, the customer's claims held past their
// expiry; reads the key's claim and the customer's live one of the
// campaign of code; calls decide with them; and writes the claim decide
// returns, unless it is own unchanged. It returns the claim as it leaves it (the zero Claim when
// there is none), and how many claims it recorded as expired. It writes
// nothing, and returns decide's error, when decide fails; the expiries
// are then not recorded either (a later call records them).
func (db *DB) Update(ctx context.Context, customerID int32, code, key string, now time.Time, decide claim.Decide) (claim.Claim, int, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: begin: %w", customerID, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	at := now.UnixMilli()
	res, err := tx.ExecContext(ctx, `UPDATE claims SET state = 'expired', updated_at = ?2
		WHERE customer_id = ?1 AND state = 'held' AND expires_at <= ?2`, customerID, at)
	if err != nil {
		return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: expire: %w", customerID, err)
	}
	expired, err := res.RowsAffected()
	if err != nil {
		return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: expire: %w", customerID, err)
	}
	own, err := readClaim(ctx, tx, `customer_id = ? AND idempotency_key = ?`, customerID, key)
	if err != nil {
		return claim.Claim{}, 0, err
	}
	live, err := readClaim(ctx, tx, `customer_id = ? AND discount_code = ? AND state IN ('held', 'confirmed')`, customerID, code)
	if err != nil {
		return claim.Claim{}, 0, err
	}
	next, err := decide(own, live)
	if err != nil {
		return claim.Claim{}, 0, err
	}
	if own != nil && next == *own || own == nil && next == (claim.Claim{}) {
		if err := tx.Commit(); err != nil { // the expiries
			return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: commit: %w", customerID, err)
		}
		return next, int(expired), nil
	}
	if next.CustomerID != customerID || next.Key != key {
		return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: the rule returned the claim of customer %d, key %q", customerID, next.CustomerID, next.Key)
	}
	d := next.Discount
	if _, err := tx.ExecContext(ctx, `INSERT INTO claims (customer_id, idempotency_key, state,
			discount_units, discount_currency, discount_book_id, discount_code, created_at, expires_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8)
		ON CONFLICT (customer_id, idempotency_key) DO UPDATE SET state = excluded.state,
			discount_units = excluded.discount_units, discount_currency = excluded.discount_currency,
			discount_book_id = excluded.discount_book_id, discount_code = excluded.discount_code,
			expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
		customerID, key, next.State, d.Amount.Units, d.Amount.Currency, d.BookID, d.Code, at, next.Expires.UnixMilli()); err != nil {
		return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: write: %w", customerID, err)
	}
	if err := tx.Commit(); err != nil {
		return claim.Claim{}, 0, fmt.Errorf("claim of customer %d: commit: %w", customerID, err)
	}
	next.Expires = time.UnixMilli(next.Expires.UnixMilli()).UTC()
	next.Updated = time.UnixMilli(at).UTC()
	return next, int(expired), nil
}

// readClaim reads the claim that where selects, or nil when none does.
func readClaim(ctx context.Context, tx *sqlitedb.Tx, where string, args ...any) (*claim.Claim, error) {
	var (
		c                claim.Claim
		expires, updated int64
	)
	err := tx.QueryRowContext(ctx, `SELECT customer_id, idempotency_key, state,
		discount_units, discount_currency, discount_book_id, discount_code, expires_at, updated_at
		FROM claims WHERE `+where, args...).Scan(&c.CustomerID, &c.Key, &c.State,
		&c.Discount.Amount.Units, &c.Discount.Amount.Currency, &c.Discount.BookID, &c.Discount.Code, &expires, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read claim: %w", err)
	}
	c.Expires, c.Updated = time.UnixMilli(expires).UTC(), time.UnixMilli(updated).UTC()
	return &c, nil
}

// Expire records as expired, at now, in one transaction, the claims held
// whose expiry is at or before now, and returns how many.
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	res, err := db.pools.ExecContext(ctx, `UPDATE claims SET state = 'expired', updated_at = ?1
		WHERE state = 'held' AND expires_at <= ?1`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("expire claims: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expire claims: %w", err)
	}
	return int(n), nil
}

// DeleteEnded deletes the released and expired claims whose state last
// changed before before, a few hundred per transaction, and returns how
// many. Confirmed claims are kept for good: they are the customers' uses.
// It stops early, with ctx's error, when ctx ends.
func (db *DB) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		res, err := db.pools.ExecContext(ctx, `DELETE FROM claims WHERE (customer_id, idempotency_key) IN (
			SELECT customer_id, idempotency_key FROM claims WHERE state IN ('released', 'expired') AND updated_at < ? LIMIT ?)`, before.UnixMilli(), sweepBatch)
		if err != nil {
			return deleted, fmt.Errorf("delete ended claims: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("delete ended claims: %w", err)
		}
		deleted += int(n)
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
