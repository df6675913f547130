package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/postgres"
	"github.com/bookshop-go/bookshop/internal/promotions/storetest"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of promotions.Store on PostgreSQL: each
// test on a database of its own, each handle a pool of its own, as each
// replica has.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (promotions.Store, error) {
		st := pgtest.Settings(tb)
		return func() (promotions.Store, error) {
			db, err := postgres.Open(testContext(tb), st)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestSchemaRefusesTwoUses writes to the schema behind the service's
// back: the schema itself refuses a second claim held or confirmed of one
// customer, and a claim without a discount.
func TestSchemaRefusesTwoUses(t *testing.T) {
	ctx := testContext(t)
	st := pgtest.Settings(t)
	db, err := postgres.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	conn, err := pgx.Connect(ctx, st.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	insert := func(key, state string, units int64) error {
		_, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.claims VALUES (1, '%s', '%s', %d, 'EUR', 2, 'buy_two_get_one_free', 0, 0, 0)`,
			postgres.Schema, key, state, units))
		return err
	}
	if err := insert("a", "confirmed", 899); err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{"held", "confirmed"} {
		if err := insert("b-"+state, state, 899); err == nil {
			t.Errorf("a second claim %s of customer 1 was written", state)
		}
	}
	if err := insert("c", "released", 899); err != nil {
		t.Errorf("a released claim beside a confirmed one: %v", err)
	}
	if err := insert("d", "released", 0); err == nil {
		t.Error("a claim of no discount was written")
	}
}
