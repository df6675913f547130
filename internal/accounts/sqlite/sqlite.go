// Package sqlite keeps the Accounts service's customers and sessions in an
// SQLite database, through modernc.org/sqlite, a driver in pure Go (no
// cgo).
//
// The database is one file. Open creates it when it is missing and applies
// the schema migrations embedded in the binary. Every write is one
// transaction, committed with synchronous=FULL: when a method returns, its
// change is on the disk, and a sign-up or sign-in acknowledged to the
// shopper survives a crash or a power cut. Writes take turns on one
// connection; reads go through a pool of read-only connections, and do not
// wait for writes.
//
// One process writes the file: the Accounts service runs as one replica.
package sqlite

import (
	"context"
	"crypto/sha256"
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

// readers is the most read-only connections open at once to a file:
// reads (a session's lookup, on every page a signed-in shopper opens) run
// beside each other and beside a write, which WAL allows.
const readers = 4

// DB is the accounts database. It implements the Accounts service's Store
// (internal/accounts) and is safe for concurrent use.
type DB struct {
	pools *sqlitedb.DB // writes through Write, one at a time; reads through Read
}

// Open opens the accounts database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if the
// file is not a Bookshop accounts database or has a newer schema than this
// binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open accounts database %q: %w", path, err)
	}
	// FULL, not NORMAL: in WAL mode NORMAL may lose the last transactions
	// at a power cut, and a customer told "account opened" must find the
	// account.
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: readers})
	if err != nil {
		return nil, fmt.Errorf("open accounts database %q: %w", path, err)
	}
	if err := sqlitedb.Migrate(ctx, pools, sqlitedb.Schema{Name: "accounts database", Migrations: ms}); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open accounts database %q: %w", path, err)
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

// AddCustomer implements the Accounts service's Store.
func (db *DB) AddCustomer(ctx context.Context, c bookshop.Customer, passwordHash string, tokenHash [sha256.Size]byte, expires time.Time) (bookshop.Customer, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return bookshop.Customer{}, fmt.Errorf("add customer: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	r, err := tx.ExecContext(ctx, `INSERT INTO customers (email, name, password_hash, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (email) DO NOTHING`, c.Email, c.Name, passwordHash, millis(c.Created))
	if err != nil {
		return bookshop.Customer{}, fmt.Errorf("add customer: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return bookshop.Customer{}, fmt.Errorf("add customer: %w", err)
		}
		return bookshop.Customer{}, bookshop.Errorf(bookshop.Exists, "an account with this email already exists")
	}
	id, err := r.LastInsertId()
	if err != nil {
		return bookshop.Customer{}, fmt.Errorf("add customer: %w", err)
	}
	c.ID = int32(id)
	if err := insertSession(ctx, tx, c.ID, tokenHash, c.Created, expires); err != nil {
		return bookshop.Customer{}, err
	}
	if err := tx.Commit(); err != nil {
		return bookshop.Customer{}, fmt.Errorf("add customer: commit: %w", err)
	}
	c.Created = fromMillis(millis(c.Created)) // as it reads back
	return c, nil
}

func insertSession(ctx context.Context, tx *sqlitedb.Tx, id int32, tokenHash [sha256.Size]byte, created, expires time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, customer_id, created, expires) VALUES (?, ?, ?, ?)`,
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
	err := db.pools.QueryRowContext(ctx, `SELECT id, email, name, password_hash, created FROM customers WHERE email = ?`, email).
		Scan(&c.ID, &c.Email, &c.Name, &hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return bookshop.Customer{}, "", bookshop.Errorf(bookshop.NotFound, "no account with this email")
	}
	if err != nil {
		return bookshop.Customer{}, "", fmt.Errorf("read customer: %w", err)
	}
	c.Created = fromMillis(created)
	return c, hash, nil
}

// SetPasswordHash implements the Accounts service's Store.
func (db *DB) SetPasswordHash(ctx context.Context, id int32, passwordHash string) error {
	if _, err := db.pools.ExecContext(ctx, `UPDATE customers SET password_hash = ? WHERE id = ?`, passwordHash, id); err != nil {
		return fmt.Errorf("set password hash of customer %d: %w", id, err)
	}
	return nil
}

// AddSession implements the Accounts service's Store.
func (db *DB) AddSession(ctx context.Context, id int32, tokenHash [sha256.Size]byte, created, expires time.Time, maxPerCustomer int) (int, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("add session: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := insertSession(ctx, tx, id, tokenHash, created, expires); err != nil {
		return 0, err
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE customer_id = ?1 AND id NOT IN (
		SELECT id FROM sessions WHERE customer_id = ?1 ORDER BY id DESC LIMIT ?2)`, id, maxPerCustomer)
	if err != nil {
		return 0, fmt.Errorf("add session: end the oldest: %w", err)
	}
	ended, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("add session: end the oldest: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("add session: commit: %w", err)
	}
	return int(ended), nil
}

// Session implements the Accounts service's Store.
func (db *DB) Session(ctx context.Context, tokenHash [sha256.Size]byte) (bookshop.Session, error) {
	var (
		s                bookshop.Session
		expires, created int64
	)
	err := db.pools.QueryRowContext(ctx, `SELECT s.expires, c.id, c.email, c.name, c.created
		FROM sessions s JOIN customers c ON c.id = s.customer_id WHERE s.token_hash = ?`, tokenHash[:]).
		Scan(&expires, &s.Customer.ID, &s.Customer.Email, &s.Customer.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return bookshop.Session{}, bookshop.Errorf(bookshop.NotFound, "no such session")
	}
	if err != nil {
		return bookshop.Session{}, fmt.Errorf("read session: %w", err)
	}
	s.Expires, s.Customer.Created = fromMillis(expires), fromMillis(created)
	return s, nil
}

// DeleteSession implements the Accounts service's Store.
func (db *DB) DeleteSession(ctx context.Context, tokenHash [sha256.Size]byte) (bool, error) {
	r, err := db.pools.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash[:])
	if err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	return n > 0, nil
}

// DeleteExpired implements the Accounts service's Store.
func (db *DB) DeleteExpired(ctx context.Context, t time.Time) (int, error) {
	r, err := db.pools.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, millis(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// CountSessions implements the Accounts service's Store.
func (db *DB) CountSessions(ctx context.Context, t time.Time) (int, error) {
	var n int
	if err := db.pools.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE expires > ?`, millis(t)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// CountCustomers returns the number of accounts, for the log at start.
func (db *DB) CountCustomers(ctx context.Context) (int, error) {
	var n int
	if err := db.pools.QueryRowContext(ctx, `SELECT count(*) FROM customers`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count customers: %w", err)
	}
	return n, nil
}
