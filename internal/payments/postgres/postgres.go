// Package postgres keeps the Payments service's charges in PostgreSQL,
// through pgx v5 (see platform/pgdb), in the schema "payments": the
// service's storage when it is given a database URL, where several
// replicas may share one database.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that the data moves between the two as it is:
// a charge with its idempotency key, its amount, its state and, of the
// card, only the brand and the last four digits; nothing here ever sees
// a card's number or CVC. Beside the charges, the keys cancelled before
// they made one.
//
// Every change is one pgdb.DB.Tx. A key's changes (AddCharge, CancelKey)
// first take a transaction-level advisory lock of the key's own (see
// keyLock), then look the key up in both tables: two replicas that
// charge with one key, or charge and cancel it at once, take turns, so
// that a key makes one charge at most, and is never both charged and
// cancelled. The unique constraint on the key is the last guard: its
// violation is answered by running again, which finds the other's charge.
// A Refund updates its charge's row, which PostgreSQL locks, only while it
// is approved: a charge is refunded once, whichever replicas refund it at
// once. Reads are single statements on the pool.
//
// While the database cannot be reached, or a connection to it is lost,
// every method fails with the kernel's Unavailable (pgdb.Classify), which
// a gRPC caller receives as UNAVAILABLE and may retry.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Payments service's schema.
const Schema = "payments"

// keyConstraint is the unique constraint of the charges' idempotency
// keys, as PostgreSQL names it.
const keyConstraint = "charges_idempotency_key_key"

// DB is the charges in PostgreSQL. It implements the Payments service's
// Store (internal/payments) and is safe for concurrent use; other DBs, in
// this process or others, may use the same database at once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema payments to the
// version this binary knows (see pgdb.Open). It fails if the database
// cannot be reached, or if the schema is newer than this binary knows or
// is another program's. Its errors name the database without its
// password.
func Open(ctx context.Context, st pgdb.Settings) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open payments database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{Name: Schema, Migrations: ms})
	if err != nil {
		return nil, fmt.Errorf("open payments database: %w", err)
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

// millis and fromMillis convert times to and from the database's Unix
// milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// columns are the columns scan reads, in its order.
const columns = `id, idempotency_key, amount_units, currency, brand, last4, state, decline_reason, created, refunded`

// scan reads a charge from row, and reports whether there was one.
func scan(row pgx.Row) (*bookshop.Charge, error) {
	var (
		c        bookshop.Charge
		created  int64
		refunded *int64
	)
	err := row.Scan(&c.ID, &c.Key, &c.Amount.Units, &c.Amount.Currency, &c.Brand, &c.Last4, &c.State, &c.DeclineReason, &created, &refunded)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.Created = fromMillis(created)
	if refunded != nil {
		c.Refunded = fromMillis(*refunded)
	}
	return &c, nil
}

// querier is what the lookups need: the pool, or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// byKey returns the charge made with key, or nil and whether key was
// cancelled. Its two statements may see two moments, which does not
// matter: a key goes from unused to charged or to cancelled, never
// back, so what either finds is still so.
func byKey(ctx context.Context, q querier, key string) (*bookshop.Charge, bool, error) {
	c, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM charges WHERE idempotency_key = $1`, key))
	if err != nil || c != nil {
		return c, false, err
	}
	var cancelled bool
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cancelled_keys WHERE idempotency_key = $1)`, key).Scan(&cancelled)
	return nil, cancelled, err
}

// keyLock returns the key of the advisory lock of idempotency key key:
// the first 8 bytes of the FNV-1a hash of "bookshop payments key " and
// the key. Two keys that share a lock only take turns.
func keyLock(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte("bookshop payments key " + key))
	return int64(h.Sum64())
}

// lockedByKey takes the advisory lock of key until tx ends, so that no
// other change of key, on any replica, interleaves with tx's, then looks
// the key up (see byKey), in one round trip: three statements
// in one batch, the lookups run once the lock is granted.
func lockedByKey(ctx context.Context, tx pgx.Tx, key string) (c *bookshop.Charge, cancelled bool, err error) {
	var b pgx.Batch
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, keyLock(key))
	b.Queue(`SELECT `+columns+` FROM charges WHERE idempotency_key = $1`, key)
	b.Queue(`SELECT EXISTS (SELECT 1 FROM cancelled_keys WHERE idempotency_key = $1)`, key)
	br := tx.SendBatch(ctx, &b)
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("lock key: %w", err)
		}
		if c, err = scan(br.QueryRow()); err != nil {
			return fmt.Errorf("read key: %w", err)
		}
		if err := br.QueryRow().Scan(&cancelled); err != nil {
			return fmt.Errorf("read key: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read key: %w", cerr)
	}
	if c != nil {
		cancelled = false // a key that charged was never cancelled
	}
	return c, cancelled, err
}

// ChargeByID returns charge id, or nil when there is none.
func (db *DB) ChargeByID(ctx context.Context, id string) (*bookshop.Charge, error) {
	c, err := scan(db.db.Pool.QueryRow(ctx, `SELECT `+columns+` FROM charges WHERE id = $1`, id))
	if err != nil {
		return nil, pgdb.Classify(fmt.Errorf("read charge %s: %w", id, err))
	}
	return c, nil
}

// ChargeByKey returns the charge made with idempotency key key; or nil,
// and whether the key was cancelled.
func (db *DB) ChargeByKey(ctx context.Context, key string) (*bookshop.Charge, bool, error) {
	c, cancelled, err := byKey(ctx, db.db.Pool, key)
	if err != nil {
		return nil, false, pgdb.Classify(fmt.Errorf("read the charge of key %s: %w", key, err))
	}
	return c, cancelled, nil
}

// AddCharge records c, a new charge (its ID, Key, Amount, Brand, Last4,
// State, DeclineReason and Created set), in one transaction that holds
// its key's lock and looks the key up first: when the key made a charge,
// it records nothing and returns that one as prior; when the key was
// cancelled, it records nothing and returns cancelled.
func (db *DB) AddCharge(ctx context.Context, c bookshop.Charge) (prior *bookshop.Charge, cancelled bool, err error) {
	add := func(tx pgx.Tx) error {
		prior, cancelled = nil, false
		var err error
		prior, cancelled, err = lockedByKey(ctx, tx, c.Key)
		if err != nil {
			return fmt.Errorf("add charge %s: %w", c.ID, err)
		}
		if prior != nil || cancelled {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO charges (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`,
			c.ID, c.Key, c.Amount.Units, c.Amount.Currency, c.Brand, c.Last4, c.State, c.DeclineReason, millis(c.Created)); err != nil {
			return fmt.Errorf("add charge %s: %w", c.ID, err)
		}
		return nil
	}
	err = db.db.Tx(ctx, add)
	if pgdb.UniqueViolation(err, keyConstraint) {
		// A writer that took no lock recorded the key since this one
		// looked: run again, it finds that one's charge.
		err = db.db.Tx(ctx, add)
	}
	if err != nil {
		return nil, false, err
	}
	return prior, cancelled, nil
}

// CancelKey cancels idempotency key key, at now, unless it made a charge,
// in one transaction that holds the key's lock: it returns the charge
// when there is one, and records nothing; otherwise it records the key
// cancelled (once: a key cancelled again keeps its first time) and
// returns nil.
func (db *DB) CancelKey(ctx context.Context, key string, now time.Time) (*bookshop.Charge, error) {
	var c *bookshop.Charge
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		var (
			cancelled bool
			err       error
		)
		c, cancelled, err = lockedByKey(ctx, tx, key)
		if err != nil {
			return fmt.Errorf("cancel key %s: %w", key, err)
		}
		if c != nil || cancelled {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cancelled_keys (idempotency_key, cancelled) VALUES ($1, $2)`, key, millis(now)); err != nil {
			return fmt.Errorf("cancel key %s: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Refund marks charge id refunded at now if it is approved, in one
// transaction, and returns it as it is then: refunded (at now by this
// call, or earlier), or declined as it was; nil when there is no charge
// id. The update locks the charge's row: a Refund at the same time, on
// any replica, waits for it, and then finds the charge refunded.
func (db *DB) Refund(ctx context.Context, id string, now time.Time) (*bookshop.Charge, error) {
	var c *bookshop.Charge
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE charges SET state = 'refunded', refunded = $1 WHERE id = $2 AND state = 'approved'`, millis(now), id); err != nil {
			return fmt.Errorf("refund charge %s: %w", id, err)
		}
		var err error
		c, err = scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM charges WHERE id = $1`, id))
		if err != nil {
			return fmt.Errorf("refund charge %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
