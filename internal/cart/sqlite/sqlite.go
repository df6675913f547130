// Package sqlite keeps the carts in an SQLite database, through
// modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing and
// applies the schema migrations embedded in the binary. A cart is its
// lines: for each book, its id, how many copies and when it was first
// added; and, for the cart, when it last changed. No price is kept.
//
// Changes are serialized: one connection writes, and each change is one
// transaction that takes SQLite's write lock as it begins (BEGIN
// IMMEDIATE), so that a rule checked inside it (no more than 10 copies of
// a book) holds against changes from other goroutines and processes. A
// change is on disk before it returns: the write-ahead log is synced at
// each commit (synchronous=FULL), so that a change acknowledged survives
// a power cut, not only a crash. Reads go through a pool of read-only
// connections, and do not wait for writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
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

// maxReaders is the most read-only connections open at once.
const maxReaders = 4

// sweepBatch is how many carts DeleteIdle deletes in one transaction, so
// that a large sweep holds the write lock only briefly at a time.
const sweepBatch = 500

// DB is the carts in SQLite. It is safe for concurrent use.
type DB struct {
	write *sql.DB // one connection: every change
	read  *sql.DB // read-only connections; write itself for Memory
}

// Open opens the cart database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if
// the file is not a Bookshop cart database or has a newer schema than
// this binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open cart database %q: the path must not contain ? or #", path)
	}
	dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=foreign_keys(on)"
	if path != Memory {
		dsn += "&_pragma=journal_mode(wal)&_pragma=synchronous(full)"
	}
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open cart database %q: %w", path, err)
	}
	// One connection: SQLite writes one at a time anyway, and an
	// in-memory database lives in its connection.
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	db := &DB{write: write, read: write}
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open cart database %q: %w", path, err)
	}
	if path != Memory {
		// Opened after the migration, which set the file's journal mode
		// to WAL: readers see the last commit and do not block the writer.
		read, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
		if err != nil {
			write.Close()
			return nil, fmt.Errorf("open cart database %q: %w", path, err)
		}
		read.SetMaxOpenConns(maxReaders)
		read.SetMaxIdleConns(maxReaders)
		db.read = read
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	var err error
	if db.read != db.write {
		err = db.read.Close()
	}
	if werr := db.write.Close(); err == nil {
		err = werr
	}
	return err
}

// Lines returns the lines of cart id, in the order their books were first
// added: each a Book with only its ID, and a Quantity. An unknown cart
// has none.
func (db *DB) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	lines, _, err := readLines(ctx, db.read, id)
	return lines, err
}

// Count returns how many copies cart id holds: 0 for an unknown cart.
func (db *DB) Count(ctx context.Context, id string) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(quantity), 0) FROM cart_lines WHERE cart_id = ?`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count cart %s: %w", id, err)
	}
	return n, nil
}

// Update reads the lines of cart id and replaces them with those change
// returns, in one transaction (see the package documentation). When
// change fails, nothing is written and its error is returned. It returns
// the lines as written. A change that changes nothing writes nothing.
func (db *DB) Update(ctx context.Context, id string, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) ([]bookshop.CartLine, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update cart %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	old, next, err := readLines(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	lines, err := change(old)
	if err != nil {
		return nil, err
	}
	if err := writeLines(ctx, tx, id, old, lines, next); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update cart %s: commit: %w", id, err)
	}
	return lines, nil
}

// Merge reads the lines of carts from and into, replaces into's with
// those merge returns and deletes from, in one transaction. When from is
// empty, nothing changes and merge is not called. It returns into's lines
// as written.
func (db *DB) Merge(ctx context.Context, from, into string, merge func(into, from []bookshop.CartLine) []bookshop.CartLine) ([]bookshop.CartLine, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("merge cart %s into %s: begin: %w", from, into, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	fromLines, _, err := readLines(ctx, tx, from)
	if err != nil {
		return nil, err
	}
	intoLines, next, err := readLines(ctx, tx, into)
	if err != nil || len(fromLines) == 0 {
		return intoLines, err
	}
	lines := merge(intoLines, fromLines)
	if err := writeLines(ctx, tx, into, intoLines, lines, next); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM carts WHERE id = ?`, from); err != nil {
		return nil, fmt.Errorf("merge cart %s into %s: empty %s: %w", from, into, from, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("merge cart %s into %s: commit: %w", from, into, err)
	}
	return lines, nil
}

// DeleteIdle deletes the carts whose id starts with prefix (letters,
// digits, '-' and '_' only) and whose last change was before before, a
// few hundred per transaction, and returns how many it deleted. It stops
// early, with ctx's error, when ctx ends.
func (db *DB) DeleteIdle(ctx context.Context, prefix string, before time.Time) (int, error) {
	if strings.ContainsAny(prefix, "*?[]") {
		return 0, fmt.Errorf("delete idle carts: prefix %q: want letters, digits, '-' and '_'", prefix)
	}
	deleted := 0
	for {
		res, err := db.write.ExecContext(ctx, `DELETE FROM carts WHERE id IN (
			SELECT id FROM carts WHERE updated_at < ? AND id GLOB ? LIMIT ?)`,
			before.Unix(), prefix+"*", sweepBatch)
		if err != nil {
			return deleted, fmt.Errorf("delete idle carts: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("delete idle carts: %w", err)
		}
		deleted += int(n)
		if n < sweepBatch {
			return deleted, nil
		}
	}
}

// querier is what readLines needs: a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readLines returns the lines of cart id in order, and the seq a new
// line would take.
func readLines(ctx context.Context, q querier, id string) ([]bookshop.CartLine, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT book_id, quantity, seq FROM cart_lines WHERE cart_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, 0, fmt.Errorf("read cart %s: %w", id, err)
	}
	defer rows.Close()
	var (
		lines []bookshop.CartLine
		next  int64 = 1
	)
	for rows.Next() {
		var (
			l   bookshop.CartLine
			seq int64
		)
		if err := rows.Scan(&l.Book.ID, &l.Quantity, &seq); err != nil {
			return nil, 0, fmt.Errorf("read cart %s: %w", id, err)
		}
		lines = append(lines, l)
		next = seq + 1
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read cart %s: %w", id, err)
	}
	return lines, next, nil
}

// writeLines changes the lines of cart id in tx from old to lines: it
// deletes the lines of books that lines lacks, updates the quantities
// that changed, and adds the new books after the others (from seq next),
// in the order of lines. It records the time of the change, or deletes
// the cart when lines is empty. It writes nothing when nothing changes.
func writeLines(ctx context.Context, tx *sql.Tx, id string, old, lines []bookshop.CartLine, next int64) error {
	if slices.Equal(old, lines) {
		return nil
	}
	if len(lines) > bookshop.MaxCartLines {
		return fmt.Errorf("write cart %s: %d lines, more than %d", id, len(lines), bookshop.MaxCartLines)
	}
	exec := func(query string, args ...any) error {
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("write cart %s: %w", id, err)
		}
		return nil
	}
	if len(lines) == 0 {
		return exec(`DELETE FROM carts WHERE id = ?`, id) // its lines go with it
	}
	if err := exec(`INSERT INTO carts (id, updated_at) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at`, id, time.Now().Unix()); err != nil {
		return err
	}
	had := make(map[int32]int, len(old))
	for _, l := range old {
		had[l.Book.ID] = l.Quantity
	}
	keep := make(map[int32]bool, len(lines))
	for _, l := range lines {
		keep[l.Book.ID] = true
	}
	for _, l := range old {
		if !keep[l.Book.ID] {
			if err := exec(`DELETE FROM cart_lines WHERE cart_id = ? AND book_id = ?`, id, l.Book.ID); err != nil {
				return err
			}
		}
	}
	for _, l := range lines {
		q, ok := had[l.Book.ID]
		switch {
		case !ok:
			if err := exec(`INSERT INTO cart_lines (cart_id, book_id, quantity, seq) VALUES (?, ?, ?, ?)`, id, l.Book.ID, l.Quantity, next); err != nil {
				return err
			}
			next++
		case q != l.Quantity:
			if err := exec(`UPDATE cart_lines SET quantity = ? WHERE cart_id = ? AND book_id = ?`, l.Quantity, id, l.Book.ID); err != nil {
				return err
			}
		}
	}
	return nil
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
// transaction that takes the write lock at once: a crash half-way leaves
// the file as it was, and a second process that opens the same new file
// waits for the first. It refuses a file that holds tables but no
// schema_migrations: some other program's database, which it must not
// write into.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	// An up-to-date database, the usual case, needs no write lock.
	var current int
	err = db.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current)
	if err == nil && current == latest {
		return nil
	}
	tx, err := db.write.BeginTx(ctx, nil)
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
		return fmt.Errorf("not a Bookshop cart database: the file has tables (%s) but no schema_migrations; give -db a new file", strings.Join(tables, ", "))
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
	if current > latest {
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
