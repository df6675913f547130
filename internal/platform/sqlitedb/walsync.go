package sqlitedb

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// walSync makes the commits to one database file durable in groups.
//
// With SQLite's synchronous=FULL every commit syncs the write-ahead log
// itself, holding the only writing connection while the disk answers:
// commits of a busy service wait for one another's syncs in turn, and on
// a virtual disk each sync costs as much CPU as the rest of the commit.
// With SyncFull the writing connection runs with synchronous=NORMAL
// instead (a commit appends its frames to the log, on to the next commit
// at once) and a commit returns only once a sync of the log that began
// after its frames were written has ended: one sync covers every commit
// made while the one before it ran. This is group commit, as databases
// with a log of their own do it.
//
// What a commit promises is unchanged: when Commit returns without an
// error, the change is on the disk and survives a power cut. Other
// connections may read a change in the instant between its commit and
// its sync; a crash of the process loses nothing of it (its frames are in
// the kernel's cache), only a power cut in that instant would. So an
// answer built from such a read, a key's first result sent again, waits
// for DB.Durable first. A commit of DB.ExecUnsynced returns before its
// sync, counted (left) so that DB.Sync (syncLeft) knows what it must
// cover; the next sync of any commit covers it too.
//
// A sync that fails leaves the log's state on the disk unknown (the
// kernel may drop the pages it could not write, and say so only once),
// so the failure is kept: every later commit of this database returns it
// too, until the process starts again and SQLite recovers the log.
type walSync struct {
	path string // the write-ahead log's file: the database's path and "-wal"
	dir  string // the directory that holds it

	committed atomic.Uint64 // commits counted: made durable, or left to a later sync
	unsynced  atomic.Uint64 // the number of the last commit left to a later sync (see left)
	failed    atomic.Bool   // err is set: read without mu, which a sync holds

	mu     sync.Mutex // held during a sync; guards the fields below
	synced uint64     // committed's value when the last sync began
	dirOK  bool       // the directory has been synced once: the log's entry in it is durable
	err    error      // a sync that failed, for good
}

func newWALSync(dbPath string) *walSync {
	return &walSync{path: dbPath + "-wal", dir: filepath.Dir(dbPath)}
}

// syncFile syncs the file at path to the disk: a variable so that tests
// can count and order the syncs.
var syncFile = func(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// durable returns once a commit that has just returned is on the disk:
// at once if a sync that began after it has already ended, and otherwise
// after the next sync, which covers every commit made until it begins.
func (w *walSync) durable() error { return w.durableTo(w.committed.Add(1)) }

// left counts a commit that has just returned and is left to a later
// sync: the next durable, or syncLeft. It returns the error of a sync
// that failed before, as durable does: that commit's fate on the disk is
// unknown too.
func (w *walSync) left() error {
	n := w.committed.Add(1)
	for {
		last := w.unsynced.Load()
		if last >= n || w.unsynced.CompareAndSwap(last, n) {
			break
		}
	}
	if w.failed.Load() {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.err
	}
	return nil
}

// fail keeps err, a sync's failure, for good, and returns it. w.mu is
// held.
func (w *walSync) fail(err error) error {
	w.err = err
	w.failed.Store(true)
	return err
}

// syncLeft returns once the commits left to a later sync before the call
// are on the disk: at once when a sync that began after the last of them
// has ended (or there were none), and otherwise after a sync.
func (w *walSync) syncLeft() error { return w.durableTo(w.unsynced.Load()) }

// durableTo returns once commit n, numbered from committed, is on the
// disk: at once if a sync that began after it has already ended.
func (w *walSync) durableTo(n uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.synced >= n {
		return nil // a sync that began after this commit has ended
	}
	upTo := w.committed.Load()
	if !w.dirOK {
		if err := syncFile(w.dir); err != nil {
			return w.fail(fmt.Errorf("sync the database's directory, so the write-ahead log's entry is durable: %w", err))
		}
		w.dirOK = true
	}
	if err := syncFile(w.path); err != nil {
		return w.fail(fmt.Errorf("sync the write-ahead log: the last commits may not be on the disk; restart the service: %w", err))
	}
	w.synced = upTo
	return nil
}
