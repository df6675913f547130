package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/cart/storetest"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of cart.Store on SQLite files: each handle
// on one file is another connection to it, as another process's would
// be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (storetest.Store, error) {
		path := filepath.Join(tb.TempDir(), "cart.db")
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

func TestOpenRefusesAnotherProgramsDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`CREATE TABLE people (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	_, err = sqlite.Open(testContext(t), path)
	if err == nil || !strings.Contains(err.Error(), "not a Bookshop cart database") {
		t.Errorf("Open(another program's database) = %v, want an error saying it is not a cart database", err)
	}
}
