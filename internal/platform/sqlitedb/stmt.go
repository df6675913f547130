package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// prepareTimeout bounds the preparing of a statement after a transaction
// that ran it unprepared: it waits for the writing connection.
const prepareTimeout = 5 * time.Second

// maxStatements is the most statements a pool keeps prepared. A service's
// queries are constants, a few dozen; a query built with a list of
// placeholders as long as its input has a text per length, and past the
// cap runs unprepared, as every query did before the cache.
const maxStatements = 256

// statements prepares each query once for a pool, and keeps it: SQLite
// compiles a statement's text at each Exec or Query otherwise, which
// costs about as much as running the statement.
type statements struct {
	pool *sql.DB
	m    sync.Map // query text -> *sql.Stmt, or nil when it cannot be prepared
	n    atomic.Int32
}

// get returns query's statement, or nil when it is not prepared.
func (c *statements) get(query string) *sql.Stmt {
	if v, ok := c.m.Load(query); ok {
		st, _ := v.(*sql.Stmt)
		return st
	}
	return nil
}

// prepare returns query's statement, preparing it first if it is new and
// the cache has room; nil when it has none, when the query cannot be
// prepared (its error is the query's own, when it runs: SQLite refuses its
// text, and it is never tried again), or when preparing failed for a
// passing reason (ctx ended, the connection was busy past the timeout, a
// table not there yet: tried again next time). It must not be called
// while the caller holds the pool's only connection, in a transaction: it
// would wait for it.
func (c *statements) prepare(ctx context.Context, query string) *sql.Stmt {
	if v, ok := c.m.Load(query); ok {
		st, _ := v.(*sql.Stmt)
		return st
	}
	if c.n.Load() >= maxStatements {
		return nil
	}
	// A failure for a passing reason, such as ctx ending while the
	// statement waits for a connection, is not kept: the statement
	// outlives the request that first runs it.
	pctx, cancel := context.WithTimeout(ctx, prepareTimeout)
	st, err := c.pool.PrepareContext(pctx, query)
	cancel()
	if err != nil && !neverPrepares(err) {
		return nil
	}
	if v, loaded := c.m.LoadOrStore(query, st); loaded {
		// Another goroutine prepared it meanwhile.
		if st != nil {
			st.Close()
		}
		st, _ = v.(*sql.Stmt)
		return st
	}
	c.n.Add(1)
	return st
}

// neverPrepares reports whether err, from preparing a query, says that
// its text can never be prepared: an SQLite error about the text itself
// (a syntax error, several statements), not about the moment (busy,
// interrupted, a table missing now but made by a later migration).
func neverPrepares(err error) bool {
	var serr *sqlite.Error
	if !errors.As(err, &serr) || serr.Code()&0xff != sqlite3.SQLITE_ERROR {
		return false
	}
	return !strings.Contains(serr.Error(), "no such")
}

// close closes the statements.
func (c *statements) close() {
	c.m.Range(func(_, v any) bool {
		if st, _ := v.(*sql.Stmt); st != nil {
			st.Close()
		}
		return true
	})
}

// Tx is a transaction whose statements are prepared once for the
// database: its ExecContext, QueryContext and QueryRowContext run a
// query's prepared statement when there is one, and otherwise run the
// query as *sql.Tx does and prepare it once the transaction ends, apart
// from the caller (while a transaction of Write holds the only
// connection, nothing else can be prepared on it). Its other methods are
// *sql.Tx's.
//
// One rule more than *sql.Tx's: a query's rows must be closed before the
// same query text runs again in the transaction, for both runs share the
// one prepared statement (SQLite answers "bad parameter or other API
// misuse" otherwise). The stores never nest a query in itself.
type Tx struct {
	*sql.Tx
	stmts *statements
	wal   *walSync    // makes a commit durable; nil for reads and without SyncFull
	learn []string    // queries run unprepared, to prepare when the transaction ends
	watch func() bool // stops the rollback at ctx's end (see begin); nil when database/sql watches
	// ctx is the context the transaction began with, kept so that Commit
	// answers with its error once the watch has rolled the transaction
	// back, as *sql.Tx does with its own.
	ctx context.Context
}

// Begin starts a transaction of Write: it takes the database's write lock
// as it begins (BEGIN IMMEDIATE), waiting for the connection if another
// transaction has it. ctx ending rolls the transaction back, as it does
// one of *sql.DB: Commit then fails with ctx's error.
func (db *DB) Begin(ctx context.Context) (*Tx, error) {
	return begin(ctx, db.Write, nil, db.writes, db.wal)
}

// BeginRead starts a read-only transaction of Read: its reads see one
// snapshot of the database.
func (db *DB) BeginRead(ctx context.Context) (*Tx, error) {
	return begin(ctx, db.Read, &sql.TxOptions{ReadOnly: true}, db.reads, nil)
}

// begin starts a transaction of pool. When a connection is free, the
// transaction begins with a context that never ends (see callContext),
// and a callback of ctx's, which costs no goroutine until ctx ends, rolls
// it back then, as database/sql would.
func begin(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, stmts *statements, wal *walSync) (*Tx, error) {
	cctx := callContext(ctx, pool)
	if err := cctx.Err(); err != nil {
		return nil, err
	}
	stx, err := pool.BeginTx(cctx, opts)
	if err != nil {
		return nil, err
	}
	tx := &Tx{Tx: stx, stmts: stmts, wal: wal, ctx: ctx}
	if cctx != ctx {
		tx.watch = context.AfterFunc(ctx, func() { stx.Rollback() }) //nolint:errcheck // the connection's end, if it fails
	}
	return tx, nil
}

// stmt returns query's statement for use in tx, or nil, and then notes
// the query, to prepare it when tx ends.
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := tx.stmts.get(query); st != nil {
		return tx.Tx.StmtContext(ctx, st)
	}
	if len(tx.learn) < maxStatements {
		tx.learn = append(tx.learn, query)
	}
	return nil
}

// ExecContext runs query in the transaction. A statement of a
// transaction is not interrupted: once begun, it runs to its end, whatever
// ctx does. ctx ending fails the transaction's next statement with ctx's
// error, and the transaction is rolled back as soon as the
// statement in progress has ended (most statements of the stores take
// microseconds; a few take longer, such as a sweep of many expired holds
// or the staging of a large import). The driver would otherwise start a
// goroutine for each statement, to interrupt SQLite when ctx ends (see
// stmtContext).
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sctx := stmtContext(ctx)
	var res sql.Result
	var err error
	if st := tx.stmt(sctx, query); st != nil {
		res, err = st.ExecContext(sctx, args...)
	} else {
		res, err = tx.Tx.ExecContext(sctx, query, args...)
	}
	return res, ended(ctx, err)
}

// QueryContext runs query in the transaction; see ExecContext. The rows
// are closed when the transaction is rolled back, as it is when its
// context ends.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sctx := stmtContext(ctx)
	var rows *sql.Rows
	var err error
	if st := tx.stmt(sctx, query); st != nil {
		rows, err = st.QueryContext(sctx, args...)
	} else {
		rows, err = tx.Tx.QueryContext(sctx, query, args...)
	}
	return rows, ended(ctx, err)
}

// QueryRowContext runs query in the transaction; see ExecContext.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if ctx.Err() != nil {
		return tx.Tx.QueryRowContext(ctx, query, args...) // a Row that holds ctx's error
	}
	sctx := stmtContext(ctx)
	if st := tx.stmt(sctx, query); st != nil {
		return st.QueryRowContext(sctx, args...)
	}
	return tx.Tx.QueryRowContext(sctx, query, args...)
}

// stmtContext returns ctx for a statement of a transaction: with its
// values, but never done. modernc.org/sqlite interrupts a statement whose
// context ends, from a goroutine it starts for each statement run with a
// context that can end: a goroutine, its wake-up and some ten allocations
// for a statement that takes microseconds. The transaction itself keeps
// the caller's context, so that ctx ending still ends it (ExecContext and
// the others look first, and the transaction is rolled back).
func stmtContext(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// callContext returns the context for a call of pool that may have to
// wait for one of its connections: ctx itself while every connection is
// in use, so that the wait ends with ctx; otherwise, when one is free,
// ctx's values, never done (see stmtContext). The call checks ctx first.
// Between the look and the call, another may take the free connection:
// the call then waits for the next one to be free, past ctx's end if it
// comes first, and runs. Nor does ctx end a wait for a lock that another
// process holds: the busy timeout does.
func callContext(ctx context.Context, pool *sql.DB) context.Context {
	if ctx.Done() == nil || ctx.Err() != nil || pool.Stats().Idle == 0 {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// ended returns ctx's error in place of err when ctx ended while the
// statement was being started: database/sql then reports the transaction
// it rolled back as sql.ErrTxDone, which would read as a bug of the
// caller's rather than the end of its request.
func ended(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, sql.ErrTxDone) {
		return ctx.Err()
	}
	return err
}

// Commit commits the transaction and, with SyncFull, returns once the
// commit is on the disk (an error then says it may not be, though other
// connections may have read it); then it prepares the queries the
// transaction ran unprepared.
func (tx *Tx) Commit() error {
	if tx.watch != nil && !tx.watch() && tx.ctx.Err() != nil {
		// ctx ended: the transaction is rolled back, or being. (The watch
		// also reports false when it was stopped before, by Rollback or
		// Commit: then database/sql's Commit answers sql.ErrTxDone.)
		tx.Rollback() //nolint:errcheck // sql.ErrTxDone, when it is already
		return tx.ctx.Err()
	}
	err := tx.Tx.Commit()
	if err == nil && tx.wal != nil {
		err = tx.wal.durable()
	}
	tx.prepareLearned()
	return err
}

// EndReplay ends a transaction that wrote nothing because it found what
// an earlier request made (a key's first result, a state already
// reached), to be answered again: it rolls back, freeing the writing
// connection at once, and then returns as DB.Durable does, once that
// earlier change is on the disk.
func (tx *Tx) EndReplay() error {
	tx.Rollback() //nolint:errcheck // it wrote nothing: only the connection's end could fail
	if tx.wal == nil {
		return nil
	}
	return tx.wal.durable()
}

// Rollback aborts the transaction (a no-op, returning sql.ErrTxDone,
// after Commit), and then prepares the queries it ran unprepared.
func (tx *Tx) Rollback() error {
	if tx.watch != nil {
		tx.watch()
	}
	err := tx.Tx.Rollback()
	tx.prepareLearned()
	return err
}

// prepareLearned prepares the queries tx ran unprepared, in the
// background: the caller, whose transaction is over, does not wait for
// the writing connection again.
func (tx *Tx) prepareLearned() {
	if len(tx.learn) == 0 {
		return
	}
	learn, stmts := tx.learn, tx.stmts
	tx.learn = nil
	go func() {
		for _, q := range learn {
			stmts.prepare(context.Background(), q)
		}
	}()
}

// ExecContext runs query on Write, its statement prepared once, as a
// transaction of its own: with SyncFull it returns once the change is on
// the disk, as Tx.Commit does.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := db.exec(ctx, query, args...)
	if err == nil && db.wal != nil {
		if err = db.wal.durable(); err != nil {
			return nil, err
		}
	}
	return res, err
}

// exec runs query on Write, its statement prepared once, and returns
// once it is committed, before any sync.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = callContext(ctx, db.Write)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if st := db.writes.prepare(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.Write.ExecContext(ctx, query, args...)
}

// ExecUnsynced runs query on Write as a transaction of its own, as
// ExecContext does, but returns once it is committed, without waiting
// for its sync: at once, the change survives a crash of the process (it
// is in the operating system's cache) but not a power cut; it is on the
// disk once a later sync covers it, that of a commit of ExecContext or
// Tx.Commit, or Sync. It is for a change that recovery could do again
// from the state before it, and that a durable change follows anyway: a
// saga's step between two that must be durable, say. Without SyncFull,
// or in memory, it is ExecContext.
func (db *DB) ExecUnsynced(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.wal == nil {
		return db.ExecContext(ctx, query, args...)
	}
	res, err := db.exec(ctx, query, args...)
	if err == nil {
		if err = db.wal.left(); err != nil {
			return nil, err
		}
	}
	return res, err
}

// Sync returns once every change ExecUnsynced committed before the call
// is on the disk: at once when a sync that began after the last of them
// has ended, as one of a durable commit's often has, and otherwise after
// a sync of its own. An error says they may not be on the disk. Without
// SyncFull, or in memory, it returns nil.
func (db *DB) Sync() error {
	if db.wal == nil {
		return nil
	}
	return db.wal.syncLeft()
}

// Durable returns once every change committed to the database before the
// call, by any connection, is on the disk: for an answer built from a
// change the caller read rather than made, such as the first result of an
// idempotency key sent again. Another request may have committed it an
// instant before, and still wait for its sync (see Tx.Commit); answered
// before that sync, the retry would promise what a power cut could take
// back. With SyncFull it syncs the write-ahead log unless a sync that
// began after the call has ended, so a replay costs one sync at most;
// without SyncFull, or in memory, it returns nil at once. An error says
// the change may not be on the disk.
func (db *DB) Durable() error {
	if db.wal == nil {
		return nil
	}
	return db.wal.durable()
}

// QueryContext runs query on Read, its statement prepared once. With a
// connection free, ctx is looked at once, before the query (see
// callContext): its end then neither interrupts the query nor closes
// the rows, which the caller closes, as always.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = callContext(ctx, db.Read)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if st := db.reads.prepare(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.Read.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query on Read, its statement prepared once; ctx
// as for QueryContext.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = callContext(ctx, db.Read)
	if ctx.Err() != nil {
		return db.Read.QueryRowContext(ctx, query, args...) // a Row that holds ctx's error
	}
	if st := db.reads.prepare(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.Read.QueryRowContext(ctx, query, args...)
}
