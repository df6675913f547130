package pgdb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The retries of Tx: at most TxAttempts runs of the function, the pause
// before each retry drawn at random up to a bound that doubles from
// firstBackoff to maxBackoff, so that transactions that collided do not
// collide again in step.
const (
	TxAttempts   = 12
	firstBackoff = 2 * time.Millisecond
	maxBackoff   = 250 * time.Millisecond
)

// The SQLSTATE codes after which a transaction is run again: PostgreSQL
// gave it up so that the others could go on, and the same work, run anew,
// can succeed. And that of a unique constraint's refusal.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	uniqueViolation      = "23505"
)

// Tx runs fn in a transaction and commits it; if fn returns an error, it
// rolls back and returns that error. When PostgreSQL aborts the
// transaction with a deadlock (SQLSTATE 40P01) or a serialization failure
// (40001), in fn or at the commit, Tx runs fn again in a new transaction,
// after a random pause, up to TxAttempts times in all. So fn must be safe
// to run again: it must keep nothing from a run that failed (results go
// to variables that it sets afresh, not that it appends to) and do
// nothing outside the transaction (no calls to other services).
//
// The transaction is READ COMMITTED, and fn takes explicit row locks: a
// service's SQLite code reads, decides, then writes, assuming nothing
// changes in between, because SQLite has one writer at a time. On a
// shared database, fn first locks the rows its decision rests on, with
// SELECT ... ORDER BY key FOR UPDATE (the order keeps two transactions
// that need the same rows from deadlocking), and reads them after: each
// statement sees what was committed before it began, so what it reads
// then holds until it commits. A decision on a row that does not exist
// yet rests on a unique constraint: the second insert fails with
// UniqueViolation, and running the transaction again finds the first's
// row. Writers of the same rows take turns; others do not meet.
//
// Why not SERIALIZABLE, which would need no locks: its conflict tracking
// is by index page, not by row, so that transactions on unrelated rows
// abort each other. Measured on the Inventory, 20 buyers at once over 200
// books, two replicas: 283 checkouts a second under SERIALIZABLE, and 8
// of 1,459 failed even after 12 attempts; with row locks, 733 a second,
// and none failed.
//
// Errors: fn's own error, as it returned it, unless it is Unreachable; a
// *pgconn.PgError, wrapped with the number of attempts, when every
// attempt failed as above; ctx's error, wrapping the last attempt's, when
// ctx ends before the next attempt; the errors of beginning and
// committing; and, for any of them that says the database could not be
// reached or the connection was lost (Unreachable), that error as the
// kernel's Unavailable (see Classify), which a gRPC caller may retry. Such a
// transaction is not run again here: it may have committed, and only the
// caller's retry, keyed, can find out.
func (db *DB) Tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	return retry(ctx, func() error { return pgx.BeginTxFunc(ctx, db.Pool, opts, fn) })
}

// TwoTrips runs a transaction, READ COMMITTED as Tx's, in two round
// trips (once the connection has its statements prepared: on a new one,
// pgx first prepares each batch's new statements, a round trip more):
// the first sends BEGIN and the statements that read queues
// (which take their locks, then read, in statements of their own: each a
// snapshot taken once the locks before it are granted), whose results
// read's callbacks take (pgx.QueuedQuery's Query, QueryRow and Exec);
// the second sends the statements that write queues, decided on those
// results, with the COMMIT. A lock taken in the first is held for one
// round trip and the commit; one taken in the second, for the commit
// alone. That is what a row that every request wants (a popular book's
// stock) needs: Tx holds its locks across a round trip per statement,
// each a wait for the caller's process to run again on a busy machine.
//
// write returning an error rolls the transaction back, and TwoTrips
// returns it; so does a callback of read, which write is then not
// called after. The statements of the second trip cannot decide
// whether it commits: a statement that fails rolls it back (PostgreSQL
// ignores the rest, the COMMIT included), but a result that a callback
// of write's refuses comes after the commit. So a check that must stop
// the commit is a statement that fails (a constraint, a cast), not a
// callback. write may be called more than once, and read's callbacks
// too, as Tx's fn (see Tx, whose retries, errors and classification
// TwoTrips shares).
func (db *DB) TwoTrips(ctx context.Context, read func(b *pgx.Batch), write func(b *pgx.Batch) error) error {
	return retry(ctx, func() error { return db.twoTrips(ctx, read, write) })
}

// OneTrip runs the statements that queue puts in a batch as one
// transaction, in one round trip (once the connection has its statements
// prepared): pgx sends a batch with one Sync, and PostgreSQL runs its
// statements as one implicit transaction, READ COMMITTED, each with a
// snapshot of its own taken once the locks of the statements before it
// are granted. A statement that fails rolls back those before it, and
// the rest are not run. It is for a transaction whose statements need no
// answer of the caller's between them, such as a lock and then a write
// that a condition in SQL guards; TwoTrips is for one whose writes the
// caller decides on what it read. queue may be called more than once, and
// the callbacks it sets too (see Tx, whose retries, errors and
// classification OneTrip shares).
func (db *DB) OneTrip(ctx context.Context, queue func(b *pgx.Batch)) error {
	return retry(ctx, func() error {
		var b pgx.Batch
		queue(&b)
		return db.Pool.SendBatch(ctx, &b).Close()
	})
}

// errRolledBack is the error of a second trip whose COMMIT PostgreSQL
// answered with ROLLBACK: a statement before it failed, and its error
// comes first; this one, if none did.
var errRolledBack = errors.New("the transaction was rolled back at its commit")

func (db *DB) twoTrips(ctx context.Context, read func(b *pgx.Batch), write func(b *pgx.Batch) error) error {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		// A transaction left open (a read or a write refused, an error,
		// ctx ended) is rolled back, with a context of its own; a
		// connection that cannot is closed, which ends it.
		if conn.Conn().PgConn().TxStatus() == 'I' || conn.Conn().IsClosed() {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
			conn.Conn().Close(rctx)
		}
	}()
	var first pgx.Batch
	first.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	read(&first)
	if err := conn.SendBatch(ctx, &first).Close(); err != nil {
		return err
	}
	var second pgx.Batch
	if err := write(&second); err != nil {
		return err
	}
	second.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return errRolledBack
		}
		return nil
	})
	return conn.SendBatch(ctx, &second).Close()
}

// rollbackTimeout bounds the rollback of a transaction that TwoTrips
// leaves open.
const rollbackTimeout = 5 * time.Second

// retry runs run, and again after a deadlock or a serialization
// failure, as Tx does.
func retry(ctx context.Context, run func() error) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := run()
		if err == nil || !Retryable(err) {
			return Classify(err)
		}
		if attempt == TxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		if ctx.Err() != nil {
			return stopped(ctx, attempt, err)
		}
		t := time.NewTimer(rand.N(backoff) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return stopped(ctx, attempt, err)
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stopped is Tx's error when ctx ends before the attempt after attempt,
// whose error was last: ctx's error, which the caller's edge maps as the
// end of its call (a gRPC status of CANCELLED or DEADLINE_EXCEEDED), not
// as an internal error, wrapped with the last attempt's, for the log.
func stopped(ctx context.Context, attempt int, last error) error {
	return fmt.Errorf("%w before attempt %d (attempt %d: %w)", ctx.Err(), attempt+1, attempt, last)
}

// Retryable reports whether err is, or wraps, PostgreSQL's word that a
// transaction was given up for another's sake and may be run again: a
// serialization failure (SQLSTATE 40001) or a deadlock (40P01).
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == serializationFailure || pgErr.Code == deadlockDetected
}

// UniqueViolation reports whether err is, or wraps, PostgreSQL's refusal
// of a row that a unique constraint named constraint (any, when "")
// already holds: SQLSTATE 23505. Two transactions that each found a row
// missing and inserted it: the second is refused, and, run again, finds
// the first's.
func UniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && (constraint == "" || pgErr.ConstraintName == constraint)
}
