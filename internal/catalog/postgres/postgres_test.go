package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/postgres"
	"github.com/bookshop-go/bookshop/internal/catalog/storetest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// newDatabase makes a database of its own for tb, on which each Open is
// a handle of its own, a pool, as each replica has.
func newDatabase(tb testing.TB) storetest.Database {
	st := pgtest.Settings(tb)
	return storetest.Database{
		Open: func(seed []bookshop.Book, limits postgres.Limits) (storetest.Store, error) {
			db, err := postgres.Open(testContext(tb), st, seed, limits)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		},
		Staged: func(tb testing.TB) int {
			conn, err := pgx.Connect(testContext(tb), st.URL)
			if err != nil {
				tb.Fatal(err)
			}
			defer conn.Close(context.Background())
			var n int
			if err := conn.QueryRow(testContext(tb), `SELECT count(*) FROM catalog.import_items`).Scan(&n); err != nil {
				tb.Fatal(err)
			}
			return n
		},
	}
}

// TestStore runs the contract of the Catalog's stores on PostgreSQL.
func TestStore(t *testing.T) { storetest.Run(t, newDatabase) }

// TestReplicas runs the promises of a store that replicas share: each
// replica a handle of its own, a pool, on one database.
func TestReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(tb testing.TB) func([]bookshop.Book, postgres.Limits) (storetest.Replica, error) {
		st := pgtest.Settings(tb)
		return func(seed []bookshop.Book, limits postgres.Limits) (storetest.Replica, error) {
			db, err := postgres.Open(testContext(tb), st, seed, limits)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}
