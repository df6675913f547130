// Package postgres keeps the carts in PostgreSQL, through pgx v5 (see
// platform/pgdb), in the schema "cart": the Cart's storage when it is
// given a database URL, where several replicas may share one database.
//
// The tables are those of package sqlite, with the same columns and
// rules (migrations/), so that the data moves between the two as it is.
// Every change is one pgdb.DB.Tx that first locks the row of each cart it
// reads (FOR UPDATE; a merge's two in the order of their ids, so that two
// merges never deadlock), then reads the cart's lines, decides, and
// writes: so the lines a change decides on are still the cart's when it
// writes, whichever replica writes at the same time, as SQLite's one
// writer ensures there. The limits of a cart (10 copies of a book, 50
// books) hold under any concurrency across replicas, and a merge moves a
// guest's lines once. A cart that has no row yet (a new one) has nothing
// to lock: its change inserts the row, and when another change inserted
// it first, PostgreSQL refuses the second insert (a unique violation),
// and the change runs again, now locking the row. An idempotency key's
// record is read and written in the transaction of its change, under the
// cart's lock; a key's first use inserts its row, on the same terms, so
// that of two uses of one key at once one changes the cart and the other
// finds the record. Changes to other carts do not wait for each other.
// Reads of a cart are one statement, one snapshot. While the database
// cannot be reached, or a connection to it is lost, every method fails
// with the kernel's Unavailable (pgdb.Classify), which a gRPC caller
// receives as UNAVAILABLE and may retry.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Cart's schema.
const Schema = "cart"

// sweepBatch is how many rows DeleteIdle and DeleteKeys delete in one
// statement.
const sweepBatch = 500

// maxRuns is how many times a change runs, at most, when its inserts of
// a cart's or a key's row are refused because another change inserted
// the row first (see the package documentation): the second run finds the
// row and locks it, unless it was deleted again meanwhile.
const maxRuns = 8

// DB is the carts in PostgreSQL. It implements the Cart's Store
// (internal/cart) and is safe for concurrent use; other DBs, in this
// process or others, may use the same database at once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema cart to the
// version this binary knows (see pgdb.Open). It fails if the database
// cannot be reached, or if the schema is newer than this binary knows or
// is another program's. Its errors name the database without its
// password.
func Open(ctx context.Context, st pgdb.Settings) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open cart database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{Name: Schema, Migrations: ms})
	if err != nil {
		return nil, fmt.Errorf("open cart database: %w", err)
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

// change runs fn in a transaction (pgdb.DB.Tx), and again, up to maxRuns
// times in all, when it fails on a unique constraint: another change
// inserted a cart's or a key's row after fn found it missing. fn must set
// its results afresh on each run.
func (db *DB) change(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for run := 1; ; run++ {
		err := db.db.Tx(ctx, fn)
		if err == nil || !pgdb.UniqueViolation(err, "") || run == maxRuns {
			return err
		}
	}
}

// Lines returns the lines of cart id, in the order their books were first
// added: each a Book with only its ID, and a Quantity. An unknown cart
// has none.
func (db *DB) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	lines, _, err := readLines(ctx, db.db.Pool, id)
	return lines, pgdb.Classify(err)
}

// Count returns how many copies cart id holds: 0 for an unknown cart.
func (db *DB) Count(ctx context.Context, id string) (int, error) {
	var n int
	err := db.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(quantity), 0) FROM cart_lines WHERE cart_id = $1`, id).Scan(&n)
	if err != nil {
		return 0, pgdb.Classify(fmt.Errorf("count cart %s: %w", id, err))
	}
	return n, nil
}

// Update reads the lines of cart id and replaces them with those change
// returns, in one transaction that locks the cart first (see the package
// documentation), recording now as the time of the cart's last change.
// When change fails, nothing is written and its error is returned. It
// returns the lines as written. A change that changes nothing writes
// nothing. change may be called more than once, when the transaction is
// run again.
func (db *DB) Update(ctx context.Context, id string, now time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) ([]bookshop.CartLine, error) {
	var lines []bookshop.CartLine
	err := db.change(ctx, func(tx pgx.Tx) error {
		exists, _, old, next, err := lockAndRead(ctx, tx, id, "", nil)
		if err != nil {
			return err
		}
		lines, err = apply(ctx, tx, id, exists, old, next, now, change, nil)
		return err
	})
	if err != nil {
		return nil, err
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
// add and now, replacing a record older than since; prior is nil. Of
// AddOnces of one key at once, on any replicas, one adds and the others
// return its record.
func (db *DB) AddOnce(ctx context.Context, id, key string, add bookshop.CartLine, now, since time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) (lines []bookshop.CartLine, prior *bookshop.CartLine, err error) {
	err = db.change(ctx, func(tx pgx.Tx) error {
		lines, prior = nil, nil
		var (
			rec     bookshop.CartLine
			created int64
		)
		exists, found, old, next, err := lockAndRead(ctx, tx, id,
			`SELECT book_id, quantity, created_at FROM cart_add_keys WHERE cart_id = $1 AND key = $2 FOR UPDATE`, []any{id, key},
			&rec.Book.ID, &rec.Quantity, &created)
		if err != nil {
			return fmt.Errorf("add to cart %s: %w", id, err)
		}
		if found && created >= since.Unix() {
			lines, prior = old, &rec
			return nil
		}
		query := `INSERT INTO cart_add_keys (cart_id, key, book_id, quantity, created_at) VALUES ($1, $2, $3, $4, $5)`
		if found {
			query = `UPDATE cart_add_keys SET book_id = $3, quantity = $4, created_at = $5 WHERE cart_id = $1 AND key = $2`
		}
		var b pgx.Batch // the key's record, with the lines' writes
		b.Queue(query, id, key, add.Book.ID, add.Quantity, now.Unix())
		lines, err = apply(ctx, tx, id, exists, old, next, now, change, &b)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return lines, prior, nil
}

// RemoveOnce is Update for a removal from cart id under an idempotency
// key (not ""): what says what the removal takes out (any text that tells
// one removal from another), and the key's record is read and written in
// the same transaction as the lines. When the cart has a record of key
// made at or after since, RemoveOnce calls no change, writes nothing, and
// returns the cart's lines and the record's what as prior. Otherwise it
// does as Update and, when change succeeds, records key with what and
// now, replacing a record older than since; prior is "". Of RemoveOnces
// of one key at once, on any replicas, one removes and the others return
// its record.
func (db *DB) RemoveOnce(ctx context.Context, id, key, what string, now, since time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error)) (lines []bookshop.CartLine, prior string, err error) {
	err = db.change(ctx, func(tx pgx.Tx) error {
		lines, prior = nil, ""
		var (
			rec     string
			created int64
		)
		exists, found, old, next, err := lockAndRead(ctx, tx, id,
			`SELECT lines, created_at FROM cart_remove_keys WHERE cart_id = $1 AND key = $2 FOR UPDATE`, []any{id, key},
			&rec, &created)
		if err != nil {
			return fmt.Errorf("remove from cart %s: %w", id, err)
		}
		if found && created >= since.Unix() {
			lines, prior = old, rec
			return nil
		}
		query := `INSERT INTO cart_remove_keys (cart_id, key, lines, created_at) VALUES ($1, $2, $3, $4)`
		if found {
			query = `UPDATE cart_remove_keys SET lines = $3, created_at = $4 WHERE cart_id = $1 AND key = $2`
		}
		var b pgx.Batch // the key's record, with the lines' writes
		b.Queue(query, id, key, what, now.Unix())
		lines, err = apply(ctx, tx, id, exists, old, next, now, change, &b)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return lines, prior, nil
}

// apply is the body of Update, AddOnce and RemoveOnce, in tx, once cart
// id is locked (exists says whether it has a row) and its lines read (old,
// and the seq a new line would take, next): it replaces them with those
// change returns, sending the writes in one round trip after those b
// holds (nil for none), which are sent even when the lines do not change.
func apply(ctx context.Context, tx pgx.Tx, id string, exists bool, old []bookshop.CartLine, next int64, now time.Time, change func([]bookshop.CartLine) ([]bookshop.CartLine, error), b *pgx.Batch) ([]bookshop.CartLine, error) {
	lines, err := change(old)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = new(pgx.Batch)
	}
	if err := writeLines(ctx, tx, id, exists, old, lines, next, now, b); err != nil {
		return nil, err
	}
	return lines, nil
}

// lockAndRead locks cart id (see lockCarts), then reads the record of
// keyQuery (with keyArgs, into dest: found reports whether it has one;
// none is read when keyQuery is "") and the cart's lines (see readLines),
// in one round trip: the statements in one batch, each read a snapshot of
// its own taken once the lock is granted.
func lockAndRead(ctx context.Context, tx pgx.Tx, id, keyQuery string, keyArgs []any, dest ...any) (exists, found bool, lines []bookshop.CartLine, next int64, err error) {
	var b pgx.Batch
	b.Queue(lockQuery, []string{id})
	if keyQuery != "" {
		b.Queue(keyQuery, keyArgs...)
	}
	b.Queue(linesQuery, id)
	br := tx.SendBatch(ctx, &b)
	err = func() error {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("lock cart %s: %w", id, err)
		}
		exist, err := scanLocked(rows)
		if err != nil {
			return fmt.Errorf("lock cart %s: %w", id, err)
		}
		exists = exist[id]
		if keyQuery != "" {
			err := br.QueryRow().Scan(dest...)
			found = err == nil
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("read key: %w", err)
			}
		}
		rows, err = br.Query()
		if err != nil {
			return fmt.Errorf("read cart %s: %w", id, err)
		}
		lines, next, err = scanLines(rows)
		if err != nil {
			return fmt.Errorf("read cart %s: %w", id, err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read cart %s: %w", id, cerr)
	}
	return exists, found, lines, next, err
}

// Merge reads the lines of carts from and into, replaces into's with
// those merge returns and deletes from, in one transaction that locks
// both carts first, recording now as the time of into's last change.
// When from is empty, nothing changes and merge is not called. It
// returns into's lines as written. Of Merges of one cart at once, on any
// replicas, one moves its lines and the others find it empty. merge may
// be called more than once, when the transaction is run again.
func (db *DB) Merge(ctx context.Context, from, into string, now time.Time, merge func(into, from []bookshop.CartLine) []bookshop.CartLine) ([]bookshop.CartLine, error) {
	var lines []bookshop.CartLine
	err := db.change(ctx, func(tx pgx.Tx) error {
		lines = nil
		exist, err := lockCarts(ctx, tx, from, into)
		if err != nil {
			return err
		}
		fromLines, _, err := readLines(ctx, tx, from)
		if err != nil {
			return err
		}
		intoLines, next, err := readLines(ctx, tx, into)
		if err != nil {
			return err
		}
		if len(fromLines) == 0 {
			// Nothing to move (a merge elsewhere took it since a run of this
			// transaction that was undone): merge is told so, so that what
			// it counted in that run is not taken as done.
			merge(intoLines, nil)
			lines = intoLines
			return nil
		}
		merged := merge(intoLines, fromLines)
		if err := writeLines(ctx, tx, into, exist[into], intoLines, merged, next, now, new(pgx.Batch)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM carts WHERE id = $1`, from); err != nil {
			return fmt.Errorf("merge cart %s into %s: empty %s: %w", from, into, from, err)
		}
		lines = merged
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lines, nil
}

// lockCarts locks the rows of the carts of ids that have one, in the
// order of their ids, until the transaction ends, and returns which have
// one: a change of a cart takes its row first, so that no other change of
// the cart interleaves.
func lockCarts(ctx context.Context, tx pgx.Tx, ids ...string) (map[string]bool, error) {
	rows, err := tx.Query(ctx, lockQuery, ids)
	if err != nil {
		return nil, fmt.Errorf("lock carts %s: %w", strings.Join(ids, ", "), err)
	}
	exist, err := scanLocked(rows)
	if err != nil {
		return nil, fmt.Errorf("lock carts %s: %w", strings.Join(ids, ", "), err)
	}
	return exist, nil
}

// lockQuery locks the rows of the carts $1 that have one, in the order of
// their ids, and returns their ids.
const lockQuery = `SELECT id FROM carts WHERE id = ANY($1) ORDER BY id FOR UPDATE`

// scanLocked reads the rows of lockQuery: which carts have a row.
func scanLocked(rows pgx.Rows) (map[string]bool, error) {
	exist := make(map[string]bool, 2)
	var id string
	_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		exist[id] = true
		return nil
	})
	return exist, err
}

// querier is what readLines needs: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readLines returns the lines of cart id in order, and the seq a new
// line would take.
func readLines(ctx context.Context, q querier, id string) ([]bookshop.CartLine, int64, error) {
	rows, err := q.Query(ctx, linesQuery, id)
	if err != nil {
		return nil, 0, fmt.Errorf("read cart %s: %w", id, err)
	}
	lines, next, err := scanLines(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("read cart %s: %w", id, err)
	}
	return lines, next, nil
}

// linesQuery reads the lines of cart $1, in order.
const linesQuery = `SELECT book_id, quantity, seq FROM cart_lines WHERE cart_id = $1 ORDER BY seq`

// scanLines reads the rows of linesQuery: the lines, and the seq a new
// line would take.
func scanLines(rows pgx.Rows) ([]bookshop.CartLine, int64, error) {
	var (
		lines []bookshop.CartLine
		l     bookshop.CartLine
		seq   int64
		next  int64 = 1
	)
	_, err := pgx.ForEachRow(rows, []any{&l.Book.ID, &l.Quantity, &seq}, func() error {
		lines = append(lines, l)
		next = seq + 1
		return nil
	})
	return lines, next, err
}

// writeLines changes the lines of cart id in tx from old to lines: it
// deletes the lines of books that lines lacks, updates the quantities
// that changed, and adds the new books after the others (from seq next),
// in the order of lines. It records now as the time of the change, on
// the cart's row (inserted when exists is false), or deletes the cart
// when lines is empty. Its writes go in one round trip, after those b
// holds; it writes nothing when nothing changes and b holds none.
func writeLines(ctx context.Context, tx pgx.Tx, id string, exists bool, old, lines []bookshop.CartLine, next int64, now time.Time, b *pgx.Batch) error {
	if slices.Equal(old, lines) {
		if b.Len() == 0 {
			return nil
		}
		return sendWrites(ctx, tx, id, b)
	}
	if len(lines) > bookshop.MaxCartLines {
		return fmt.Errorf("write cart %s: %d lines, more than %d", id, len(lines), bookshop.MaxCartLines)
	}
	switch {
	case len(lines) == 0:
		b.Queue(`DELETE FROM carts WHERE id = $1`, id) // its lines go with it
	case exists:
		b.Queue(`UPDATE carts SET updated_at = $2 WHERE id = $1`, id, now.Unix())
	default:
		// Refused when another change inserted the row since lockAndRead
		// found none: the change runs again (DB.change).
		b.Queue(`INSERT INTO carts (id, updated_at) VALUES ($1, $2)`, id, now.Unix())
	}
	if len(lines) > 0 {
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
				b.Queue(`DELETE FROM cart_lines WHERE cart_id = $1 AND book_id = $2`, id, l.Book.ID)
			}
		}
		for _, l := range lines {
			switch q, ok := had[l.Book.ID]; {
			case !ok:
				b.Queue(`INSERT INTO cart_lines (cart_id, book_id, quantity, seq) VALUES ($1, $2, $3, $4)`, id, l.Book.ID, l.Quantity, next)
				next++
			case q != l.Quantity:
				b.Queue(`UPDATE cart_lines SET quantity = $3 WHERE cart_id = $1 AND book_id = $2`, id, l.Book.ID, l.Quantity)
			}
		}
	}
	return sendWrites(ctx, tx, id, b)
}

// sendWrites sends the writes of b to cart id in one round trip.
func sendWrites(ctx context.Context, tx pgx.Tx, id string, b *pgx.Batch) error {
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write cart %s: %w", id, err)
	}
	return nil
}

// DeleteIdle deletes the carts whose id starts with prefix (letters,
// digits, '-' and '_' only) and whose last change was before before, a
// few hundred per statement, and returns how many it deleted. A cart
// changed meanwhile, by any replica, is kept. It waits for no other
// transaction: a cart whose row another holds (a change of it, or
// another replica's sweep) is skipped, and left to that transaction or
// to the next sweep. It stops early, with ctx's error, when ctx ends.
func (db *DB) DeleteIdle(ctx context.Context, prefix string, before time.Time) (int, error) {
	if strings.ContainsFunc(prefix, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	}) {
		return 0, fmt.Errorf("delete idle carts: prefix %q: want letters, digits, '-' and '_'", prefix)
	}
	// The inner SELECT locks the rows it picks, skipping those another
	// transaction holds, so that sweeps on several replicas at once share
	// the work rather than wait for each other, and a change under way is
	// not waited for. The outer condition is checked again all the same.
	n, err := db.deleteInBatches(ctx, `DELETE FROM carts WHERE id IN (
		SELECT id FROM carts WHERE updated_at < $1 AND starts_with(id, $2) LIMIT $3 FOR UPDATE SKIP LOCKED) AND updated_at < $1`,
		before.Unix(), prefix, sweepBatch)
	if err != nil {
		return n, pgdb.Classify(fmt.Errorf("delete idle carts: %w", err))
	}
	return n, nil
}

// DeleteKeys deletes the records of the idempotency keys made before
// before (see AddOnce and RemoveOnce), a few hundred per statement, and
// returns how many it deleted. A record renewed meanwhile is kept. As
// DeleteIdle, it skips the records another transaction holds rather than
// wait. It stops early, with ctx's error, when ctx ends.
func (db *DB) DeleteKeys(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for _, table := range []string{"cart_add_keys", "cart_remove_keys"} {
		n, err := db.deleteInBatches(ctx, `DELETE FROM `+table+` WHERE (cart_id, key) IN (
			SELECT cart_id, key FROM `+table+` WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) AND created_at < $1`,
			before.Unix(), sweepBatch)
		deleted += n
		if err != nil {
			return deleted, pgdb.Classify(fmt.Errorf("delete old idempotency keys: %w", err))
		}
	}
	return deleted, nil
}

// deleteInBatches runs query, a DELETE of at most sweepBatch rows (its
// last argument), until it deletes fewer, and returns how many rows it
// deleted in all. A batch short for rows skipped as locked ends it too:
// the next sweep finds them.
func (db *DB) deleteInBatches(ctx context.Context, query string, args ...any) (int, error) {
	deleted := 0
	for {
		tag, err := db.db.Pool.Exec(ctx, query, args...)
		if err != nil {
			return deleted, err
		}
		n := int(tag.RowsAffected())
		deleted += n
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
