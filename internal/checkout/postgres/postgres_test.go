package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/postgres"
	"github.com/bookshop-go/bookshop/internal/checkout/storetest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of checkout.Store on PostgreSQL: each test
// on a database of its own, each handle a pool of its own, as each
// replica has.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (checkout.Store, error) {
		st := pgtest.Settings(tb)
		return func() (checkout.Store, error) {
			db, err := postgres.Open(testContext(tb), st)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}
