package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestStatementsPreparedOnce runs the same queries through transactions
// and the pools, and checks that each is prepared once, after the first
// transaction that ran it ends (not while it holds the only writing
// connection), and answers the same prepared; that a query past the cap
// still runs, unprepared; that a statement prepared before the table
// changes still runs after; and that a query that cannot be prepared now
// (its table is not there yet) is prepared once it can, while one SQLite
// refuses is never tried again.
func TestStatementsPreparedOnce(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{Readers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO notes (text) VALUES (?)`
	const count = `SELECT count(*) FROM notes`
	for i := range 3 {
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, insert, fmt.Sprint("note ", i)); err != nil {
			t.Fatal(err)
		}
		if got := db.writes.get(insert) != nil; got != (i > 0) {
			t.Errorf("transaction %d: the insert prepared: %v, want %v", i, got, i > 0)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		waitPrepared(t, db.writes, insert)
		var n int
		if err := db.QueryRowContext(ctx, count).Scan(&n); err != nil || n != i+1 {
			t.Errorf("after transaction %d: %d notes, %v; want %d", i, n, err, i+1)
		}
	}
	if got := db.writes.n.Load() + db.reads.n.Load(); got != 2 {
		t.Errorf("%d statements prepared, want 2", got)
	}

	// Past the cap, queries run unprepared.
	db.reads.n.Store(maxStatements)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notes WHERE id > 0`).Scan(&n); err != nil || n != 3 {
		t.Errorf("a query past the cap: %d, %v; want 3", n, err)
	}
	if db.reads.get(`SELECT count(*) FROM notes WHERE id > 0`) != nil {
		t.Error("a query past the cap was prepared")
	}

	// A prepared statement survives a change of its table.
	if _, err := db.Write.ExecContext(ctx, `ALTER TABLE notes ADD COLUMN done INTEGER NOT NULL DEFAULT 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, insert, "after the change"); err != nil {
		t.Errorf("the insert after its table changed: %v", err)
	}
	if err := db.QueryRowContext(ctx, count).Scan(&n); err != nil || n != 4 {
		t.Errorf("after the change: %d notes, %v; want 4", n, err)
	}

	db.reads.n.Store(0)
	const later = `SELECT count(*) FROM later`
	if err := db.QueryRowContext(ctx, later).Scan(&n); err == nil {
		t.Fatal("a query of a missing table succeeded")
	}
	if _, cached := db.reads.m.Load(later); cached {
		t.Error("a query of a table not made yet is cached as never prepared")
	}
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE later (id INTEGER PRIMARY KEY) STRICT`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, later).Scan(&n); err != nil || n != 0 || db.reads.get(later) == nil {
		t.Errorf("the query once its table is made: %d, %v, prepared %v; want 0, prepared", n, err, db.reads.get(later) != nil)
	}
	const bad = `SELEKT 1`
	if err := db.QueryRowContext(ctx, bad).Scan(&n); err == nil {
		t.Fatal("a syntax error succeeded")
	}
	if v, cached := db.reads.m.Load(bad); !cached || v.(*sql.Stmt) != nil {
		t.Error("a query SQLite refuses is not remembered as never prepared")
	}
}

// waitPrepared waits until query is prepared in c, which happens apart
// from the transaction that first ran it.
func waitPrepared(tb testing.TB, c *statements, query string) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); c.get(query) == nil; {
		if time.Now().After(deadline) {
			tb.Fatalf("%q not prepared within 5s of the transaction that ran it", query)
		}
		time.Sleep(time.Millisecond)
	}
}
