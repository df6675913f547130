package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/inventory/storetest"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of inventory.Store on SQLite files: each
// handle on one file is another connection to it, as another process's
// would be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func(map[int32]int) (inventory.Store, error) {
		path := filepath.Join(tb.TempDir(), "inventory.db")
		return func(seed map[int32]int) (inventory.Store, error) {
			db, err := sqlite.Open(testContext(tb), path, seed)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestOpenRefuses checks that Open refuses another program's database
// file, and says so.
func TestOpenRefuses(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, err := sqlite.Open(ctx, path, nil); err == nil || !strings.Contains(err.Error(), "not a Bookshop inventory database") {
		t.Errorf("Open(another program's file) = %v, want a refusal", err)
	}
}
