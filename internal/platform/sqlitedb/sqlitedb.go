// Package sqlitedb opens the SQLite databases the services keep their data
// in, through modernc.org/sqlite, a driver in pure Go (no cgo), and brings
// them to the schema of the binary with the migrations a service embeds.
//
// What is the same for every service is here: the connection settings
// (write-ahead log, a busy timeout, foreign keys, transactions that take the
// write lock as they begin), one writing connection beside a pool of
// read-only ones, the in-memory case, each query's statement compiled once
// and kept (see [Tx], [DB.ExecContext], [DB.QueryContext]), and versioned
// migrations recorded in a table named schema_migrations. What differs is an [Options] field or
// stays in the service: its schema and migrations, its queries, how
// durable a commit must be, and whether it reads through the database at
// all.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Memory is the path that opens a database in memory, gone at Close.
const Memory = ":memory:"

// busyTimeout is how long a connection waits for a lock that another
// process holds before it gives up.
const busyTimeout = 5 * time.Second

// Synchronous is how a commit to a database file waits for the disk: the
// value of SQLite's synchronous setting for the writing connection.
type Synchronous int

const (
	// SyncFull makes every commit durable before it returns: a change is
	// on the disk when Tx.Commit or DB.ExecContext returns, and survives a
	// power cut, not only a crash of the process. The write-ahead log is
	// synced for groups of commits at once (see walSync), not by each.
	// It is the zero value.
	SyncFull Synchronous = iota
	// SyncNormal syncs at checkpoints only: a crash of the process loses
	// nothing, but a power cut may lose the last commits. It suits data
	// that can be imported again.
	SyncNormal
)

// pragma returns s as the value of SQLite's synchronous setting: NORMAL
// for both, SyncFull adding syncs of its own after the commits.
func (s Synchronous) pragma() (string, error) {
	switch s {
	case SyncFull, SyncNormal:
		return "normal", nil
	}
	return "", fmt.Errorf("synchronous %d: want SyncFull or SyncNormal", int(s))
}

// Options are what a service chooses when it opens its database.
type Options struct {
	// Synchronous is how a commit to a file waits for the disk. An
	// in-memory database has no disk and ignores it.
	Synchronous Synchronous
	// Readers is the most read-only connections open at once to a file,
	// beside the writing one. With 0, or in memory, DB.Read is DB.Write.
	Readers int
}

// DB is an open database: a pool to write through and one to read
// through. Both are safe for concurrent use.
type DB struct {
	// Write has one connection, for every change. Its transactions take
	// the database's write lock as they begin (BEGIN IMMEDIATE), so that
	// what a transaction reads holds until it commits, against other
	// goroutines and other processes; writes from this process wait for
	// the connection, in turn. Change the database through Begin or
	// DB.ExecContext (or DB.ExecUnsynced, for a change that may wait for
	// a later sync): with SyncFull, a change made on Write itself is on
	// the disk only after a later commit's sync, and DB.Sync does not
	// know of it.
	Write *sql.DB
	// Read has up to Options.Readers read-only connections, which see the
	// last commit and neither wait for the writer nor hold it up. It is
	// Write itself when Options.Readers is 0 and for Memory.
	Read *sql.DB

	writes, reads *statements // the prepared statements of Write and Read
	wal           *walSync    // syncs the commits of SyncFull to a file; nil otherwise
}

// Open opens the database file at path, creating it if it is missing, or a
// new database in memory if path is Memory. A file is put in write-ahead
// log mode. Open does not migrate: see [Migrate]. It fails if path holds ?
// or #, or if the file cannot be opened as an SQLite database. Its errors
// do not name path: callers say which database they opened.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, errors.New("the path must not contain ? or #")
	}
	if opts.Readers < 0 {
		return nil, fmt.Errorf("%d readers: want 0 or more", opts.Readers)
	}
	// For these SQLite says only "unable to open database file (14)".
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory: name a database file, such as %s", path, filepath.Join(path, "bookshop.db"))
	}
	if dir := filepath.Dir(path); path != Memory {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot create %s: the directory %s does not exist", path, dir)
		}
	}
	syncMode, err := opts.Synchronous.pragma()
	if err != nil {
		return nil, err
	}
	busy := "&_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")"
	dsn := "file:" + path + "?_txlock=immediate" + busy + "&_pragma=foreign_keys(on)"
	if path != Memory {
		dsn += "&_pragma=journal_mode(wal)&_pragma=synchronous(" + syncMode + ")"
	}
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite writes one at a time anyway, and an in-memory
	// database lives in its connection, which must therefore stay open.
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	// Connect now: a file that is not a database fails here, and the file
	// is in WAL mode before a reader opens it.
	if err := connect(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	db := &DB{Write: write, Read: write, writes: &statements{pool: write}}
	if path != Memory && opts.Synchronous == SyncFull {
		db.wal = newWALSync(path)
	}
	db.reads = db.writes
	if path != Memory && opts.Readers > 0 {
		read, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)"+busy)
		if err != nil {
			write.Close()
			return nil, err
		}
		read.SetMaxOpenConns(opts.Readers)
		read.SetMaxIdleConns(opts.Readers)
		db.Read, db.reads = read, &statements{pool: read}
	}
	return db, nil
}

// connect opens write's connection. When two processes open a new file at
// once, both switch it to WAL, and SQLite answers one of them SQLITE_BUSY
// at once instead of waiting the busy timeout (waiting could deadlock):
// connect tries again, for as long as the busy timeout would have waited,
// and finds the file switched.
func connect(ctx context.Context, write *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	pause := time.Millisecond
	for {
		err := write.PingContext(ctx)
		var serr *sqlite.Error
		if err == nil || !errors.As(err, &serr) || serr.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// closeWait bounds how long Close waits for the pools' connections to
// close: a rollback and a checkpoint take milliseconds, and a service's
// drain timeout (10 s) plus closeWait stays within the 15 s its container
// is given to stop (docs/deployment.md).
const closeWait = 2 * time.Second

// Close closes both pools, and returns the first error. It returns once
// their connections are closed, or after closeWait with an error.
// database/sql closes a connection in use only when it is given back: a
// transaction whose context ended is rolled back, and its connection
// closed, by a goroutine of database/sql's own (or of the context's: see
// Begin), which may run after the service's last use of the database. SQLite keeps its files open until
// its last connection closes (it then checkpoints the write-ahead log and
// removes it), and a restart, or a removal of the directory, must not
// race with that. (The wait also ends at closeWait in one case where
// database/sql counts a connection that it will never open: one asked
// for by a caller still waiting when the pool closed.)
func (db *DB) Close() error {
	db.writes.close()
	var err error
	if db.Read != db.Write {
		db.reads.close()
		err = db.Read.Close()
	}
	if werr := db.Write.Close(); err == nil {
		err = werr
	}
	deadline := time.Now().Add(closeWait)
	for _, pool := range []*sql.DB{db.Read, db.Write} {
		for pool.Stats().OpenConnections > 0 {
			if time.Now().After(deadline) {
				if err == nil {
					err = fmt.Errorf("close: %d connections still open after %v", pool.Stats().OpenConnections, closeWait)
				}
				return err
			}
			time.Sleep(time.Millisecond)
		}
	}
	return err
}
