package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/accounts/sqlite"
	"github.com/bookshop-go/bookshop/internal/accounts/storetest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// TestStore runs the contract of accounts.Store on SQLite files: each
// handle on one file is another connection to it, as another process's
// would be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (storetest.Store, error) {
		path := filepath.Join(tb.TempDir(), "accounts.db")
		return func() (storetest.Store, error) {
			db, err := sqlite.Open(rpctest.Context(tb), path)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestOpenRefuses checks that Open refuses a file that is some other
// program's database, and says it is not an accounts database. (The rest
// of what Open refuses is internal/platform/sqlitedb's, and tested there.)
func TestOpenRefuses(t *testing.T) {
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	raw, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := sqlite.Open(rpctest.Context(t), foreign); err == nil || !strings.Contains(err.Error(), "not a Bookshop accounts database") {
		t.Errorf("Open(a database of notes) = %v, want not a Bookshop accounts database", err)
	}
}
