// Package sqlite keeps the Accounts service's customers and sessions in an
// SQLite database, through modernc.org/sqlite, a driver in pure Go (no
// cgo).
//
// The database is one file. Open creates it when it is missing and applies
// the schema migrations embedded in the binary. Every write is one
// transaction, committed with synchronous=FULL: when a method returns, its
// change is on the disk, and a sign-up or sign-in acknowledged to the
// shopper survives a crash or a power cut.
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
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = ":memory:"

// maxConns is how many connections a database file gets: reads (a
// session's lookup, on every page a signed-in shopper opens) run beside
// each other and beside a write, which WAL allows; writes take turns
// (_txlock=immediate with a busy timeout).
const maxConns = 4

// DB is the accounts database. It implements the Accounts service's Store
// (internal/accounts) and is safe for concurrent use.
type DB struct {
	db *sql.DB
}

// Open opens the accounts database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if the
// file is not a Bookshop accounts database or has a newer schema than this
// binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open accounts database %q: the path must not contain ? or #", path)
	}
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=foreign_keys(on)"
	if path != Memory {
		// FULL, not NORMAL: in WAL mode NORMAL may lose the last
		// transactions at a power cut, and a customer told "account
		// opened" must find the account.
		dsn += "&_pragma=journal_mode(wal)&_pragma=synchronous(full)"
	}
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open accounts database %q: %w", path, err)
	}
	if path == Memory {
		sqldb.SetMaxOpenConns(1) // an in-memory database lives in its connection
	} else {
		sqldb.SetMaxOpenConns(maxConns)
	}
	sqldb.SetMaxIdleConns(maxConns)
	sqldb.SetConnMaxIdleTime(0)
	sqldb.SetConnMaxLifetime(0)

	db := &DB{db: sqldb}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open accounts database %q: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// millis and fromMillis convert times to and from the database's Unix
// milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// AddCustomer implements the Accounts service's Store.
func (db *DB) AddCustomer(ctx context.Context, c bookshop.Customer, passwordHash string, tokenHash [sha256.Size]byte, expires time.Time) (bookshop.Customer, error) {
	tx, err := db.db.BeginTx(ctx, nil)
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

func insertSession(ctx context.Context, tx *sql.Tx, id int32, tokenHash [sha256.Size]byte, created, expires time.Time) error {
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
	err := db.db.QueryRowContext(ctx, `SELECT id, email, name, password_hash, created FROM customers WHERE email = ?`, email).
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
	if _, err := db.db.ExecContext(ctx, `UPDATE customers SET password_hash = ? WHERE id = ?`, passwordHash, id); err != nil {
		return fmt.Errorf("set password hash of customer %d: %w", id, err)
	}
	return nil
}

// AddSession implements the Accounts service's Store.
func (db *DB) AddSession(ctx context.Context, id int32, tokenHash [sha256.Size]byte, created, expires time.Time, maxPerCustomer int) (int, error) {
	tx, err := db.db.BeginTx(ctx, nil)
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
	err := db.db.QueryRowContext(ctx, `SELECT s.expires, c.id, c.email, c.name, c.created
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
	r, err := db.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash[:])
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
	r, err := db.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, millis(t))
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
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE expires > ?`, millis(t)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}

// CountCustomers returns the number of accounts, for the log at start.
func (db *DB) CountCustomers(ctx context.Context) (int, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM customers`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count customers: %w", err)
	}
	return n, nil
}

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_what.sql.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate brings the database to the schema this binary knows, in one
// transaction: a crash half-way leaves the file as it was. It refuses a
// file that holds tables but no schema_migrations: some other program's
// database, which it must not write into.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// A database that is up to date, the usual case, needs no write lock.
	var current int
	err = db.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current)
	if err == nil && current == ms[len(ms)-1].version {
		return nil
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var tables []string
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("read the schema: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read the schema: %w", err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the schema: %w", err)
	}
	if len(tables) > 0 && !slices.Contains(tables, "schema_migrations") {
		return fmt.Errorf("not a Bookshop accounts database: the file has tables (%s) but no schema_migrations; give -db a new file", strings.Join(tables, ", "))
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("the database has schema version %d, newer than this binary knows (%d): run a newer bookshop", current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
