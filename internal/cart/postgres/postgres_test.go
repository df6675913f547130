package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/postgres"
	"github.com/bookshop-go/bookshop/internal/cart/storetest"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// TestStore runs the contract of cart.Store on PostgreSQL: each test on a
// database of its own, each handle a pool of its own, as each replica
// has.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (storetest.Store, error) {
		st := pgtest.Settings(tb)
		return func() (storetest.Store, error) {
			db, err := postgres.Open(testContext(tb), st)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestSweepSkipsLockedRows sweeps idle carts and old keys on one handle
// while another transaction holds the row of one idle cart and of one
// old key (as a change of that cart, or another replica's sweep, holds
// them): the sweep does not wait for it, deleting every other row at
// once in batches, and the next sweep, once the lock is gone, deletes the
// rest. Then two handles sweep at once, each row deleted and counted once.
func TestSweepSkipsLockedRows(t *testing.T) {
	ctx := testContext(t)
	st := pgtest.Settings(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	then := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	const carts = 1100 // more than two batches
	fill := func() {
		for i := range carts {
			if _, _, err := a.AddOnce(ctx, fmt.Sprintf("g-%d", i), "k", bookshop.CartLine{Book: bookshop.Book{ID: 1}, Quantity: 1}, then, then,
				func(ls []bookshop.CartLine) ([]bookshop.CartLine, error) { return cart.Added(ls, 1, 1) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill()

	lock, err := pgx.Connect(ctx, st.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after the rollback below
	for _, q := range []string{
		`SELECT id FROM cart.carts WHERE id = 'g-7' FOR UPDATE`,
		`SELECT key FROM cart.cart_add_keys WHERE cart_id = 'g-8' FOR UPDATE`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sweepCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	n, err := b.DeleteIdle(sweepCtx, "g-", then.Add(time.Second))
	if err != nil || n != carts-1 {
		t.Errorf("DeleteIdle beside a locked cart = %d, %v after %v; want %d at once, the locked one skipped", n, err, time.Since(start), carts-1)
	}
	k, err := b.DeleteKeys(sweepCtx, then.Add(time.Second))
	if err != nil || k != carts-1 {
		t.Errorf("DeleteKeys beside a locked key = %d, %v after %v; want %d at once, the locked one skipped", k, err, time.Since(start), carts-1)
	}
	t.Logf("swept %d carts and %d keys beside the locked rows in %v", n, k, time.Since(start))
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = b.DeleteIdle(ctx, "g-", then.Add(time.Second))
	k, err2 := b.DeleteKeys(ctx, then.Add(time.Second))
	if n != 1 || k != 1 || err != nil || err2 != nil {
		t.Errorf("the next sweep = %d carts (%v), %d keys (%v); want the 1 of each that was locked", n, err, k, err2)
	}

	// Two replicas' sweeps at once: each row deleted, and counted, once.
	fill()
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		idle, keys int
	)
	for _, db := range []*postgres.DB{a, b, a, b} {
		wg.Go(func() {
			n, err := db.DeleteIdle(ctx, "g-", then.Add(time.Second))
			k, err2 := db.DeleteKeys(ctx, then.Add(time.Second))
			if err != nil || err2 != nil {
				t.Errorf("sweep: %v, %v", err, err2)
			}
			mu.Lock()
			idle, keys = idle+n, keys+k
			mu.Unlock()
		})
	}
	wg.Wait()
	n, err = a.DeleteIdle(ctx, "g-", then.Add(time.Second))
	k, err2 = a.DeleteKeys(ctx, then.Add(time.Second))
	if err != nil || err2 != nil || idle+n != carts || keys+k != carts {
		t.Errorf("4 sweeps at once and one after deleted %d carts and %d keys (%v, %v), want %d of each", idle+n, keys+k, err, err2, carts)
	}
}
