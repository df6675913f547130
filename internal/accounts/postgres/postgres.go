// Package postgres keeps the Accounts service's customers and sessions in
// PostgreSQL, through pgx v5 (see platform/pgdb), in the schema
// "accounts": the service's storage when it is given a database URL,
// where several replicas may share one database.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that the data moves between the two as it is.
// The rules that must hold across replicas rest on the database:
//
//   - An email opens one account: customers.email is UNIQUE, and a
//     sign-up inserts with ON CONFLICT (email) DO NOTHING, so that of two
//     sign-ups of one email at once, on any replicas, the second waits
//     for the first to commit and is told Exists.
//   - The cap of sessions per customer: AddSession locks the customer's
//     row first (FOR UPDATE), so that two sign-ins of one customer at once
//     take turns, and each counts the sessions the other left.
//
// Every change is one pgdb.DB.Tx; reads are one statement on the pool.
// While the database cannot be reached, or a connection to it is lost,
// every method fails with the kernel's Unavailable (pgdb.Classify), which
// a gRPC caller receives as UNAVAILABLE and may retry.
// What the service counts in memory, the throttling of sign-ins and
// sign-ups, is not here: each replica counts its own (see accounts.Limits).
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Accounts service's schema.
const Schema = "accounts"

// DB is the customers and sessions in PostgreSQL. It implements the
// Accounts service's Store (internal/accounts) and is safe for concurrent
// use; other DBs, in this process or others, may use the same database
// at once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema accounts to
// the version this binary knows (see pgdb.Open). It fails if the
// database cannot be reached, or if the schema is newer than this binary
// knows or is another program's. Its errors name the database without
// its password.
func Open(ctx context.Context, st pgdb.Settings) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open accounts database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{Name: Schema, Migrations: ms})
	if err != nil {
		return nil, fmt.Errorf("open accounts database: %w", err)
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

// AddCustomer implements the Accounts service's Store. Of sign-ups of one
// email at once, through any number of DBs, one stores the customer; the
// others wait for it to commit and return Exists, having stored nothing.
func (db *DB) AddCustomer(ctx context.Context, c bookshop.Customer, passwordHash string, tokenHash [sha256.Size]byte, expires time.Time) (bookshop.Customer, error) {
	var id int32
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO customers (email, name, password_hash, created) VALUES ($1, $2, $3, $4)
			ON CONFLICT (email) DO NOTHING RETURNING id`, c.Email, c.Name, passwordHash, millis(c.Created)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return bookshop.Errorf(bookshop.Exists, "an account with this email already exists")
		}
		if err != nil {
			return fmt.Errorf("add customer: %w", err)
		}
		return insertSession(ctx, tx, id, tokenHash, c.Created, expires)
	})
	if err != nil {
		return bookshop.Customer{}, err
	}
	c.ID = id
	c.Created = fromMillis(millis(c.Created)) // as it reads back
	return c, nil
}

// insertSession stores a session of customer id in tx.
func insertSession(ctx context.Context, tx pgx.Tx, id int32, tokenHash [sha256.Size]byte, created, expires time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, customer_id, created, expires) VALUES ($1, $2, $3, $4)`,
		tokenHash[:], id, millis(created), millis(expires))
	if err != nil {
		return fmt.Errorf("add session: %w", err)
	}
	return nil
}

// CustomerByEmail implements the Accounts service's Store.
func (db *DB) CustomerByEmail(ctx context.Context, email string) (bookshop.Customer, string, error) {
	var (
		c       bookshop.Customer
		hash    string
		created int64
	)
	err := db.db.Pool.QueryRow(ctx, `SELECT id, email, name, password_hash, created FROM customers WHERE email = $1`, email).
		Scan(&c.ID, &c.Email, &c.Name, &hash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return bookshop.Customer{}, "", bookshop.Errorf(bookshop.NotFound, "no account with this email")
	}
	if err != nil {
		return bookshop.Customer{}, "", pgdb.Classify(fmt.Errorf("read customer: %w", err))
	}
	c.Created = fromMillis(created)
	return c, hash, nil
}

// SetPasswordHash implements the Accounts service's Store.
func (db *DB) SetPasswordHash(ctx context.Context, id int32, passwordHash string) error {
	if _, err := db.db.Pool.Exec(ctx, `UPDATE customers SET password_hash = $1 WHERE id = $2`, passwordHash, id); err != nil {
		return pgdb.Classify(fmt.Errorf("set password hash of customer %d: %w", id, err))
	}
	return nil
}

// AddSession implements the Accounts service's Store. It locks the
// customer's row before it writes, so that sign-ins of one customer at
// once, through any number of DBs, take turns: the customer is left with
// maxPerCustomer sessions at most, and each session ended is counted by
// the one sign-in that ended it.
func (db *DB) AddSession(ctx context.Context, id int32, tokenHash [sha256.Size]byte, created, expires time.Time, maxPerCustomer int) (int, error) {
	var ended int
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT id FROM customers WHERE id = $1 FOR UPDATE`, id); err != nil {
			return fmt.Errorf("add session: lock customer %d: %w", id, err)
		}
		if err := insertSession(ctx, tx, id, tokenHash, created, expires); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE customer_id = $1 AND id NOT IN (
			SELECT id FROM sessions WHERE customer_id = $1 ORDER BY id DESC LIMIT $2)`, id, maxPerCustomer)
		if err != nil {
			return fmt.Errorf("add session: end the oldest: %w", err)
		}
		ended = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, err
	}
	return ended, nil
}

// Session implements the Accounts service's Store.
func (db *DB) Session(ctx context.Context, tokenHash [sha256.Size]byte) (bookshop.Session, error) {
	var (
		s                bookshop.Session
		expires, created int64
	)
	err := db.db.Pool.QueryRow(ctx, `SELECT s.expires, c.id, c.email, c.name, c.created
		FROM sessions s JOIN customers c ON c.id = s.customer_id WHERE s.token_hash = $1`, tokenHash[:]).
		Scan(&expires, &s.Customer.ID, &s.Customer.Email, &s.Customer.Name, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return bookshop.Session{}, bookshop.Errorf(bookshop.NotFound, "no such session")
	}
	if err != nil {
		return bookshop.Session{}, pgdb.Classify(fmt.Errorf("read session: %w", err))
	}
	s.Expires, s.Customer.Created = fromMillis(expires), fromMillis(created)
	return s, nil
}

// DeleteSession implements the Accounts service's Store. Of deletions of
// one session at once, one reports it.
func (db *DB) DeleteSession(ctx context.Context, tokenHash [sha256.Size]byte) (bool, error) {
	tag, err := db.db.Pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash[:])
	if err != nil {
		return false, pgdb.Classify(fmt.Errorf("delete session: %w", err))
	}
	return tag.RowsAffected() > 0, nil
}

// DeleteExpired implements the Accounts service's Store. Replicas that
// sweep at once delete each session once, and count it once between them.
func (db *DB) DeleteExpired(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.db.Pool.Exec(ctx, `DELETE FROM sessions WHERE expires <= $1`, millis(t))
	if err != nil {
		return 0, pgdb.Classify(fmt.Errorf("delete expired sessions: %w", err))
	}
	return int(tag.RowsAffected()), nil
}

// CountSessions implements the Accounts service's Store.
func (db *DB) CountSessions(ctx context.Context, t time.Time) (int, error) {
	var n int
	if err := db.db.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE expires > $1`, millis(t)).Scan(&n); err != nil {
		return 0, pgdb.Classify(fmt.Errorf("count sessions: %w", err))
	}
	return n, nil
}

// CountCustomers returns the number of accounts, for the log at start.
func (db *DB) CountCustomers(ctx context.Context) (int, error) {
	var n int
	if err := db.db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&n); err != nil {
		return 0, pgdb.Classify(fmt.Errorf("count customers: %w", err))
	}
	return n, nil
}
