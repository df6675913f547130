package sqlitedb

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncRecord is one call of syncFile, as a test's stand-in records it.
type syncRecord struct {
	path       string
	start, end time.Time
}

// recordSyncs replaces syncFile for the test with one that syncs for
// real, takes at least pause, fails with the errors of fail in turn (nil:
// succeed), and records each call.
func recordSyncs(t *testing.T, pause time.Duration, fail ...error) func() []syncRecord {
	t.Helper()
	real := syncFile
	var mu sync.Mutex
	var calls []syncRecord
	syncFile = func(path string) error {
		start := time.Now()
		err := real(path)
		time.Sleep(pause)
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, syncRecord{path, start, time.Now()})
		if len(fail) > 0 {
			if fail[0] != nil {
				err = fail[0]
			}
			fail = fail[1:]
		}
		return err
	}
	t.Cleanup(func() { syncFile = real })
	return func() []syncRecord {
		mu.Lock()
		defer mu.Unlock()
		return append([]syncRecord(nil), calls...)
	}
}

func openNotes(t *testing.T, opts Options) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCommitsSyncedInGroups commits from 40 goroutines at once, with a
// sync of the log that takes 5 ms: every commit is there, each returned
// only after a sync that began after it was asked to commit and ended
// before it returned, and the syncs were far fewer than the commits. The
// directory is synced once, before the first sync of the log.
func TestCommitsSyncedInGroups(t *testing.T) {
	syncs := recordSyncs(t, 5*time.Millisecond)
	db := openNotes(t, Options{Synchronous: SyncFull, Readers: 2})
	ctx := context.Background()

	const writers = 40
	type span struct{ asked, returned time.Time }
	spans := make([]span, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			spans[i].asked = time.Now()
			if i%2 == 0 {
				tx, err := db.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				defer tx.Rollback() //nolint:errcheck // a no-op after Commit
				if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES (?)`, "tx"); err != nil {
					errs <- err
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			} else if _, err := db.ExecContext(ctx, `INSERT INTO notes (text) VALUES (?)`, "exec"); err != nil {
				errs <- err
				return
			}
			spans[i].returned = time.Now()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != writers {
		t.Fatalf("%d notes, %v; want %d", n, err, writers)
	}

	calls := syncs()
	var logSyncs []syncRecord
	for i, c := range calls {
		if strings.HasSuffix(c.path, "-wal") {
			logSyncs = append(logSyncs, c)
		} else if i != 0 {
			t.Errorf("sync %d of %s: want the directory synced once, first", i, c.path)
		}
	}
	if len(calls) == 0 || strings.HasSuffix(calls[0].path, "-wal") {
		t.Errorf("first sync %v: want the directory's", calls)
	}
	if len(logSyncs) == 0 || len(logSyncs) > writers/4 {
		t.Errorf("%d syncs of the log for %d commits, want 1 to %d", len(logSyncs), writers, writers/4)
	}
	for i, s := range spans {
		covered := false
		for _, c := range logSyncs {
			if !c.start.Before(s.asked) && !c.end.After(s.returned) {
				covered = true
				break
			}
		}
		if !covered {
			t.Errorf("commit %d (asked %v, returned %v): no sync of the log began after it was asked and ended before it returned",
				i, s.asked.Format(time.StampMicro), s.returned.Format(time.StampMicro))
		}
	}
}

// TestFailedSyncIsKept fails one sync of the log: that commit returns
// the error, and so does every later one (unsynced ones and Sync too),
// though the syncs after succeed:
// what the disk holds is unknown after a failed sync.
func TestFailedSyncIsKept(t *testing.T) {
	disk := errors.New("input/output error")
	recordSyncs(t, 0, nil, disk) // the directory's sync, then the log's, which fails
	db := openNotes(t, Options{Synchronous: SyncFull})
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('a')`); !errors.Is(err, disk) {
		t.Fatalf("commit with a failing sync: %v, want %v", err, disk)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('b')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, disk) || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("commit after a failed sync: %v, want %v, saying to restart", err, disk)
	}
	if _, err := db.ExecUnsynced(ctx, `INSERT INTO notes (text) VALUES ('c')`); !errors.Is(err, disk) {
		t.Errorf("unsynced commit after a failed sync: %v, want %v", err, disk)
	}
	if err := db.Sync(); !errors.Is(err, disk) {
		t.Errorf("Sync after a failed sync: %v, want %v", err, disk)
	}
}

// TestNoSyncsWithoutSyncFull: SyncNormal and memory leave the syncs to
// SQLite's checkpoints.
func TestNoSyncsWithoutSyncFull(t *testing.T) {
	syncs := recordSyncs(t, 0)
	db := openNotes(t, Options{Synchronous: SyncNormal})
	if _, err := db.ExecContext(context.Background(), `INSERT INTO notes (text) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	mem, err := Open(context.Background(), Memory, Options{Synchronous: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if _, err := mem.ExecContext(context.Background(), `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if got := syncs(); len(got) != 0 {
		t.Errorf("syncs %v, want none", got)
	}
}

// TestDurableSyncsWhatAnotherCommitted commits a change with SQLite alone
// (committed, readable, not yet synced: the instant between a commit and
// its sync), then asks Durable, and then Tx.EndReplay: each returns only
// after a sync of the log that began after it was called. Without
// SyncFull they sync nothing.
func TestDurableSyncsWhatAnotherCommitted(t *testing.T) {
	syncs := recordSyncs(t, 0)
	db := openNotes(t, Options{Synchronous: SyncFull})
	if _, err := db.Write.ExecContext(context.Background(), `INSERT INTO notes (text) VALUES ('read before its sync')`); err != nil {
		t.Fatal(err)
	}
	before := len(syncs())
	called := time.Now()
	if err := db.Durable(); err != nil {
		t.Fatalf("Durable = %v", err)
	}
	got := syncs()[before:]
	var logSynced bool
	for _, s := range got {
		if strings.HasSuffix(s.path, "-wal") && !s.start.Before(called) {
			logSynced = true
		}
	}
	if !logSynced {
		t.Errorf("Durable synced %v, want the write-ahead log, in a sync begun after the call", got)
	}

	// The same from a transaction that found it, ended by EndReplay.
	if _, err := db.Write.ExecContext(context.Background(), `INSERT INTO notes (text) VALUES ('found by a retry')`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before = len(syncs())
	called = time.Now()
	if err := tx.EndReplay(); err != nil {
		t.Fatalf("EndReplay = %v", err)
	}
	logSynced = false
	for _, s := range syncs()[before:] {
		if strings.HasSuffix(s.path, "-wal") && !s.start.Before(called) {
			logSynced = true
		}
	}
	if !logSynced {
		t.Error("EndReplay returned without a sync of the log begun after it was called")
	}
	if _, err := db.ExecContext(context.Background(), `INSERT INTO notes (text) VALUES ('the writer is free')`); err != nil {
		t.Errorf("a write after EndReplay: %v", err)
	}

	normal := openNotes(t, Options{Synchronous: SyncNormal})
	before = len(syncs())
	if err := normal.Durable(); err != nil || len(syncs()) != before {
		t.Errorf("Durable without SyncFull = %v after %d syncs, want nil and none", err, len(syncs())-before)
	}
}

// TestUnsyncedCommitsWaitForSync commits through ExecUnsynced: no sync of
// its own, the change readable at once; Sync then syncs the log once, in
// a sync begun after the commit, and a second Sync does not sync again.
// A durable commit's sync covers the unsynced commits before it: Sync
// after it returns without a sync of its own.
func TestUnsyncedCommitsWaitForSync(t *testing.T) {
	syncs := recordSyncs(t, 0)
	db := openNotes(t, Options{Synchronous: SyncFull})
	ctx := context.Background()
	logSyncs := func() (n int, last syncRecord) {
		for _, s := range syncs() {
			if strings.HasSuffix(s.path, "-wal") {
				n++
				last = s
			}
		}
		return n, last
	}

	before, _ := logSyncs()
	for _, text := range []string{"charged", "committed"} {
		if _, err := db.ExecUnsynced(ctx, `INSERT INTO notes (text) VALUES (?)`, text); err != nil {
			t.Fatal(err)
		}
	}
	committed := time.Now()
	if n, _ := logSyncs(); n != before {
		t.Errorf("ExecUnsynced synced the log %d times, want none", n-before)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d notes, %v; want the 2 unsynced commits readable", n, err)
	}
	if err := db.Sync(); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	if n, last := logSyncs(); n != before+1 || last.start.Before(committed) {
		t.Errorf("Sync: %d syncs of the log, the last begun at %v; want 1, begun after the commits (%v)",
			n-before, last.start.Format(time.StampMicro), committed.Format(time.StampMicro))
	}
	if err := db.Sync(); err != nil {
		t.Fatalf("Sync again = %v", err)
	}
	if n, _ := logSyncs(); n != before+1 {
		t.Errorf("Sync with nothing left to sync: %d syncs of the log in all, want 1", n-before)
	}

	if _, err := db.ExecUnsynced(ctx, `INSERT INTO notes (text) VALUES ('ordered')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('done')`); err != nil {
		t.Fatal(err)
	}
	n, _ = logSyncs()
	if err := db.Sync(); err != nil {
		t.Fatalf("Sync after a durable commit = %v", err)
	}
	if m, _ := logSyncs(); m != n {
		t.Errorf("Sync after a durable commit synced the log %d times, want none: its sync covers what came before", m-n)
	}

	normal := openNotes(t, Options{Synchronous: SyncNormal})
	before = len(syncs())
	if _, err := normal.ExecUnsynced(ctx, `INSERT INTO notes (text) VALUES ('normal')`); err != nil {
		t.Fatal(err)
	}
	if err := normal.Sync(); err != nil || len(syncs()) != before {
		t.Errorf("without SyncFull: Sync = %v after %d syncs, want nil and none", err, len(syncs())-before)
	}
}

// TestSyncWaitsForASyncBegunAfter commits through ExecUnsynced while a
// durable commit's sync, begun before, is under way: Sync returns only
// after a sync of the log that began after the unsynced commit, not when
// the one under way ends.
func TestSyncWaitsForASyncBegunAfter(t *testing.T) {
	syncs := recordSyncs(t, 20*time.Millisecond)
	db := openNotes(t, Options{Synchronous: SyncFull})
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('the directory synced')`); err != nil {
		t.Fatal(err)
	}
	durable := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, `INSERT INTO notes (text) VALUES ('durable')`)
		durable <- err
	}()
	time.Sleep(5 * time.Millisecond) // its sync under way, for 20 ms
	if _, err := db.ExecUnsynced(ctx, `INSERT INTO notes (text) VALUES ('unsynced')`); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	if err := db.Sync(); err != nil {
		t.Fatalf("Sync = %v", err)
	}
	returned := time.Now()
	if err := <-durable; err != nil {
		t.Fatal(err)
	}
	covered := false
	for _, s := range syncs() {
		if strings.HasSuffix(s.path, "-wal") && !s.start.Before(committed) && !s.end.After(returned) {
			covered = true
		}
	}
	if !covered {
		t.Errorf("Sync returned at %v with no sync of the log begun after the unsynced commit (%v) and ended: %v",
			returned.Format(time.StampMicro), committed.Format(time.StampMicro), syncs())
	}
}
