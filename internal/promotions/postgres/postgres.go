// Package postgres keeps the promotion's claims in PostgreSQL, through
// pgx v5 (see platform/pgdb), in the schema "promotions": the Promotions
// service's storage when it is given a database URL, where several
// replicas may share one database.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that the data moves between the two as it is,
// and the records those of package claim. Every change of a customer's
// claims (Update) is one pgdb.DB.Tx that first locks the customer's
// claims (FOR UPDATE, in the order of their keys), then records those
// past their expiry as expired, reads the key's claim and the customer's
// live one, and writes what the rule decides: so the claims a decision
// reads are still so when it writes, whichever replica writes at the same
// time, as SQLite's one writer ensures there. A customer's first claim
// has no row to lock: of two transactions that each find no claim held
// and write one, the unique index claims_one_use_per_customer_and_campaign
// (or, for one key, the primary key) refuses the second, which is run
// again and finds the first's. So at most one claim of a customer is held
// or confirmed for each campaign, and one key makes one claim, across
// replicas. Changes of
// different customers do not wait for each other. The sweeper's changes
// pass over the rows that a change holds (SKIP LOCKED): that change
// expires its customer's claims itself, and the next sweep finds the
// others.
//
// While the database cannot be reached, or a connection to it is lost,
// every method fails with the kernel's Unavailable (pgdb.Classify), which
// a gRPC caller receives as UNAVAILABLE and may retry: a claim retried
// with its key finds what the first did, if it committed.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/promotions/claim"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Promotions service's schema.
const Schema = "promotions"

// sweepBatch is how many records DeleteEnded deletes in one statement.
const sweepBatch = 500

// updateRuns bounds how many times Update runs its transaction when a
// unique index refuses its write: each run finds the rows that refused
// the one before, so a second run suffices but for a rare chain.
const updateRuns = 4

// DB is the promotion's claims in PostgreSQL. It is safe for concurrent
// use, and other DBs, in this process or others, may use the same
// database at once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema promotions to
// the version this binary knows (see pgdb.Open). It fails if the
// database cannot be reached, or if the schema is newer than this binary
// knows or is another program's. Its errors name the database without
// its password.
func Open(ctx context.Context, st pgdb.Settings) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open promotions database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{Name: Schema, Migrations: ms})
	if err != nil {
		return nil, fmt.Errorf("open promotions database: %w", err)
	}
	return &DB{db: db}, nil
}

// Close closes the connections.
func (db *DB) Close() error { return db.db.Close() }

// Ping returns nil when the database answers, for readiness; otherwise
// an error that names it, without its password.
func (db *DB) Ping(ctx context.Context) error { return db.db.Ping(ctx) }

// String names the database for logs, without its password.
func (db *DB) String() string { return "PostgreSQL " + db.db.String() }

// FirstStart returns when the service first ran the campaign of code on
// this database: now, recorded, on the first call for code (by whichever
// replica calls first); what was recorded then on every later call. Each
// campaign has its own.
func (db *DB) FirstStart(ctx context.Context, code string, now time.Time) (time.Time, error) {
	var ms int64
	// One statement: the row written, or the one there. A concurrent first
	// write waits for the other's to commit, and returns nothing then; the
	// read after it finds it.
	err := db.db.Pool.QueryRow(ctx, `INSERT INTO campaign_starts (code, started_at) VALUES ($1, $2)
		ON CONFLICT (code) DO NOTHING RETURNING started_at`, code, now.UnixMilli()).Scan(&ms)
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.db.Pool.QueryRow(ctx, `SELECT started_at FROM campaign_starts WHERE code = $1`, code).Scan(&ms)
	}
	if err != nil {
		return time.Time{}, pgdb.Classify(fmt.Errorf("record the first start of %s: %w", code, err))
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Usage returns what customerID has done with their use of the campaign
// of code at now: whether a claim of theirs of code was confirmed, and
// whether one is held and expires after now. One statement, so one
// snapshot.
func (db *DB) Usage(ctx context.Context, customerID int32, code string, now time.Time) (claim.Usage, error) {
	var u claim.Usage
	err := db.db.Pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM claims WHERE customer_id = $1 AND discount_code = $2 AND state = 'confirmed'),
		EXISTS (SELECT 1 FROM claims WHERE customer_id = $1 AND discount_code = $2 AND state = 'held' AND expires_at > $3)`,
		customerID, code, now.UnixMilli()).Scan(&u.Spent, &u.Held)
	if err != nil {
		return claim.Usage{}, pgdb.Classify(fmt.Errorf("read the use of customer %d: %w", customerID, err))
	}
	return u, nil
}

// Update changes the claim of customerID's key in one transaction: it
// locks the customer's claims, records as expired, at now, those held
// past their expiry; reads the key's claim and the customer's live one of
// the campaign of code; calls decide with them; and writes the claim decide returns, unless it
// is own unchanged. It returns the claim as it leaves it (the zero Claim
// when there is none), and how many claims it recorded as expired. It
// writes nothing, and returns decide's error, when decide fails; the
// expiries are then not recorded either (a later call records them).
//
// decide may be called more than once: when PostgreSQL gives the
// transaction up for another's sake (see pgdb.DB.Tx), and when a claim
// written by another replica since this one read the customer's claims
// refuses its write (a unique violation), Update runs it again, and the
// rule decides anew on what it reads then.
func (db *DB) Update(ctx context.Context, customerID int32, code, key string, now time.Time, decide claim.Decide) (claim.Claim, int, error) {
	at := now.UnixMilli()
	var (
		next    claim.Claim
		expired int
	)
	update := func(tx pgx.Tx) error {
		next, expired = claim.Claim{}, 0
		if _, err := tx.Exec(ctx, `SELECT 1 FROM claims WHERE customer_id = $1 ORDER BY idempotency_key FOR UPDATE`, customerID); err != nil {
			return fmt.Errorf("claim of customer %d: lock: %w", customerID, err)
		}
		tag, err := tx.Exec(ctx, `UPDATE claims SET state = 'expired', updated_at = $2
			WHERE customer_id = $1 AND state = 'held' AND expires_at <= $2`, customerID, at)
		if err != nil {
			return fmt.Errorf("claim of customer %d: expire: %w", customerID, err)
		}
		expired = int(tag.RowsAffected())
		own, err := readClaim(ctx, tx, `customer_id = $1 AND idempotency_key = $2`, customerID, key)
		if err != nil {
			return err
		}
		live, err := readClaim(ctx, tx, `customer_id = $1 AND discount_code = $2 AND state IN ('held', 'confirmed')`, customerID, code)
		if err != nil {
			return err
		}
		next, err = decide(own, live)
		if err != nil {
			return err
		}
		if own != nil && next == *own || own == nil && next == (claim.Claim{}) {
			return nil // the expiries alone
		}
		if next.CustomerID != customerID || next.Key != key {
			return fmt.Errorf("claim of customer %d: the rule returned the claim of customer %d, key %q", customerID, next.CustomerID, next.Key)
		}
		d := next.Discount
		if _, err := tx.Exec(ctx, `INSERT INTO claims (customer_id, idempotency_key, state,
				discount_units, discount_currency, discount_book_id, discount_code, created_at, expires_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)
			ON CONFLICT (customer_id, idempotency_key) DO UPDATE SET state = excluded.state,
				discount_units = excluded.discount_units, discount_currency = excluded.discount_currency,
				discount_book_id = excluded.discount_book_id, discount_code = excluded.discount_code,
				expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
			customerID, key, next.State, d.Amount.Units, d.Amount.Currency, d.BookID, d.Code, at, next.Expires.UnixMilli()); err != nil {
			return fmt.Errorf("claim of customer %d: write: %w", customerID, err)
		}
		next.Expires = time.UnixMilli(next.Expires.UnixMilli()).UTC()
		next.Updated = time.UnixMilli(at).UTC()
		return nil
	}
	var err error
	for range updateRuns {
		// A unique violation: another replica's claim of the customer (or
		// of the key) committed since this one looked. Run again: the
		// rule sees it.
		if err = db.db.Tx(ctx, update); !pgdb.UniqueViolation(err, "") {
			break
		}
	}
	if err != nil {
		return claim.Claim{}, 0, err
	}
	return next, expired, nil
}

// readClaim reads the claim that where selects, or nil when none does.
func readClaim(ctx context.Context, tx pgx.Tx, where string, args ...any) (*claim.Claim, error) {
	var (
		c                claim.Claim
		expires, updated int64
	)
	err := tx.QueryRow(ctx, `SELECT customer_id, idempotency_key, state,
		discount_units, discount_currency, discount_book_id, discount_code, expires_at, updated_at
		FROM claims WHERE `+where, args...).Scan(&c.CustomerID, &c.Key, &c.State,
		&c.Discount.Amount.Units, &c.Discount.Amount.Currency, &c.Discount.BookID, &c.Discount.Code, &expires, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read claim: %w", err)
	}
	c.Expires, c.Updated = time.UnixMilli(expires).UTC(), time.UnixMilli(updated).UTC()
	return &c, nil
}

// Expire records as expired, at now, in one statement, the claims held
// whose expiry is at or before now, and returns how many. It passes over
// the claims of a customer whose Update is under way (SKIP LOCKED): that
// Update records them expired itself, or the next Expire does, and
// neither waits for the other.
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE claims SET state = 'expired', updated_at = $1
			WHERE (customer_id, idempotency_key) IN (
				SELECT customer_id, idempotency_key FROM claims WHERE state = 'held' AND expires_at <= $1
				FOR UPDATE SKIP LOCKED)
			AND state = 'held' AND expires_at <= $1`, now.UnixMilli())
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire claims: %w", err)
	}
	return n, nil
}

// DeleteEnded deletes the released and expired claims whose state last
// changed before before, a few hundred per statement, and returns how
// many. Confirmed claims are kept for good: they are the customers' uses.
// A claim that an Update holds is passed over (SKIP LOCKED), and the
// state is checked again on the row as it is when deleted, so that a
// claim held or confirmed again meanwhile is never deleted. It stops
// early, with ctx's error, when ctx ends.
func (db *DB) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		tag, err := db.db.Pool.Exec(ctx, `DELETE FROM claims WHERE (customer_id, idempotency_key) IN (
				SELECT customer_id, idempotency_key FROM claims WHERE state IN ('released', 'expired') AND updated_at < $1
				LIMIT $2 FOR UPDATE SKIP LOCKED)
			AND state IN ('released', 'expired') AND updated_at < $1`, before.UnixMilli(), sweepBatch)
		if err != nil {
			return deleted, pgdb.Classify(fmt.Errorf("delete ended claims: %w", err))
		}
		n := int(tag.RowsAffected())
		deleted += n
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
