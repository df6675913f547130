// Package sqlite keeps the carts in an SQLite database, through
// modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing and
// applies the schema migrations embedded in the binary. A cart is its
// lines: for each book, its id, how many copies and when it was first
// added; and, for the cart, when it last changed. No price is kept.
// Beside the carts, the idempotency keys of recent additions (AddOnce):
// for each, the cart, the book, the quantity and when; and of recent
// removals (RemoveOnce): the cart, what was removed and when. The times are the
// caller's: each change takes its now, so that tests can set the clock.
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
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// maxReaders is the most read-only connections open at once.
const maxReaders = 4

// sweepBatch is how many carts DeleteIdle deletes in one transaction, so
// that a large sweep holds the write lock only briefly at a time.
const sweepBatch = 500

// DB is the carts in SQLite. It is safe for concurrent use.
type DB struct {
	pools *sqlitedb.DB // Write: one connection, every change; Read: the reads
}

// Open opens the cart database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if
// the file is not a Bookshop cart database or has a newer schema than
// this binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open cart database %q: %w", path, err)
	}
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: maxReaders})
	if err != nil {
		return nil, fmt.Errorf("open cart database %q: %w", path, err)
	}
	if err := sqlitedb.Migrate(ctx, pools, sqlitedb.Schema{Name: "cart database", Migrations: ms}); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open cart database %q: %w", path, err)
	}
	return &DB{pools: pools}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Ping returns nil when the database answers, for readiness: a file that
// is open always does, unless its disk fails.
func (db *DB) Ping(ctx context.Context) error { return db.pools.Read.PingContext(ctx) }

// Lines returns the lines of cart id, in the order their books were first
// added: each a Book with only its ID, and a Quantity. An unknown cart
// has none.
func (db *DB) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	lines, _, err := readLines(ctx, db.pools, id)
	return lines, err
}

// Count returns how many copies cart id holds: 0 for an unknown cart.
func (db *DB) Count(ctx context.Context, id string) (int, error) {
	var n int
	err := db.pools.QueryRowContext(ctx, `SELECT coalesce(sum(quantity), 0) FROM cart_lines WHERE cart_id = ?`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count cart %s: %w", id, err)
	}
	return n, nil
}

// Update reads the lines of cart id and replaces them with those change
// returns, in one transaction (see the package documentation), recording
// now as the time of the cart's last change. When change fails, nothing
// is written and its error is returned. It returns the lines as written.
// A change that changes nothing writes nothing.
func (db *DB) Update(ctx context.Context, id string, now time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) ([]bookshop.CartLine, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update cart %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	lines, err := update(ctx, tx, id, now, change)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update cart %s: commit: %w", id, err)
	}
	return lines, nil
}

// AddOnce is Update for an addition to cart id under an idempotency key
// (not ""): add is what the addition adds (a Book with only its ID, and
// a Quantity), and the key's record is read and written in the same
// transaction as the lines. When the cart has a record of key made at or
// after since, AddOnce calls no change, writes nothing, and returns the
// cart's lines and the record (what the keyed addition added, as add).
// Otherwise it does as Update and, when change succeeds, records key with
// add and now, replacing a record older than since; prior is nil.
func (db *DB) AddOnce(ctx context.Context, id, key string, add bookshop.CartLine, now, since time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) (lines []bookshop.CartLine, prior *bookshop.CartLine, err error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("add to cart %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var rec bookshop.CartLine
	err = tx.QueryRowContext(ctx, `SELECT book_id, quantity FROM cart_add_keys WHERE cart_id = ? AND key = ? AND created_at >= ?`,
		id, key, since.Unix()).Scan(&rec.Book.ID, &rec.Quantity)
	switch {
	case err == nil:
		lines, _, err := readLines(ctx, tx, id)
		if err != nil {
			return nil, nil, err
		}
		if err := tx.EndReplay(); err != nil { // answered again: on the disk first
			return nil, nil, fmt.Errorf("add to cart %s: %w", id, err)
		}
		return lines, &rec, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, nil, fmt.Errorf("add to cart %s: read key: %w", id, err)
	}
	lines, err = update(ctx, tx, id, now, change)
	if err != nil {
		return nil, nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cart_add_keys (cart_id, key, book_id, quantity, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (cart_id, key) DO UPDATE SET book_id = excluded.book_id, quantity = excluded.quantity, created_at = excluded.created_at`,
		id, key, add.Book.ID, add.Quantity, now.Unix()); err != nil {
		return nil, nil, fmt.Errorf("add to cart %s: record key: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("add to cart %s: commit: %w", id, err)
	}
	return lines, nil, nil
}

// RemoveOnce is Update for a removal from cart id under an idempotency
// key (not ""): what says what the removal takes out (any text that tells
// one removal from another), and the key's record is read and written in
// the same transaction as the lines. When the cart has a record of key
// made at or after since, RemoveOnce calls no change, writes nothing, and
// returns the cart's lines and the record's what as prior. Otherwise it
// does as Update and, when change succeeds, records key with what and
// now, replacing a record older than since; prior is "".
func (db *DB) RemoveOnce(ctx context.Context, id, key, what string, now, since time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) (lines []bookshop.CartLine, prior string, err error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("remove from cart %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	err = tx.QueryRowContext(ctx, `SELECT lines FROM cart_remove_keys WHERE cart_id = ? AND key = ? AND created_at >= ?`,
		id, key, since.Unix()).Scan(&prior)
	switch {
	case err == nil:
		lines, _, err := readLines(ctx, tx, id)
		if err != nil {
			return nil, "", err
		}
		if err := tx.EndReplay(); err != nil { // answered again: on the disk first
			return nil, "", fmt.Errorf("remove from cart %s: %w", id, err)
		}
		return lines, prior, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, "", fmt.Errorf("remove from cart %s: read key: %w", id, err)
	}
	lines, err = update(ctx, tx, id, now, change)
	if err != nil {
		return nil, "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cart_remove_keys (cart_id, key, lines, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (cart_id, key) DO UPDATE SET lines = excluded.lines, created_at = excluded.created_at`,
		id, key, what, now.Unix()); err != nil {
		return nil, "", fmt.Errorf("remove from cart %s: record key: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("remove from cart %s: commit: %w", id, err)
	}
	return lines, "", nil
}

// update is the body of Update, AddOnce and RemoveOnce, in tx.
func update(ctx context.Context, tx *sqlitedb.Tx, id string, now time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) ([]bookshop.CartLine, error) {
	old, next, err := readLines(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	lines, err := change(old)
	if err != nil {
		return nil, err
	}
	if err := writeLines(ctx, tx, id, old, lines, next, now); err != nil {
		return nil, err
	}
	return lines, nil
}

// Merge reads the lines of carts from and into, replaces into's with
// those merge returns and deletes from, in one transaction, recording now
// as the time of into's last change. When from is empty, nothing changes
// and merge is not called. It returns into's lines as written.
func (db *DB) Merge(ctx context.Context, from, into string, now time.Time, merge func(into, from []bookshop.CartLine) []bookshop.CartLine) ([]bookshop.CartLine, error) {
	tx, err := db.pools.Begin(ctx)
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
	if err := writeLines(ctx, tx, into, intoLines, lines, next, now); err != nil {
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
	n, err := db.deleteInBatches(ctx, `DELETE FROM carts WHERE id IN (
		SELECT id FROM carts WHERE updated_at < ? AND id GLOB ? LIMIT ?)`,
		before.Unix(), prefix+"*", sweepBatch)
	if err != nil {
		return n, fmt.Errorf("delete idle carts: %w", err)
	}
	return n, nil
}

// DeleteKeys deletes the records of the idempotency keys made before
// before (see AddOnce and RemoveOnce), a few hundred per transaction, and
// returns how many it deleted. It stops early, with ctx's error, when ctx
// ends.
func (db *DB) DeleteKeys(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for _, table := range []string{"cart_add_keys", "cart_remove_keys"} {
		n, err := db.deleteInBatches(ctx, `DELETE FROM `+table+` WHERE (cart_id, key) IN (
			SELECT cart_id, key FROM `+table+` WHERE created_at < ? LIMIT ?)`,
			before.Unix(), sweepBatch)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("delete old idempotency keys: %w", err)
		}
	}
	return deleted, nil
}

// deleteInBatches runs query, a DELETE of at most sweepBatch rows (its
// last argument), until it deletes fewer, and returns how many rows it
// deleted in all.
func (db *DB) deleteInBatches(ctx context.Context, query string, args ...any) (int, error) {
	deleted := 0
	for {
		res, err := db.pools.ExecContext(ctx, query, args...)
		if err != nil {
			return deleted, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, err
		}
		deleted += int(n)
		if n < sweepBatch {
			return deleted, nil
		}
	}
}

// querier is what readLines needs: the pools (reads of Read) or a
// transaction, each query prepared once (see sqlitedb.Tx).
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
// in the order of lines. It records now as the time of the change, or
// deletes the cart when lines is empty. It writes nothing when nothing
// changes.
func writeLines(ctx context.Context, tx *sqlitedb.Tx, id string, old, lines []bookshop.CartLine, next int64, now time.Time) error {
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
		ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at`, id, now.Unix()); err != nil {
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
