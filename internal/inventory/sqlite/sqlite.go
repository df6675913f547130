// Package sqlite keeps the stock and the reservations in an SQLite
// database, through modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing, applies
// the schema migrations embedded in the binary, and fills a new one with
// the stock it is given. It holds the copies on hand of each book; the
// reservations, each with its idempotency key and its lines; and the holds,
// the lines of the reservations still held, with their expiry time. The
// copies of a book available at a time are those on hand less its holds
// that expire after that time: a hold past its expiry counts for nothing
// from that instant, before anything has swept it. The times are the
// caller's (each method takes its now), in milliseconds, so that tests
// can set the clock.
//
// Changes are serialized: one connection writes, and each change is one
// transaction that takes SQLite's write lock as it begins (BEGIN
// IMMEDIATE), so that the copies it counts are still there when it
// writes, against other goroutines and other processes. A change is on
// disk before it returns: the write-ahead log is synced at each commit
// (synchronous=FULL), so that a reservation acknowledged survives a power
// cut, not only a crash, and a crash at any instant leaves each change
// done whole or not at all. Reads go through a pool of read-only
// connections, and do not wait for writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
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

// The states of a reservation, as the database names them.
const (
	held      = inventoryclient.Held
	committed = inventoryclient.Committed
	expired   = inventoryclient.Expired
)

// DB is the stock and the reservations in SQLite. It is safe for
// concurrent use.
type DB struct {
	pools *sqlitedb.DB // Write: one connection, every change; Read: the reads
}

// Open opens the inventory database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. A new database
// starts with seed: the copies on hand of each book, by id (nil for none).
// It fails if the file is not a Bookshop inventory database or has a
// newer schema than this binary knows, or if seed holds a book id under 1
// or a number outside 0 to 1,000,000.
func Open(ctx context.Context, path string, seed map[int32]int) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open inventory database %q: %w", path, err)
	}
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: maxReaders})
	if err != nil {
		return nil, fmt.Errorf("open inventory database %q: %w", path, err)
	}
	schema := sqlitedb.Schema{
		Name:       "inventory database",
		Migrations: ms,
		Seed: func(ctx context.Context, tx *sqlitedb.Tx) error {
			now := time.Now().UnixMilli()
			for id, n := range seed {
				if _, err := tx.ExecContext(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES (?, ?, ?)`, id, n, now); err != nil {
					return fmt.Errorf("book %d: %d copies: %w", id, n, err)
				}
			}
			return nil
		},
	}
	if err := sqlitedb.Migrate(ctx, pools, schema); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open inventory database %q: %w", path, err)
	}
	return &DB{pools: pools}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Ping returns nil when the database answers, for readiness: a file that
// is open always does, unless its disk fails.
func (db *DB) Ping(ctx context.Context) error { return db.pools.Read.PingContext(ctx) }

// querier is what the reads need: the pools (reads of Read) or a
// transaction, each query prepared once (see sqlitedb.Tx).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Levels returns the stock of each of ids at now, in the order of ids,
// each once: on hand, held by holds that expire after now, and available
// (on hand less held, never below 0). A book without a record has every
// number 0. One statement, so one snapshot.
func (db *DB) Levels(ctx context.Context, ids []int32, now time.Time) ([]inventoryclient.Level, error) {
	return levels(ctx, db.pools, ids, now)
}

// levels is Levels in q.
func levels(ctx context.Context, q querier, ids []int32, now time.Time) ([]inventoryclient.Level, error) {
	var (
		order []int32
		seen  = make(map[int32]bool, len(ids))
		args  = []any{now.UnixMilli()}
		marks []string
	)
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
			args = append(args, id)
			marks = append(marks, "?"+strconv.Itoa(len(args)))
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT s.book_id, s.on_hand,
		coalesce((SELECT sum(h.quantity) FROM holds h WHERE h.book_id = s.book_id AND h.expires_at > ?1), 0)
		FROM stock s WHERE s.book_id IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	defer rows.Close()
	found := make(map[int32]inventoryclient.Level, len(order))
	for rows.Next() {
		var l inventoryclient.Level
		if err := rows.Scan(&l.BookID, &l.OnHand, &l.Held); err != nil {
			return nil, fmt.Errorf("read stock: %w", err)
		}
		l.Available = max(l.OnHand-l.Held, 0)
		found[l.BookID] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	out := make([]inventoryclient.Level, len(order))
	for i, id := range order {
		l, ok := found[id]
		if !ok {
			l = inventoryclient.Level{BookID: id}
		}
		out[i] = l
	}
	return out, nil
}

// Reserve records r (held, with its ID, Lines and Expires, to the
// millisecond) under key, in one transaction, unless key has a record:
// then it writes nothing and returns the reservation the key made, as
// recorded, and replayed true. Otherwise it calls check with the copies
// available at now of each book of r's lines, by id, and records r, its
// lines and their holds only when check returns nil; it returns check's
// error, having written nothing, otherwise.
func (db *DB) Reserve(ctx context.Context, key string, r bookshop.Reservation, now time.Time, check func(available map[int32]int) error) (got bookshop.Reservation, replayed bool, err error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return bookshop.Reservation{}, false, fmt.Errorf("reserve: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var id string
	err = tx.QueryRowContext(ctx, `SELECT id FROM reservations WHERE idempotency_key = ?`, key).Scan(&id)
	switch {
	case err == nil:
		prior, err := readReservation(ctx, tx, id)
		if err != nil {
			return bookshop.Reservation{}, false, err
		}
		if err := tx.EndReplay(); err != nil { // answered again: on the disk first
			return bookshop.Reservation{}, false, fmt.Errorf("reserve: %w", err)
		}
		return prior, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return bookshop.Reservation{}, false, fmt.Errorf("reserve: read key: %w", err)
	}

	ids := make([]int32, len(r.Lines))
	for i, l := range r.Lines {
		ids[i] = l.BookID
	}
	stock, err := levels(ctx, tx, ids, now)
	if err != nil {
		return bookshop.Reservation{}, false, err
	}
	available := make(map[int32]int, len(stock))
	for _, l := range stock {
		available[l.BookID] = l.Available
	}
	if err := check(available); err != nil {
		return bookshop.Reservation{}, false, err
	}

	expires := r.Expires.UnixMilli()
	exec := func(query string, args ...any) error {
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("reserve %s: %w", r.ID, err)
		}
		return nil
	}
	if err := exec(`INSERT INTO reservations (id, idempotency_key, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		r.ID, key, held, now.UnixMilli(), expires); err != nil {
		return bookshop.Reservation{}, false, err
	}
	for i, l := range r.Lines {
		if err := exec(`INSERT INTO reservation_lines (reservation_id, seq, book_id, quantity) VALUES (?, ?, ?, ?)`, r.ID, i, l.BookID, l.Quantity); err != nil {
			return bookshop.Reservation{}, false, err
		}
		if err := exec(`INSERT INTO holds (book_id, reservation_id, quantity, expires_at) VALUES (?, ?, ?, ?)`, l.BookID, r.ID, l.Quantity, expires); err != nil {
			return bookshop.Reservation{}, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return bookshop.Reservation{}, false, fmt.Errorf("reserve %s: commit: %w", r.ID, err)
	}
	r.State = held
	r.Expires = time.UnixMilli(expires).UTC()
	return r, false, nil
}

// Finish ends reservation id, in one transaction: it calls decide with
// the reservation as recorded and takes it to the state decide returns,
// at now. To committed, it takes the reservation's copies off the stock;
// to any state but held, it deletes the reservation's holds and records
// when it ended (its expiry time, for expired). It writes nothing when
// decide fails, whose error it returns, or returns the state recorded.
// It returns the reservation in the state it leaves it in. Errors:
// NotFound for an unknown id; an internal error for a change from a
// state other than held, which the rules never ask for.
func (db *DB) Finish(ctx context.Context, id string, now time.Time, decide func(bookshop.Reservation) (string, error)) (bookshop.Reservation, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return bookshop.Reservation{}, fmt.Errorf("end reservation %s: begin: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	r, err := readReservation(ctx, tx, id)
	if err != nil {
		return bookshop.Reservation{}, err
	}
	to, err := decide(r)
	if err != nil {
		// Refused by the state recorded, which another request may have
		// committed an instant ago: on the disk before it is answered.
		if derr := tx.EndReplay(); derr != nil {
			return bookshop.Reservation{}, fmt.Errorf("end reservation %s: %w", id, derr)
		}
		return bookshop.Reservation{}, err
	}
	if to == r.State {
		if err := tx.EndReplay(); err != nil { // a retry of an ending done: on the disk first
			return bookshop.Reservation{}, fmt.Errorf("end reservation %s: %w", id, err)
		}
		return r, nil
	}
	if r.State != held {
		return bookshop.Reservation{}, fmt.Errorf("end reservation %s: from %s to %s: only a held reservation changes", id, r.State, to)
	}
	exec := func(query string, args ...any) (sql.Result, error) {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("end reservation %s: %w", id, err)
		}
		return res, nil
	}
	if to == committed {
		for _, l := range r.Lines {
			// The CHECK of on_hand refuses to go below zero: the rules
			// never let it, as a live hold's copies are on hand.
			res, err := exec(`UPDATE stock SET on_hand = on_hand - ?, updated_at = ? WHERE book_id = ?`, l.Quantity, now.UnixMilli(), l.BookID)
			if err != nil {
				return bookshop.Reservation{}, err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return bookshop.Reservation{}, fmt.Errorf("end reservation %s: book %d has no stock to take its copies from", id, l.BookID)
			}
		}
	}
	if _, err := exec(`DELETE FROM holds WHERE reservation_id = ?`, id); err != nil {
		return bookshop.Reservation{}, err
	}
	ended := now.UnixMilli()
	if to == expired {
		ended = r.Expires.UnixMilli()
	}
	if _, err := exec(`UPDATE reservations SET state = ?, ended_at = ? WHERE id = ?`, to, ended, id); err != nil {
		return bookshop.Reservation{}, err
	}
	if err := tx.Commit(); err != nil {
		return bookshop.Reservation{}, fmt.Errorf("end reservation %s: commit: %w", id, err)
	}
	r.State = to
	return r, nil
}

// readReservation reads reservation id and its lines, in the order of its
// request. Errors: NotFound for an unknown id.
func readReservation(ctx context.Context, q querier, id string) (bookshop.Reservation, error) {
	r := bookshop.Reservation{ID: id}
	var expires int64
	err := q.QueryRowContext(ctx, `SELECT state, expires_at FROM reservations WHERE id = ?`, id).Scan(&r.State, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return bookshop.Reservation{}, bookshop.Errorf(bookshop.NotFound, "no reservation %s", id)
	}
	if err != nil {
		return bookshop.Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	r.Expires = time.UnixMilli(expires).UTC()
	rows, err := q.QueryContext(ctx, `SELECT book_id, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY seq`, id)
	if err != nil {
		return bookshop.Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l bookshop.StockLine
		if err := rows.Scan(&l.BookID, &l.Quantity); err != nil {
			return bookshop.Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
		}
		r.Lines = append(r.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return bookshop.Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	return r, nil
}

// SetStock sets the copies on hand of book bookID to onHand at now, in
// one transaction, after check accepts the copies its holds that expire
// after now hold; it returns the book's stock as set. It writes nothing,
// and returns check's error, when check fails.
func (db *DB) SetStock(ctx context.Context, bookID int32, onHand int, now time.Time, check func(held int) error) (inventoryclient.Level, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return inventoryclient.Level{}, fmt.Errorf("set stock of book %d: begin: %w", bookID, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var heldNow int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(quantity), 0) FROM holds WHERE book_id = ? AND expires_at > ?`,
		bookID, now.UnixMilli()).Scan(&heldNow); err != nil {
		return inventoryclient.Level{}, fmt.Errorf("set stock of book %d: %w", bookID, err)
	}
	if err := check(heldNow); err != nil {
		return inventoryclient.Level{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (book_id) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at`,
		bookID, onHand, now.UnixMilli()); err != nil {
		return inventoryclient.Level{}, fmt.Errorf("set stock of book %d: %w", bookID, err)
	}
	if err := tx.Commit(); err != nil {
		return inventoryclient.Level{}, fmt.Errorf("set stock of book %d: commit: %w", bookID, err)
	}
	return inventoryclient.Level{BookID: bookID, OnHand: onHand, Held: heldNow, Available: max(onHand-heldNow, 0)}, nil
}

// Expire records as expired, in one transaction, the reservations held
// whose expiry time is at or before now, ended at that time, and deletes
// their holds; it returns how many. (Their holds counted for nothing
// since they expired: this makes the records say so.)
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	tx, err := db.pools.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("expire reservations: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	at := now.UnixMilli()
	if _, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE reservation_id IN (
		SELECT id FROM reservations WHERE state = 'held' AND expires_at <= ?)`, at); err != nil {
		return 0, fmt.Errorf("expire reservations: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE reservations SET state = 'expired', ended_at = expires_at
		WHERE state = 'held' AND expires_at <= ?`, at)
	if err != nil {
		return 0, fmt.Errorf("expire reservations: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expire reservations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("expire reservations: commit: %w", err)
	}
	return int(n), nil
}

// DeleteEnded deletes the records of the reservations that ended before
// before, with their lines, a few hundred per transaction, and returns
// how many it deleted. Their keys go with them. It stops early, with
// ctx's error, when ctx ends.
func (db *DB) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		res, err := db.pools.ExecContext(ctx, `DELETE FROM reservations WHERE id IN (
			SELECT id FROM reservations WHERE ended_at < ? LIMIT ?)`, before.UnixMilli(), sweepBatch)
		if err != nil {
			return deleted, fmt.Errorf("delete ended reservations: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("delete ended reservations: %w", err)
		}
		deleted += int(n)
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
