package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/payments/storetest"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of payments.Store on SQLite files: each
// handle on one file is another connection to it, as another process's
// would be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (payments.Store, error) {
		path := filepath.Join(tb.TempDir(), "payments.db")
		return func() (payments.Store, error) {
			db, err := sqlite.Open(testContext(tb), path)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}
