package pgtest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

// TestClusterCrashAndRestart makes a cluster, commits a row, crashes the
// server (pg_ctl stop -m immediate) and starts it again: the row is
// there; and the same after a clean stop. While stopped, the server does
// not answer.
func TestClusterCrashAndRestart(t *testing.T) {
	c := pgtest.NewCluster(t, "fsync=off")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL())
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	count := func() int {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.URL())
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec(`CREATE TABLE t (id int PRIMARY KEY)`)
	exec(`INSERT INTO t VALUES (1)`)
	for i, mode := range []string{"immediate", "fast"} {
		c.Stop(mode)
		if conn, err := pgx.Connect(ctx, c.URL()); err == nil {
			conn.Close(ctx)
			t.Fatalf("after Stop(%q), the server answers", mode)
		}
		c.Start()
		if n := count(); n != i+1 {
			t.Errorf("after Stop(%q) and Start, %d rows, want %d", mode, n, i+1)
		}
		exec(fmt.Sprintf(`INSERT INTO t VALUES (%d)`, i+2))
	}
}
