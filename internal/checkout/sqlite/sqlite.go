// Package sqlite keeps the Checkout's saga log in an SQLite database,
// through modernc.org/sqlite, a driver in pure Go (no cgo).
//
// The database is one file. Open creates it when it is missing and
// applies the schema migrations embedded in the binary. A checkout is one
// row (see the migrations): its customer and key, its attempt's id, the
// fingerprint of its request, its state, the recoverer's attempts and
// when it tries next, and the rest of its record as JSON. The card is
// never in it.
//
// Every change is on disk before it returns: the write-ahead log is
// synced at each commit (synchronous=FULL), so that a step recorded
// survives a power cut, not only a crash. The exceptions say so
// (BeginUnsynced, SaveUnsynced): their changes reach the disk with the
// next sync, a durable write's or Sync's, and a crash of the process
// loses none of them meanwhile. Changes are serialized on one writing
// connection; reads go through a pool of read-only connections.
//
// A record carries the lease of the replica that works on it (see
// saga.Lease), by the clock of this process: the log keeps the rules of
// package postgres's, which replicas share, though one process uses a
// file.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Memory is the path that opens a database in memory, gone at Close.
const Memory = sqlitedb.Memory

// maxReaders is the most read-only connections open at once.
const maxReaders = 4

// sweepBatch is how many rows DeleteEnded deletes in one transaction, so
// that a large sweep holds the write lock only briefly at a time.
const sweepBatch = 500

// DB is the saga log in SQLite. It is safe for concurrent use.
type DB struct {
	pools *sqlitedb.DB // Write: one connection, every change; Read: the reads
}

// Open opens the checkout database at path (or Memory), creating it if
// needed, and migrates it to the schema this binary knows. It fails if
// the file is not a Bookshop checkout database or has a newer schema than
// this binary knows.
func Open(ctx context.Context, path string) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open checkout database %q: %w", path, err)
	}
	pools, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Synchronous: sqlitedb.SyncFull, Readers: maxReaders})
	if err != nil {
		return nil, fmt.Errorf("open checkout database %q: %w", path, err)
	}
	if err := sqlitedb.Migrate(ctx, pools, sqlitedb.Schema{Name: "checkout database", Migrations: ms}); err != nil {
		pools.Close()
		return nil, fmt.Errorf("open checkout database %q: %w", path, err)
	}
	return &DB{pools: pools}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.pools.Close() }

// Ping returns nil when the database answers, for readiness.
func (db *DB) Ping(ctx context.Context) error { return db.pools.Read.PingContext(ctx) }

// columns are the columns a Record is read from, in scan's order.
const columns = `customer_id, key, id, request, state, record, created_at, updated_at, attempts, next_try_at`

// lastPlaced reads the number of the last checkout that placed its
// order, 0 when none has (see PlacedMark); its WHERE lets the partial
// index checkouts_placed serve it.
const lastPlaced = `SELECT coalesce(max(placed_seq), 0) FROM checkouts WHERE placed_seq IS NOT NULL`

// unfinished is the condition of the rows of the checkouts that have not
// ended, as the partial indexes checkouts_due and checkouts_open have it.
const unfinished = `state NOT IN ('done', 'failed')`

// millis returns t as the Unix time in milliseconds of a column; 0 for
// the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis returns the time of a column's Unix time in milliseconds,
// in UTC; the zero time for 0.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scan reads a Record from the columns of a row.
func scan(s scanner) (*saga.Record, error) {
	var (
		r                         saga.Record
		state, js                 string
		created, updated, nextTry int64
	)
	if err := s.Scan(&r.CustomerID, &r.Key, &r.ID, &r.Request, &state, &js, &created, &updated, &r.Attempts, &nextTry); err != nil {
		return nil, err
	}
	r.State = saga.State(state)
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	r.NextTry = fromMillis(nextTry)
	if err := saga.Decode(&r, js); err != nil {
		return nil, err
	}
	return &r, nil
}

// Get returns the record of a customer's key, or nil when there is none.
func (db *DB) Get(ctx context.Context, customerID int32, key string) (*saga.Record, error) {
	r, err := scan(db.pools.QueryRowContext(ctx, `SELECT `+columns+` FROM checkouts WHERE customer_id = ? AND key = ?`, customerID, key))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read checkout %d/%s: %w", customerID, key, err)
	}
	return r, nil
}

// PlacedMark returns the log's mark (see saga.Mark): the number of the
// last checkout that placed its order, 0 when none has.
func (db *DB) PlacedMark(ctx context.Context) (saga.Mark, error) {
	var mark int64
	if err := db.pools.QueryRowContext(ctx, lastPlaced).Scan(&mark); err != nil {
		return saga.NoMark, fmt.Errorf("read the checkouts' mark: %w", err)
	}
	return saga.Mark(mark), nil
}

// Begin records r as the checkout of its customer and key, leased to
// lease's owner for its TTL (none for an Owner of ""), replacing a record
// of the key that failed with Unavailable, and no other: for any other,
// it fails with saga.ErrKeyTaken. While another key of the customer has
// a record of the same cart that has not ended, or that placed its order
// after since (a mark of PlacedMark's; saga.NoMark for none), it records
// nothing and fails with saga.ErrCartBusy (a key's own record comes
// first: ErrKeyTaken, when it has one). One statement checks and writes:
// SQLite runs one write at a time, so of two Begins of a cart at once,
// the second finds the first's record.
func (db *DB) Begin(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error {
	return db.begin(ctx, r, lease, since, db.pools.ExecContext)
}

// BeginUnsynced is Begin, but returns without waiting for the disk: the
// record survives a crash of the process at once, and a power cut once
// the next durable write (Begin, Save, ...) or Sync has returned.
func (db *DB) BeginUnsynced(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error {
	return db.begin(ctx, r, lease, since, db.pools.ExecUnsynced)
}

// execFunc runs a statement that changes the database: sqlitedb.DB's
// ExecContext, or its ExecUnsynced.
type execFunc func(ctx context.Context, query string, args ...any) (sql.Result, error)

// begin is Begin, its statement run by exec.
func (db *DB) begin(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark, exec execFunc) error {
	data, err := saga.Encode(r)
	if err != nil {
		return err
	}
	until := int64(0)
	if lease.Owner != "" {
		until = leaseUntil(lease.TTL)
	}
	// The WHERE of the SELECT also tells SQLite that ON CONFLICT is the
	// upsert's, not a join's. INDEXED BY holds the look for another
	// checkout of the cart to the customer's unfinished ones (the
	// statement fails to prepare if that index cannot serve it): through
	// the primary key, it would read every checkout the customer made.
	// Likewise, the look for a checkout of the cart that placed its order
	// after since reads only those placed after it, a few at most.
	// (NoMark, -1, is before every number.)
	res, err := exec(ctx, `INSERT INTO checkouts (`+columns+`, lease_owner, lease_until)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
		WHERE NOT EXISTS (SELECT 1 FROM checkouts INDEXED BY checkouts_open
			WHERE customer_id = ?1 AND key <> ?2 AND `+unfinished+` AND json_extract(record, '$.CartID') = ?13)
		AND (?14 < 0 OR NOT EXISTS (SELECT 1 FROM checkouts INDEXED BY checkouts_placed
			WHERE placed_seq > ?14 AND customer_id = ?1 AND key <> ?2 AND json_extract(record, '$.CartID') = ?13))
		ON CONFLICT (customer_id, key) DO UPDATE SET
			id = excluded.id, request = excluded.request, state = excluded.state, record = excluded.record,
			created_at = excluded.created_at, updated_at = excluded.updated_at,
			attempts = excluded.attempts, next_try_at = excluded.next_try_at,
			lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
		WHERE checkouts.state = 'failed' AND json_extract(checkouts.record, '$.ErrCode') = 'unavailable'`,
		r.CustomerID, r.Key, r.ID, r.Request, string(r.State), data, r.Created.UnixMilli(), r.Updated.UnixMilli(), r.Attempts, millis(r.NextTry),
		lease.Owner, until, r.CartID, int64(since))
	if err != nil {
		return fmt.Errorf("record checkout %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("record checkout %s: %w", r.ID, db.refusal(ctx, r))
	}
	return nil
}

// refusal returns why Begin recorded nothing for r (see saga.Refusal),
// reading its key's record; saga.ErrKeyTaken when that cannot be read:
// the caller then waits for the key's outcome, which it reads again.
func (db *DB) refusal(ctx context.Context, r *saga.Record) error {
	prior, err := db.Get(ctx, r.CustomerID, r.Key)
	if err != nil {
		return fmt.Errorf("%w (the key's record could not be read: %v)", saga.ErrKeyTaken, err)
	}
	return saga.Refusal(prior)
}

// leaseUntil returns when a lease taken now for ttl ends, by this
// process's clock, the one that reads it too (one process uses a file).
func leaseUntil(ttl time.Duration) int64 { return time.Now().Add(ttl).UnixMilli() }

// Lease returns the record of customerID's key (nil when there is none)
// and, when it has not ended and no lease of another owner runs on it,
// leases it to lease's owner for its TTL (or renews the owner's), and
// reports true. It reports false, and changes nothing, for a record that
// ended or that another owner's lease holds.
func (db *DB) Lease(ctx context.Context, customerID int32, key string, lease saga.Lease) (*saga.Record, bool, error) {
	r, err := db.Get(ctx, customerID, key)
	if err != nil || r == nil || r.State.Ended() {
		return r, false, err
	}
	// Not durable by itself: a lease matters only while its process
	// lives, and a later commit syncs it.
	r, err = scan(db.pools.Write.QueryRowContext(ctx, `UPDATE checkouts SET lease_owner = ?3, lease_until = ?4
		WHERE customer_id = ?1 AND key = ?2 AND `+unfinished+` AND (lease_owner IN ('', ?3) OR lease_until <= ?5)
		RETURNING `+columns, customerID, key, lease.Owner, leaseUntil(lease.TTL), time.Now().UnixMilli()))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Ended, or another's, since it was read.
		r, err := db.Get(ctx, customerID, key)
		return r, false, err
	case err != nil:
		return nil, false, fmt.Errorf("lease checkout %d/%s: %w", customerID, key, err)
	}
	return r, true, nil
}

// EndLease ends owner's lease on the record of customerID's key, if owner
// holds it: other replicas may take the checkout up at once.
func (db *DB) EndLease(ctx context.Context, customerID int32, key, owner string) error {
	if _, err := db.pools.ExecContext(ctx, `UPDATE checkouts SET lease_owner = '', lease_until = 0
		WHERE customer_id = ? AND key = ? AND lease_owner = ?`, customerID, key, owner); err != nil {
		return fmt.Errorf("end the lease of checkout %d/%s: %w", customerID, key, err)
	}
	return nil
}

// Save writes r over the record of its customer, key and ID, which owner
// leases (or leased, and no other took it since); a record that ends (r
// is Done or Failed) ends the lease. It fails with saga.ErrNotHeld when
// there is no such record.
func (db *DB) Save(ctx context.Context, r *saga.Record, owner string) error {
	return db.save(ctx, r, owner, db.pools.ExecContext)
}

// SaveUnsynced is Save, but returns without waiting for the disk: the
// change survives a crash of the process at once, and a power cut once
// the next durable write (Begin, Save, ...) or Sync has returned.
func (db *DB) SaveUnsynced(ctx context.Context, r *saga.Record, owner string) error {
	return db.save(ctx, r, owner, db.pools.ExecUnsynced)
}

// Sync returns once every record written by BeginUnsynced and
// SaveUnsynced before the call is on the disk: at once when the sync of
// a durable write made since has covered them.
func (db *DB) Sync(context.Context) error { return db.pools.Sync() }

// save is Save, its statement run by exec.
func (db *DB) save(ctx context.Context, r *saga.Record, owner string, exec execFunc) error {
	data, err := saga.Encode(r)
	if err != nil {
		return err
	}
	// A checkout that placed its order takes the next number of
	// placed_seq (see PlacedMark), once.
	res, err := exec(ctx, `UPDATE checkouts SET state = ?1, record = ?2, updated_at = ?3, attempts = ?4, next_try_at = ?5,
			lease_owner = CASE WHEN ?6 THEN '' ELSE lease_owner END, lease_until = CASE WHEN ?6 THEN 0 ELSE lease_until END,
			placed_seq = CASE WHEN ?1 = 'done' THEN coalesce(placed_seq, (`+lastPlaced+`) + 1) ELSE placed_seq END
		WHERE customer_id = ?7 AND key = ?8 AND id = ?9 AND lease_owner = ?10`,
		string(r.State), data, r.Updated.UnixMilli(), r.Attempts, millis(r.NextTry), r.State.Ended(),
		r.CustomerID, r.Key, r.ID, owner)
	if err != nil {
		return fmt.Errorf("record checkout %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("record checkout %s: %w", r.ID, saga.ErrNotHeld)
	}
	return nil
}

// Postpone writes r's Attempts and NextTry over the record of its
// customer, key and ID, which owner leases, in the state r has, and
// nothing else of it. It fails with saga.ErrNotHeld when there is no such
// record.
func (db *DB) Postpone(ctx context.Context, r *saga.Record, owner string) error {
	res, err := db.pools.ExecContext(ctx, `UPDATE checkouts SET attempts = ?, next_try_at = ?
		WHERE customer_id = ? AND key = ? AND id = ? AND state = ? AND lease_owner = ?`,
		r.Attempts, millis(r.NextTry), r.CustomerID, r.Key, r.ID, string(r.State), owner)
	if err != nil {
		return fmt.Errorf("postpone checkout %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("postpone checkout %s: %w", r.ID, saga.ErrNotHeld)
	}
	return nil
}

// Unfinished returns at most limit records that have not ended, are due
// at now (their NextTry is zero, or not after now) and that no lease of
// another owner than owner holds: those paid for and without an order
// (charged, committed) first, then by NextTry, the earliest first, then
// those changed least recently.
func (db *DB) Unfinished(ctx context.Context, owner string, now time.Time, limit int) ([]*saga.Record, error) {
	rows, err := db.pools.QueryContext(ctx, `SELECT `+columns+` FROM checkouts
		WHERE `+unfinished+` AND next_try_at <= ? AND (lease_owner IN ('', ?) OR lease_until <= ?)
		ORDER BY state NOT IN ('charged', 'committed'), next_try_at, updated_at LIMIT ?`, now.UnixMilli(), owner, time.Now().UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("read unfinished checkouts: %w", err)
	}
	defer rows.Close()
	var recs []*saga.Record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read unfinished checkouts: %w", err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read unfinished checkouts: %w", err)
	}
	return recs, nil
}

// CountUnfinished returns how many records have not ended, due or not,
// and when the oldest of them was created (the zero time when there is
// none).
func (db *DB) CountUnfinished(ctx context.Context) (n int, oldest time.Time, err error) {
	var created int64
	err = db.pools.QueryRowContext(ctx, `SELECT count(*), coalesce(min(created_at), 0) FROM checkouts WHERE `+unfinished).Scan(&n, &created)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count unfinished checkouts: %w", err)
	}
	return n, fromMillis(created), nil
}

// DeleteEnded deletes the records of the checkouts that ended (done or
// failed) before before, a few hundred per transaction, and returns how
// many it deleted. It keeps the last that placed its order, whose number
// the next goes on from (see PlacedMark). It stops early, with ctx's
// error, when ctx ends.
func (db *DB) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		// The row with the highest placed_seq stays: the numbers of the
		// orders placed after it go on from it (see PlacedMark).
		res, err := db.pools.ExecContext(ctx, `DELETE FROM checkouts WHERE (customer_id, key) IN (
			SELECT customer_id, key FROM checkouts WHERE state IN ('done', 'failed') AND updated_at < ?1
				AND coalesce(placed_seq < (SELECT max(placed_seq) FROM checkouts WHERE placed_seq IS NOT NULL), true) LIMIT ?2)`,
			before.UnixMilli(), sweepBatch)
		if err != nil {
			return deleted, fmt.Errorf("delete ended checkouts: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return deleted, fmt.Errorf("delete ended checkouts: %w", err)
		}
		deleted += int(n)
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
