package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout/storetest"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a saga log at path, closed when the test ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func get(tb testing.TB, db *sqlite.DB, customer int32, key string) *saga.Record {
	tb.Helper()
	r, err := db.Get(testContext(tb), customer, key)
	if err != nil {
		tb.Fatalf("Get(%d, %s): %v", customer, key, err)
	}
	return r
}

// TestStore runs the contract of checkout.Store on SQLite files: each
// handle on one file is another connection to it, as another process's
// would be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (checkout.Store, error) {
		path := filepath.Join(tb.TempDir(), "checkout.db")
		return func() (checkout.Store, error) {
			db, err := sqlite.Open(testContext(tb), path)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestMigratesFromVersion1 opens a saga log written by the first schema:
// its checkouts are kept, due at once, with no attempt.
func TestMigratesFromVersion1(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "checkout.db")
	v1, err := os.ReadFile("migrations/0001_checkouts.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Migrate(ctx, old, sqlitedb.Schema{Name: "checkout database", Migrations: fstest.MapFS{"0001_checkouts.sql": {Data: v1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Write.ExecContext(ctx, `INSERT INTO checkouts VALUES (3, 'k', 'id3', 'fp', 'charged', '{"CartID":"c-3","ChargeID":"ch_1"}', 1000, 2000)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db := open(t, path)
	r := get(t, db, 3, "k")
	if r == nil || r.State != saga.Charged || r.ChargeID != "ch_1" || r.Attempts != 0 || !r.NextTry.IsZero() || r.Updated.UnixMilli() != 2000 {
		t.Fatalf("after the migration, Get = %+v, want the charged checkout, no attempt, due at once", r)
	}
	if recs, err := db.Unfinished(ctx, "replica", t0, 10); err != nil || len(recs) != 1 {
		t.Errorf("after the migration, Unfinished = %v, %v; want the checkout", recs, err)
	}
	lease := saga.Lease{Owner: "replica", TTL: time.Minute}
	if _, leased, err := db.Lease(ctx, 3, "k", lease); err != nil || !leased {
		t.Fatalf("Lease after the migration = %v, %v; want the checkout, unleased before, leased", leased, err)
	}
	r.State = saga.Committed
	if err := db.Save(ctx, r, lease.Owner); err != nil {
		t.Errorf("Save(committed) after the migration: %v", err)
	}
}
