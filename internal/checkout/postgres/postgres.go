// Package postgres keeps the Checkout's saga log in PostgreSQL, through
// pgx v5 (see platform/pgdb), in the schema "checkout": the Checkout's
// storage when it is given a database URL, where several replicas share
// one log.
//
// The table is package sqlite's, with the same columns and rules
// (migrations/), the record's data the same JSON text (saga.Encode), so
// that the log moves between the two as it is.
//
// Replicas agree through the table's keys and the leases (saga.Lease).
// A checkout's key is recorded once: two replicas that Begin it at once
// both insert, and the primary key (customer, key) lets the first in and
// refuses the second, which waits for the first's outcome. A cart is
// checked out under one key at a time: a Begin takes a transaction-level
// advisory lock of the customer (customerLock) before it looks for
// another key's record of the cart that has not ended, so that of two
// Begins of one cart at once, on any replicas, the second finds the
// first's record. Each record
// carries the lease of the replica that works on it, taken when it is
// begun or, for a checkout found unfinished, by one conditional UPDATE
// (Lease), which of any number of replicas at once gives it to one; its
// expiry is by the database's clock, so the replicas' clocks need not
// agree. Save and Postpone write only the lease owner's record, so that a
// replica that lost its lease never writes over the one that took it up;
// the recoverer's list (Unfinished) passes over the checkouts that
// another replica's lease holds, so that a checkout in flight on one
// replica is not undone by another's recoverer, and each unfinished one
// is taken up by one. Every change but Begin is one statement, atomic by
// itself; none waits for another but on its own row (Begin, on its
// customer's lock).
//
// While the database cannot be reached, or a connection to it is lost,
// every method fails with the kernel's Unavailable (pgdb.Classify): a
// request is answered UNAVAILABLE, and a step stalls, to be taken up
// again; a write cut off at its commit may have been made, which the
// next reading of the record finds.
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
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Schema is the name of the Checkout's schema.
const Schema = "checkout"

// sweepBatch is how many rows DeleteEnded deletes in one statement.
const sweepBatch = 500

// The SQL of the parts of the queries that every one repeats.
const (
	// columns are the columns a Record is read from, in scan's order.
	columns = `customer_id, key, id, request, state, record, created_at, updated_at, attempts, next_try_at`
	// unfinished is the condition of the rows of the checkouts that have
	// not ended, as the partial indexes checkouts_due and checkouts_open have it.
	unfinished = `state NOT IN ('done', 'failed')`
	// retryable is the condition of the row of a checkout that failed
	// with Unavailable, which a new attempt of its key replaces (see
	// saga.Record.Retryable); NULL, not false, for a record without an
	// error code.
	retryable = `(checkouts.state = 'failed' AND checkouts.record::jsonb ->> 'ErrCode' = 'unavailable')`
	// nowMillis is the database's clock, in Unix milliseconds: the
	// leases' time.
	nowMillis = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`
)

// DB is the saga log in PostgreSQL. It is safe for concurrent use, and
// other DBs, in this process or others, may use the same database at
// once.
type DB struct {
	db *pgdb.DB
}

// Open connects to the database of st and migrates schema checkout to
// the version this binary knows (see pgdb.Open). It fails if the
// database cannot be reached, or if the schema is newer than this binary
// knows or is another program's. Its errors name the database without
// its password.
func Open(ctx context.Context, st pgdb.Settings) (*DB, error) {
	ms, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open checkout database: %w", err)
	}
	db, err := pgdb.Open(ctx, st, pgdb.Schema{Name: Schema, Migrations: ms})
	if err != nil {
		return nil, fmt.Errorf("open checkout database: %w", err)
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

// scan reads a Record from the columns of a row; its error is
// pgx.ErrNoRows for none.
func scan(row pgx.Row) (*saga.Record, error) {
	var (
		r                         saga.Record
		state, js                 string
		created, updated, nextTry int64
	)
	if err := row.Scan(&r.CustomerID, &r.Key, &r.ID, &r.Request, &state, &js, &created, &updated, &r.Attempts, &nextTry); err != nil {
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
	r, err := scan(db.db.Pool.QueryRow(ctx, `SELECT `+columns+` FROM checkouts WHERE customer_id = $1 AND key = $2`, customerID, key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, pgdb.Classify(fmt.Errorf("read checkout %d/%s: %w", customerID, key, err))
	}
	return r, nil
}

// Begin records r as the checkout of its customer and key, leased to
// lease's owner for its TTL (none for an Owner of ""), replacing a record
// of the key that failed with Unavailable, and no other: for any other,
// it fails with saga.ErrKeyTaken. Of two Begins of one key at once, on
// any replicas, the second waits for the first to commit and then fails
// so (or, if the first's record failed with Unavailable, replaces it).
// While another key of the customer has a record of the same cart that
// has not ended, it records nothing and fails with saga.ErrCartBusy (a
// key's own record comes first: ErrKeyTaken, when it has one). One round
// trip (pgdb.DB.OneTrip): the customer's lock, then the insert, which
// looks for another key's record of the cart in its snapshot, taken once
// the lock is granted; a refusal reads the key's record to say which.
// This log keeps no marks (see PlacedMark): since must be saga.NoMark.
func (db *DB) Begin(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error {
	if since != saga.NoMark {
		return fmt.Errorf("record checkout %s: mark %d: this log keeps no marks", r.ID, since)
	}
	data, err := saga.Encode(r)
	if err != nil {
		return err
	}
	var inserted int64
	err = db.db.OneTrip(ctx, func(b *pgx.Batch) {
		b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, customerLock, r.CustomerID)
		// An INSERT of a SELECT types its values by their casts, not by
		// the columns.
		b.Queue(`INSERT INTO checkouts (`+columns+`, lease_owner, lease_until)
			SELECT $1::integer, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::integer, $10::bigint,
				$11::text, CASE WHEN $11 = '' THEN 0 ELSE `+nowMillis+` + $12::bigint END
			WHERE NOT EXISTS (SELECT 1 FROM checkouts
				WHERE customer_id = $1 AND key <> $2 AND `+unfinished+` AND record::jsonb ->> 'CartID' = $13::text)
			ON CONFLICT (customer_id, key) DO UPDATE SET
				id = excluded.id, request = excluded.request, state = excluded.state, record = excluded.record,
				created_at = excluded.created_at, updated_at = excluded.updated_at,
				attempts = excluded.attempts, next_try_at = excluded.next_try_at,
				lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE `+retryable,
			r.CustomerID, r.Key, r.ID, r.Request, string(r.State), data, r.Created.UnixMilli(), r.Updated.UnixMilli(), r.Attempts, millis(r.NextTry),
			lease.Owner, lease.TTL.Milliseconds(), r.CartID).Exec(func(tag pgconn.CommandTag) error {
			inserted = tag.RowsAffected()
			return nil
		})
	})
	if err != nil {
		return pgdb.Classify(fmt.Errorf("record checkout %s: %w", r.ID, err))
	}
	if inserted != 1 {
		prior, err := db.Get(ctx, r.CustomerID, r.Key)
		if err != nil {
			return fmt.Errorf("record checkout %s: %w (the key's record could not be read: %v)", r.ID, saga.ErrKeyTaken, err)
		}
		return fmt.Errorf("record checkout %s: %w", r.ID, saga.Refusal(prior))
	}
	return nil
}

// BeginUnsynced is Begin: PostgreSQL commits every write durably.
func (db *DB) BeginUnsynced(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error {
	return db.Begin(ctx, r, lease, since)
}

// PlacedMark returns saga.NoMark: this log keeps no order of the
// checkouts that placed their orders. Replicas' writes share no sequence
// that a mark could be read from in the round trip the checkout makes
// anyway, and the checkout reads its cart again once it has begun
// instead.
func (db *DB) PlacedMark(context.Context) (saga.Mark, error) { return saga.NoMark, nil }

// SaveUnsynced is Save: PostgreSQL commits every write durably.
func (db *DB) SaveUnsynced(ctx context.Context, r *saga.Record, owner string) error {
	return db.Save(ctx, r, owner)
}

// Sync returns nil: every write is on the disk when it returns.
func (db *DB) Sync(context.Context) error { return nil }

// customerLock is the first key of the transaction-level advisory locks
// of customers that Begin takes, the customer's id the second: the first
// 4 bytes of the FNV-1a hash of "bookshop checkout customers". (A lock of
// two keys is never one of a single key, as other locks are.)
var customerLock = func() int32 {
	h := fnv.New32a()
	h.Write([]byte("bookshop checkout customers"))
	return int32(h.Sum32())
}()

// Lease returns the record of customerID's key (nil when there is none)
// and, when it has not ended and no lease of another owner runs on it,
// leases it to lease's owner for its TTL (or renews the owner's), and
// reports true. It reports false, and changes nothing, for a record that
// ended or that another owner's lease holds. One statement: of any
// number of replicas that lease one checkout at once, one gets it.
func (db *DB) Lease(ctx context.Context, customerID int32, key string, lease saga.Lease) (*saga.Record, bool, error) {
	// The record as leased, or, when the update leased nothing, as it
	// is: the statement's one snapshot, in which the update's own change
	// is not seen.
	row := db.db.Pool.QueryRow(ctx, `WITH leased AS (
			UPDATE checkouts SET lease_owner = $3, lease_until = `+nowMillis+` + $4
			WHERE customer_id = $1 AND key = $2 AND `+unfinished+` AND (lease_owner IN ('', $3) OR lease_until <= `+nowMillis+`)
			RETURNING `+columns+`)
		SELECT `+columns+`, true FROM leased
		UNION ALL
		SELECT `+columns+`, false FROM checkouts WHERE customer_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM leased)`,
		customerID, key, lease.Owner, lease.TTL.Milliseconds())
	var (
		r                         saga.Record
		state, js                 string
		created, updated, nextTry int64
		leased                    bool
	)
	err := row.Scan(&r.CustomerID, &r.Key, &r.ID, &r.Request, &state, &js, &created, &updated, &r.Attempts, &nextTry, &leased)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, pgdb.Classify(fmt.Errorf("lease checkout %d/%s: %w", customerID, key, err))
	}
	r.State = saga.State(state)
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	r.NextTry = fromMillis(nextTry)
	if err := saga.Decode(&r, js); err != nil {
		return nil, false, err
	}
	return &r, leased, nil
}

// EndLease ends owner's lease on the record of customerID's key, if owner
// holds it: other replicas may take the checkout up at once.
func (db *DB) EndLease(ctx context.Context, customerID int32, key, owner string) error {
	if _, err := db.db.Pool.Exec(ctx, `UPDATE checkouts SET lease_owner = '', lease_until = 0
		WHERE customer_id = $1 AND key = $2 AND lease_owner = $3`, customerID, key, owner); err != nil {
		return pgdb.Classify(fmt.Errorf("end the lease of checkout %d/%s: %w", customerID, key, err))
	}
	return nil
}

// Save writes r over the record of its customer, key and ID, which owner
// leases (or leased, and no other took it since); a record that ends (r
// is Done or Failed) ends the lease. It fails with saga.ErrNotHeld when
// there is no such record.
func (db *DB) Save(ctx context.Context, r *saga.Record, owner string) error {
	data, err := saga.Encode(r)
	if err != nil {
		return err
	}
	tag, err := db.db.Pool.Exec(ctx, `UPDATE checkouts SET state = $1, record = $2, updated_at = $3, attempts = $4, next_try_at = $5,
			lease_owner = CASE WHEN $6 THEN '' ELSE lease_owner END, lease_until = CASE WHEN $6 THEN 0 ELSE lease_until END
		WHERE customer_id = $7 AND key = $8 AND id = $9 AND lease_owner = $10`,
		string(r.State), data, r.Updated.UnixMilli(), r.Attempts, millis(r.NextTry), r.State.Ended(),
		r.CustomerID, r.Key, r.ID, owner)
	if err != nil {
		return pgdb.Classify(fmt.Errorf("record checkout %s: %w", r.ID, err))
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("record checkout %s: %w", r.ID, saga.ErrNotHeld)
	}
	return nil
}

// Postpone writes r's Attempts and NextTry over the record of its
// customer, key and ID, which owner leases, in the state r has, and
// nothing else of it. It fails with saga.ErrNotHeld when there is no such
// record.
func (db *DB) Postpone(ctx context.Context, r *saga.Record, owner string) error {
	tag, err := db.db.Pool.Exec(ctx, `UPDATE checkouts SET attempts = $1, next_try_at = $2
		WHERE customer_id = $3 AND key = $4 AND id = $5 AND state = $6 AND lease_owner = $7`,
		r.Attempts, millis(r.NextTry), r.CustomerID, r.Key, r.ID, string(r.State), owner)
	if err != nil {
		return pgdb.Classify(fmt.Errorf("postpone checkout %s: %w", r.ID, err))
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("postpone checkout %s: %w", r.ID, saga.ErrNotHeld)
	}
	return nil
}

// Unfinished returns at most limit records that have not ended, are due
// at now (their NextTry is zero, or not after now) and that no lease of
// another owner than owner holds: those paid for and without an order
// (charged, committed) first, then by NextTry, the earliest first, then
// those changed least recently. It leases none: the recoverer leases
// each as it takes it up, and two replicas that list the same one take
// it up once.
func (db *DB) Unfinished(ctx context.Context, owner string, now time.Time, limit int) ([]*saga.Record, error) {
	rows, err := db.db.Pool.Query(ctx, `SELECT `+columns+` FROM checkouts
		WHERE `+unfinished+` AND next_try_at <= $1 AND (lease_owner IN ('', $2) OR lease_until <= `+nowMillis+`)
		ORDER BY state NOT IN ('charged', 'committed'), next_try_at, updated_at LIMIT $3`, now.UnixMilli(), owner, limit)
	if err != nil {
		return nil, pgdb.Classify(fmt.Errorf("read unfinished checkouts: %w", err))
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*saga.Record, error) { return scan(row) })
	if err != nil {
		return nil, pgdb.Classify(fmt.Errorf("read unfinished checkouts: %w", err))
	}
	return recs, nil
}

// CountUnfinished returns how many records have not ended, due or not,
// and when the oldest of them was created (the zero time when there is
// none).
func (db *DB) CountUnfinished(ctx context.Context) (n int, oldest time.Time, err error) {
	var created int64
	err = db.db.Pool.QueryRow(ctx, `SELECT count(*), coalesce(min(created_at), 0) FROM checkouts WHERE `+unfinished).Scan(&n, &created)
	if err != nil {
		return 0, time.Time{}, pgdb.Classify(fmt.Errorf("count unfinished checkouts: %w", err))
	}
	return n, fromMillis(created), nil
}

// DeleteEnded deletes the records of the checkouts that ended (done or
// failed) before before, a few hundred per statement, and returns how
// many it deleted. A record being replaced meanwhile (a new attempt of a
// key whose checkout failed with Unavailable) is passed over (SKIP
// LOCKED), and the state is checked again on the row as it is when
// deleted, so that a checkout begun again is never deleted. It stops
// early, with ctx's error, when ctx ends.
func (db *DB) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		tag, err := db.db.Pool.Exec(ctx, `DELETE FROM checkouts WHERE (customer_id, key) IN (
				SELECT customer_id, key FROM checkouts WHERE state IN ('done', 'failed') AND updated_at < $1
				LIMIT $2 FOR UPDATE SKIP LOCKED)
			AND state IN ('done', 'failed') AND updated_at < $1`, before.UnixMilli(), sweepBatch)
		if err != nil {
			return deleted, pgdb.Classify(fmt.Errorf("delete ended checkouts: %w", err))
		}
		n := int(tag.RowsAffected())
		deleted += n
		if n < sweepBatch {
			return deleted, nil
		}
	}
}
