// Package postgres keeps the stock and the reservations in PostgreSQL,
// through pgx v5 (see platform/pgdb), in the schema "inventory": the
// Inventory's storage when it is given a database URL, where several
// replicas may share one database.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that the data moves between the two as it is.
// Every change is one transaction, which first locks the rows its decision
// rests on: a Reserve, the stock rows of its books (in the order of their
// ids, so that two never deadlock), before it counts their holds; a
// Finish, its reservation's row, then the stock rows it takes copies
// from; a SetStock, its book's stock row. So the copies a change counts
// are still there when it writes, whichever replica writes at the same
// time, as SQLite's one writer ensures there: a book is never oversold
// and no copy is counted twice, under any concurrency, across replicas.
// Changes to other books do not wait for each other. Reads of the stock
// are one statement, one snapshot.
//
// A popular book's stock row is what every purchase of it waits for, so
// a Reserve and a Finish are two round trips each (pgdb.DB.TwoTrips):
// the first takes the locks and reads, the second writes, with the
// commit. A Reserve holds the stock rows for one round trip and its
// commit; a Finish takes them last, in its second trip, and holds them
// for its commit alone.
//
// While the database cannot be reached, or a connection to it is lost,
// every method fails with the kernel's Unavailable (pgdb.Classify), which
// a gRPC caller receives as UNAVAILABLE and may retry: a Reserve retried
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
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Inventory's schema.
const Schema = "inventory"

// sweepBatch is how many records DeleteEnded deletes in one statement.
const sweepBatch = 500

// keyConstraint is the unique constraint of the idempotency keys, as
// PostgreSQL names it.
const keyConstraint = "reservations_idempotency_key_key"

// The states of a reservation, as the database names them.
const (
	held      = inventoryclient.Held
	committed = inventoryclient.Committed
	expired   = inventoryclient.Expired
)

// DB is the stock and the reservations in PostgreSQL. It is safe for
// concurrent use, and other DBs, in this process or others, may use the
// same database at once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema inventory to
// the version this binary knows (see pgdb.Open). A new schema starts with
// seed: the copies on hand of each book, by id (nil for none). It fails
// if the database cannot be reached, if the schema is newer than this
// binary knows or is another program's, or if seed holds a book id under
// 1 or a number outside 0 to 1,000,000. Its errors name the database
// without its password.
func Open(ctx context.Context, st pgdb.Settings, seed map[int32]int) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open inventory database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{
		Name:       Schema,
		Migrations: ms,
		Seed: func(ctx context.Context, tx pgx.Tx) error {
			now := time.Now().UnixMilli()
			for id, n := range seed {
				if _, err := tx.Exec(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES ($1, $2, $3)`, id, n, now); err != nil {
					return fmt.Errorf("book %d: %d copies: %w", id, n, err)
				}
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open inventory database: %w", err)
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

// querier is what the reads need: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Levels returns the stock of each of ids at now, in the order of ids,
// each once: on hand, held by holds that expire after now, and available
// (on hand less held, never below 0). A book without a record has every
// number 0. One statement, so one snapshot. Errors: Unavailable when the
// database cannot be reached (see pgdb.Classify).
func (db *DB) Levels(ctx context.Context, ids []int32, now time.Time) ([]inventoryclient.Level, error) {
	ls, err := levels(ctx, db.db.Pool, ids, now)
	return ls, pgdb.Classify(err)
}

// levels is Levels in q.
func levels(ctx context.Context, q querier, ids []int32, now time.Time) ([]inventoryclient.Level, error) {
	order := distinct(ids)
	if len(order) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, levelsSQL, now.UnixMilli(), order)
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	return scanLevels(rows, order)
}

// levelsSQL reads the stock of the books $2 at $1 (milliseconds): each
// book's id, its copies on hand, and those its holds that expire after
// $1 hold.
const levelsSQL = `SELECT s.book_id, s.on_hand,
	coalesce((SELECT sum(h.quantity) FROM holds h WHERE h.book_id = s.book_id AND h.expires_at > $1), 0)
	FROM stock s WHERE s.book_id = ANY($2)`

// linesSQL reads the lines of reservation $1, in the order of its
// request.
const linesSQL = `SELECT book_id, quantity FROM reservation_lines WHERE reservation_id = $1 ORDER BY seq`

// lockSQL locks the stock rows of the books $1 that exist, in the order
// of their ids, until the transaction ends.
const lockSQL = `SELECT book_id FROM stock WHERE book_id = ANY($1) ORDER BY book_id FOR UPDATE`

// distinct returns ids without repeats, in the order of their first
// appearance.
func distinct(ids []int32) []int32 {
	var (
		order []int32
		seen  = make(map[int32]bool, len(ids))
	)
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			order = append(order, id)
		}
	}
	return order
}

// scanLevels reads the rows of levelsSQL, and returns the levels of
// order, in its order; a book without a row has every number 0.
func scanLevels(rows pgx.Rows, order []int32) ([]inventoryclient.Level, error) {
	found := make(map[int32]inventoryclient.Level, len(order))
	var l inventoryclient.Level
	_, err := pgx.ForEachRow(rows, []any{&l.BookID, &l.OnHand, &l.Held}, func() error {
		l.Available = max(l.OnHand-l.Held, 0)
		found[l.BookID] = l
		return nil
	})
	if err != nil {
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

// errReplayed is the refusal of a Reserve's writes by a key that made a
// reservation: it writes nothing, and returns that one.
var errReplayed = errors.New("the key made a reservation")

// Reserve records r (held, with its ID, Lines and Expires, to the
// millisecond) under key, in one transaction, unless key has a record:
// then it writes nothing and returns the reservation the key made, as
// recorded, and replayed true. Otherwise it calls check with the copies
// available at now of each book of r's lines, by id, and records r, its
// lines and their holds only when check returns nil; it returns check's
// error, having written nothing, otherwise. check may be called more than
// once, when the transaction is run again (see pgdb.DB.Tx).
func (db *DB) Reserve(ctx context.Context, key string, r bookshop.Reservation, now time.Time, check func(available map[int32]int) error) (got bookshop.Reservation, replayed bool, err error) {
	ids := make([]int32, len(r.Lines))
	for i, l := range r.Lines {
		ids[i] = l.BookID
	}
	expires := r.Expires.UnixMilli()
	order := distinct(ids)
	var (
		stock []inventoryclient.Level
		keyed string
	)
	// The first trip locks the stock rows, then counts their holds and
	// looks for the key: each read a snapshot of its own, taken once the
	// locks are granted, so that it sees every hold and reservation
	// committed before, and a Reserve of the same key that held the
	// locks first is found, not counted as copies gone. The second
	// writes the reservation, its lines and its holds, with the commit.
	read := func(b *pgx.Batch) {
		stock, keyed = nil, ""
		b.Queue(lockSQL, order)
		b.Queue(levelsSQL, now.UnixMilli(), order).Query(func(rows pgx.Rows) error {
			var err error
			stock, err = scanLevels(rows, order)
			return err
		})
		b.Queue(`SELECT id FROM reservations WHERE idempotency_key = $1`, key).QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&keyed); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			return nil
		})
	}
	write := func(b *pgx.Batch) error {
		if keyed != "" {
			return errReplayed
		}
		available := make(map[int32]int, len(stock))
		for _, l := range stock {
			available[l.BookID] = l.Available
		}
		if err := check(available); err != nil {
			return err
		}
		b.Queue(`INSERT INTO reservations (id, idempotency_key, state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, key, held, now.UnixMilli(), expires)
		for i, l := range r.Lines {
			b.Queue(`INSERT INTO reservation_lines (reservation_id, seq, book_id, quantity) VALUES ($1, $2, $3, $4)`, r.ID, i, l.BookID, l.Quantity)
			b.Queue(`INSERT INTO holds (book_id, reservation_id, quantity, expires_at) VALUES ($1, $2, $3, $4)`, l.BookID, r.ID, l.Quantity, expires)
		}
		return nil
	}
	err = db.db.TwoTrips(ctx, read, write)
	if pgdb.UniqueViolation(err, keyConstraint) {
		// Another Reserve of the same key, of other books, committed
		// since this one looked for it: run again, it finds that one's
		// reservation.
		err = db.db.TwoTrips(ctx, read, write)
	}
	if errors.Is(err, errReplayed) {
		got, err = readReservation(ctx, db.db.Pool, keyed)
		if err != nil {
			return bookshop.Reservation{}, false, pgdb.Classify(err)
		}
		return got, true, nil
	}
	if err != nil {
		return bookshop.Reservation{}, false, err
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
// It returns the reservation in the state it leaves it in. decide may be
// called more than once (see Reserve). Errors: NotFound for an unknown
// id; an internal error for a change from a state other than held, which
// the rules never ask for, and for a commit that would take the stock
// below zero, which the database's CHECK refuses.
func (db *DB) Finish(ctx context.Context, id string, now time.Time, decide func(bookshop.Reservation) (string, error)) (bookshop.Reservation, error) {
	var (
		r       bookshop.Reservation
		to      string
		expires int64
	)
	// The first trip locks the reservation's row and reads it; the
	// second writes its end, and, for a commit, takes its copies off the
	// stock rows last, locked in the order of their ids, so that they are
	// held for the rest of the trip and the commit alone.
	read := func(b *pgx.Batch) {
		r, to = bookshop.Reservation{ID: id}, ""
		b.Queue(`SELECT state, expires_at FROM reservations WHERE id = $1 FOR UPDATE`, id).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&r.State, &expires)
			if errors.Is(err, pgx.ErrNoRows) {
				return bookshop.Errorf(bookshop.NotFound, "no reservation %s", id)
			}
			return err
		})
		b.Queue(linesSQL, id).Query(func(rows pgx.Rows) error {
			var l bookshop.StockLine
			_, err := pgx.ForEachRow(rows, []any{&l.BookID, &l.Quantity}, func() error {
				r.Lines = append(r.Lines, l)
				return nil
			})
			return err
		})
	}
	write := func(b *pgx.Batch) error {
		r.Expires = time.UnixMilli(expires).UTC()
		var err error
		if to, err = decide(r); err != nil {
			return err
		}
		if to == r.State {
			return errUnchanged
		}
		if r.State != held {
			return fmt.Errorf("end reservation %s: from %s to %s: only a held reservation changes", id, r.State, to)
		}
		ended := now.UnixMilli()
		if to == expired {
			ended = r.Expires.UnixMilli()
		}
		b.Queue(`DELETE FROM holds WHERE reservation_id = $1`, id)
		b.Queue(`UPDATE reservations SET state = $1, ended_at = $2 WHERE id = $3`, to, ended, id)
		if to == committed {
			ids := make([]int32, len(r.Lines))
			for i, l := range r.Lines {
				ids[i] = l.BookID
			}
			b.Queue(lockSQL, ids)
			for _, l := range r.Lines {
				// A book without a stock row fails the statement (its
				// count is 0), which rolls the whole back: the second
				// trip's results come after its commit.
				b.Queue(`WITH taken AS (UPDATE stock SET on_hand = on_hand - $1, updated_at = $2 WHERE book_id = $3 RETURNING 1)
					SELECT 1 / count(*) FROM taken`, l.Quantity, now.UnixMilli(), l.BookID)
			}
		}
		return nil
	}
	err := db.db.TwoTrips(ctx, read, write)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, errUnchanged):
		r.Expires = time.UnixMilli(expires).UTC()
		return r, nil
	case errors.As(err, &pgErr) && pgErr.Code == divisionByZero:
		return bookshop.Reservation{}, fmt.Errorf("end reservation %s: a book of it has no stock to take its copies from", id)
	case err != nil:
		if bookshop.ErrorCode(err) == "" {
			err = fmt.Errorf("end reservation %s: %w", id, err)
		}
		return bookshop.Reservation{}, err
	}
	r.State = to
	return r, nil
}

// errUnchanged is the refusal of a Finish's writes by a decision that
// leaves the reservation as it is: it writes nothing.
var errUnchanged = errors.New("the reservation stays as it is")

// divisionByZero is the SQLSTATE of a Finish's commit of copies of a book
// without a stock row (see Finish).
const divisionByZero = "22012"

// lockStock locks the stock rows of ids that exist, in the order of their
// ids, until the transaction ends: a change that counts a book's copies
// takes them first, so that no other change of those books interleaves.
// A book without a row has no copies, and none can be reserved.
func lockStock(ctx context.Context, tx pgx.Tx, ids []int32) error {
	if _, err := tx.Exec(ctx, lockSQL, ids); err != nil {
		return fmt.Errorf("lock stock: %w", err)
	}
	return nil
}

// readReservation reads reservation id and its lines, in the order of its
// request, in one round trip. Errors: NotFound for an unknown id.
func readReservation(ctx context.Context, q querier, id string) (bookshop.Reservation, error) {
	r := bookshop.Reservation{ID: id}
	var expires int64
	var b pgx.Batch
	b.Queue(`SELECT state, expires_at FROM reservations WHERE id = $1`, id)
	b.Queue(linesSQL, id)
	br := q.SendBatch(ctx, &b)
	err := func() error {
		if err := br.QueryRow().Scan(&r.State, &expires); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var l bookshop.StockLine
		_, err = pgx.ForEachRow(rows, []any{&l.BookID, &l.Quantity}, func() error {
			r.Lines = append(r.Lines, l)
			return nil
		})
		return err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return bookshop.Reservation{}, bookshop.Errorf(bookshop.NotFound, "no reservation %s", id)
	}
	if err != nil {
		return bookshop.Reservation{}, fmt.Errorf("read reservation %s: %w", id, err)
	}
	r.Expires = time.UnixMilli(expires).UTC()
	return r, nil
}

// SetStock sets the copies on hand of book bookID to onHand at now, in
// one transaction, after check accepts the copies its holds that expire
// after now hold; it returns the book's stock as set. It writes nothing,
// and returns check's error, when check fails. check may be called more
// than once (see Reserve).
func (db *DB) SetStock(ctx context.Context, bookID int32, onHand int, now time.Time, check func(held int) error) (inventoryclient.Level, error) {
	var heldNow int
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		if err := lockStock(ctx, tx, []int32{bookID}); err != nil {
			return fmt.Errorf("set stock of book %d: %w", bookID, err)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0) FROM holds WHERE book_id = $1 AND expires_at > $2`,
			bookID, now.UnixMilli()).Scan(&heldNow); err != nil {
			return fmt.Errorf("set stock of book %d: %w", bookID, err)
		}
		if err := check(heldNow); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO stock (book_id, on_hand, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (book_id) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at`,
			bookID, onHand, now.UnixMilli()); err != nil {
			return fmt.Errorf("set stock of book %d: %w", bookID, err)
		}
		return nil
	})
	if err != nil {
		return inventoryclient.Level{}, err
	}
	return inventoryclient.Level{BookID: bookID, OnHand: onHand, Held: heldNow, Available: max(onHand-heldNow, 0)}, nil
}

// Expire records as expired, in one transaction, the reservations held
// whose expiry time is at or before now, ended at that time, and deletes
// their holds; it returns how many.
func (db *DB) Expire(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `WITH ended AS (
				UPDATE reservations SET state = 'expired', ended_at = expires_at
				WHERE state = 'held' AND expires_at <= $1 RETURNING id),
			gone AS (DELETE FROM holds WHERE reservation_id IN (SELECT id FROM ended))
			SELECT count(*) FROM ended`, now.UnixMilli()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("expire reservations: %w", err)
	}
	return n, nil
}

// DeleteEnded deletes the records of the reservations that ended before
// before, with their lines, a few hundred per statement, and returns how
// many it deleted. Their keys go with them. It stops early, with ctx's
// error, when ctx ends.
func (db *DB) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		tag, err := db.db.Pool.Exec(ctx, `DELETE FROM reservations WHERE id IN (
			SELECT id FROM reservations WHERE ended_at < $1 LIMIT $2)`, before.UnixMilli(), sweepBatch)
		if err != nil {
			return deleted, pgdb.Classify(fmt.Errorf("delete ended reservations: %w", err))
		}
		n := int(tag.RowsAffected())
		deleted += n
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
