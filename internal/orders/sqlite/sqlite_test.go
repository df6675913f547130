package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/orders/storetest"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of orders.Store on SQLite files: each
// handle on one file is another connection to it, as another process's
// would be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (storetest.Store, error) {
		path := filepath.Join(tb.TempDir(), "orders.db")
		return func() (storetest.Store, error) {
			db, err := sqlite.Open(testContext(tb), path)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestRefusesAnotherDatabase opens a database file of another program:
// Open refuses it, and writes nothing into it.
func TestRefusesAnotherDatabase(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Write.ExecContext(ctx, `CREATE TABLE accounts (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if db, err := sqlite.Open(ctx, path); err == nil || !strings.Contains(err.Error(), "not a Bookshop orders database") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open(another program's file) = %v, want an error naming it", err)
	}
}
