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
// can succeed.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// Tx runs fn in a SERIALIZABLE transaction and commits it; if fn returns
// an error, it rolls back and returns that error. When PostgreSQL aborts
// the transaction with a serialization failure (SQLSTATE 40001) or a
// deadlock (40P01), in fn or at the commit, Tx runs fn again in a new
// transaction, after a random pause, up to TxAttempts times in all. So fn
// must be safe to run again: it must keep nothing from a run that failed
// (results go to variables that it sets afresh, not that it appends to)
// and do nothing outside the transaction (no calls to other services).
//
// Why SERIALIZABLE, rather than READ COMMITTED and explicit row locks: a
// service's SQLite code reads, decides, then writes, assuming nothing
// changes in between, because SQLite has one writer at a time. Under
// SERIALIZABLE that assumption holds on a shared database with any number
// of replicas, with no change to the reads: PostgreSQL aborts any
// transaction whose outcome would differ from running them one at a time,
// and Tx runs it again. With row locks, every read that a decision rests
// on would need its own FOR UPDATE, and one forgotten (or a row that does
// not exist yet, which no lock holds) is a silent oversell; a retry is
// visible, and bounded. The cost is work done again under contention,
// which the pause spreads out.
//
// Errors: fn's own error, as it returned it; a *pgconn.PgError, wrapped
// with the number of attempts, when every attempt failed as above; and
// the errors of beginning and committing, wrapped.
func (db *DB) Tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.Serializable}
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, db.Pool, opts, fn)
		if err == nil || !Retryable(err) {
			return err
		}
		if attempt == TxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		t := time.NewTimer(rand.N(backoff) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
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
