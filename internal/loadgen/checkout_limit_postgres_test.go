package loadgen_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookshop-go/bookshop/internal/loadgen"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
)

// TestPostgresCheckoutLimitTarget runs the limit's transactions on
// PostgreSQL and checks the rows they left, in the services' own schemas:
// each call's purchase written whole, the carts empty; and that Close
// drops the limit's database. It skips without a PostgreSQL to test with
// (pgtest).
func TestPostgresCheckoutLimitTarget(t *testing.T) {
	server := pgtest.URL(t)
	ctx := testContext(t)
	target, err := loadgen.NewPostgresCheckoutLimit(ctx, server, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if !strings.HasPrefix(target.Database(), loadgen.PostgresCheckoutLimitPrefix) {
		t.Errorf("Database() = %q, want a name that starts with %q", target.Database(), loadgen.PostgresCheckoutLimitPrefix)
	}
	const calls = 40
	res, err := loadgen.Run(ctx, target, loadgen.Options{Concurrency: 4, Count: calls})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Calls != calls || res.Errors != 0 || res.Items != calls {
		t.Fatalf("Run(checkout-limit on PostgreSQL, %d calls) = %d calls, %d errors %+v; want every call to succeed", calls, res.Calls, res.Errors, res.ErrorSamples)
	}

	conn, err := pgx.Connect(ctx, target.URL())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		// Each service's schema made by its own migrations.
		{`SELECT count(DISTINCT table_schema) FROM information_schema.tables WHERE table_name = 'schema_migrations'
			AND table_schema IN ('cart', 'checkout', 'inventory', 'orders', 'payments', 'promotions')`, 6},
		{`SELECT count(*) FROM checkout.checkouts WHERE state = 'done' AND record::jsonb -> 'Order' ->> 'ID' LIKE 'o\_%' AND lease_owner = ''`, calls},
		{`SELECT count(*) FROM checkout.checkouts WHERE state <> 'done'`, 0},
		{`SELECT count(*) FROM inventory.reservations WHERE state = 'committed' AND ended_at IS NOT NULL`, calls},
		{`SELECT count(*) FROM inventory.reservation_lines WHERE book_id = 7`, calls},
		{`SELECT count(*) FROM inventory.holds`, 0},
		{`SELECT on_hand FROM inventory.stock WHERE book_id = 7`, 1_000_000 - calls},
		{`SELECT count(*) FROM payments.charges WHERE state = 'approved' AND last4 = '4242'`, calls},
		{`SELECT count(*) FROM orders.orders o JOIN orders.order_lines l ON l.order_id = o.id WHERE l.book_id = 7 AND o.total = l.total`, calls},
		{`SELECT count(DISTINCT customer_id) FROM orders.orders`, 4},
		{`SELECT count(*) FROM cart.carts`, 0},
		{`SELECT count(*) FROM cart.cart_lines`, 0},
		{`SELECT count(*) FROM cart.cart_add_keys`, calls},
		{`SELECT count(*) FROM cart.cart_remove_keys WHERE lines = '7:1'`, calls},
		{`SELECT count(*) FROM promotions.claims`, 0},
	} {
		var got int
		if err := conn.QueryRow(ctx, tt.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if got != tt.want {
			t.Errorf("%s = %d, want %d", tt.query, got, tt.want)
		}
	}
	conn.Close(ctx)

	if err := target.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var left int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, target.Database()).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("after Close, database %s is still there; want it dropped", target.Database())
	}

	if _, err := loadgen.NewPostgresCheckoutLimit(ctx, server, 0); err == nil {
		t.Error("NewPostgresCheckoutLimit(book 0) = nil error, want one")
	}
	if _, err := loadgen.NewPostgresCheckoutLimit(ctx, "", 1); err == nil {
		t.Error(`NewPostgresCheckoutLimit(server "") = nil error, want one`)
	}
}
