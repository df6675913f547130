package loadgen_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	inventorysqlite "github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/loadgen"
	orderssqlite "github.com/bookshop-go/bookshop/internal/orders/sqlite"
	paymentssqlite "github.com/bookshop-go/bookshop/internal/payments/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

// TestCheckoutTarget runs purchases against the real services, and
// checks that each placed an order and took a copy off the stock, and
// that the POST of each was timed on its own.
func TestCheckoutTarget(t *testing.T) {
	s := startStack(t)
	ctx := testContext(t)
	const calls = 20
	target, err := loadgen.NewCheckout(s.siteURL, 1, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	res, err := loadgen.Run(ctx, target, loadgen.Options{Concurrency: 4, Count: calls, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Calls != calls || res.Errors != 0 || res.Items != calls {
		t.Fatalf("Run(checkout, %d calls) = %d calls, %d errors %+v, %d items; want every call to succeed and place an order",
			calls, res.Calls, res.Errors, res.ErrorSamples, res.Items)
	}
	if res.Part == nil || res.Part.TotalCount() != calls {
		t.Fatalf("Run(checkout) timed the POST of %v calls, want each of %d", res.Part, calls)
	}
	if part, whole := res.Part.Max(), res.Latency.Max(); part <= 0 || part > whole {
		t.Errorf("the slowest POST /checkout took %dµs, the slowest purchase %dµs: want the POST a part of the purchase", part, whole)
	}
	if rec := loadgen.NewRecord("x", "checkout", res); rec.PartP50 <= 0 || rec.PartP99 < rec.PartP50 {
		t.Errorf("NewRecord(checkout) = part p50 %v, p99 %v; want both, p99 >= p50", rec.PartP50, rec.PartP99)
	}

	n, err := s.orders.CountOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != calls {
		t.Errorf("the Orders database holds %d orders, want %d", n, calls)
	}
	levels, err := s.stock.Levels(ctx, []int32{1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(levels) != 1 || levels[0].OnHand != stackBookCopies-calls || levels[0].Held != 0 {
		t.Errorf("stock of book 1 = %+v, want %d on hand, none held", levels, stackBookCopies-calls)
	}

	// A book sold out (12, in the seed): every purchase fails, counted.
	soldOut, err := loadgen.NewCheckout(s.siteURL, 12, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer soldOut.Close()
	res, err = loadgen.Run(ctx, soldOut, loadgen.Options{Concurrency: 2, Count: 4, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Calls != 0 || res.Errors != 4 || len(res.ErrorSamples) != 1 || !strings.Contains(res.ErrorSamples[0].Message, "GET /checkout: no form") {
		t.Errorf("Run(checkout of a book sold out) = %d calls, %d errors %+v; want 4 errors, each of a checkout page without its form",
			res.Calls, res.Errors, res.ErrorSamples)
	}

	for _, tt := range []struct {
		book   int32
		copies int
	}{{0, 1}, {-1, 1}, {1, 0}, {1, 11}} {
		if _, err := loadgen.NewCheckout(s.siteURL, tt.book, tt.copies, 1); err == nil {
			t.Errorf("NewCheckout(book %d, %d copies) = nil error, want one", tt.book, tt.copies)
		}
	}
}

// TestCheckoutLimitTarget runs the limit's transactions and checks the
// rows they left: each call's purchase written whole, the carts empty.
func TestCheckoutLimitTarget(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	target, err := loadgen.NewCheckoutLimit(ctx, dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if want := filepath.Join(dir, loadgen.CheckoutLimitFile); target.Path() != want {
		t.Errorf("Path() = %q, want %q", target.Path(), want)
	}
	const calls = 40
	res, err := loadgen.Run(ctx, target, loadgen.Options{Concurrency: 4, Count: calls})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.Calls != calls || res.Errors != 0 || res.Items != calls {
		t.Fatalf("Run(checkout-limit, %d calls) = %d calls, %d errors %+v; want every call to succeed", calls, res.Calls, res.Errors, res.ErrorSamples)
	}

	db, err := sqlitedb.Open(ctx, target.Path(), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		query string
		want  int
	}{
		{`SELECT count(*) FROM checkouts WHERE state = 'done' AND json_extract(record, '$.Order.ID') LIKE 'o\_%' ESCAPE '\'`, calls},
		{`SELECT count(*) FROM checkouts WHERE state <> 'done'`, 0},
		{`SELECT count(*) FROM reservations WHERE state = 'committed' AND ended_at IS NOT NULL`, calls},
		{`SELECT count(*) FROM reservation_lines WHERE book_id = 7`, calls},
		{`SELECT count(*) FROM holds`, 0},
		{`SELECT on_hand FROM stock WHERE book_id = 7`, 1_000_000 - calls},
		{`SELECT count(*) FROM charges WHERE state = 'approved' AND last4 = '4242'`, calls},
		{`SELECT count(*) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE l.book_id = 7 AND o.total = l.total`, calls},
		{`SELECT count(DISTINCT customer_id) FROM orders`, 4},
		{`SELECT count(*) FROM carts`, 0},
		{`SELECT count(*) FROM cart_lines`, 0},
		{`SELECT count(*) FROM cart_add_keys`, calls},
		{`SELECT count(*) FROM cart_remove_keys WHERE lines = '7:1'`, calls},
	} {
		var got int
		if err := db.Read.QueryRowContext(ctx, tt.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if got != tt.want {
			t.Errorf("%s = %d, want %d", tt.query, got, tt.want)
		}
	}
	if _, err := loadgen.NewCheckoutLimit(ctx, dir, 7); err == nil {
		t.Error("NewCheckoutLimit(a directory that holds a limit's database) = nil error, want one")
	}
	if _, err := loadgen.NewCheckoutLimit(ctx, t.TempDir(), 0); err == nil {
		t.Error("NewCheckoutLimit(book 0) = nil error, want one")
	}
}

// TestCheckoutLimitTemp checks that a limit made without a directory
// makes one, and removes it at Close.
func TestCheckoutLimitTemp(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	target, err := loadgen.NewCheckoutLimit(testContext(t), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(target.Path())
	if !strings.HasPrefix(dir, os.TempDir()) {
		t.Errorf("the limit's database is in %s, want a directory of %s", dir, os.TempDir())
	}
	if err := target.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after Close, the limit's directory: %v; want it removed", err)
	}
}

// TestCheckoutLimitSchema checks that the limit's tables and indexes are
// the services' own: the same statements as their migrations make, table
// for table, index for index, none missing, none more.
func TestCheckoutLimitSchema(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	want := make(map[string]string)
	for _, svc := range []struct {
		name string
		open func(path string) (interface{ Close() error }, error)
	}{
		{"cart", func(p string) (interface{ Close() error }, error) { return cartsqlite.Open(ctx, p) }},
		{"checkout", func(p string) (interface{ Close() error }, error) { return checkoutsqlite.Open(ctx, p) }},
		{"inventory", func(p string) (interface{ Close() error }, error) { return inventorysqlite.Open(ctx, p, nil) }},
		{"orders", func(p string) (interface{ Close() error }, error) { return orderssqlite.Open(ctx, p) }},
		{"payments", func(p string) (interface{ Close() error }, error) { return paymentssqlite.Open(ctx, p) }},
	} {
		path := filepath.Join(dir, svc.name+".db")
		db, err := svc.open(path)
		if err != nil {
			t.Fatalf("open the %s database: %v", svc.name, err)
		}
		db.Close()
		for name, sql := range schemaOf(ctx, t, path) {
			if name == "table schema_migrations" {
				continue
			}
			if _, dup := want[name]; dup {
				t.Fatalf("two services have a %s", name)
			}
			want[name] = sql
		}
	}

	target, err := loadgen.NewCheckoutLimit(ctx, t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	got := schemaOf(ctx, t, target.Path())
	for name, sql := range want {
		if got[name] != sql {
			t.Errorf("the limit's %s =\n%s\nwant the service's\n%s", name, got[name], sql)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("the limit has a %s that no service has", name)
		}
	}
}

var spaces = regexp.MustCompile(`\s+`)

// schemaOf returns the tables and indexes of the database file at path,
// "table NAME" or "index NAME", each with its statement, spaces
// collapsed.
func schemaOf(ctx context.Context, tb testing.TB, path string) map[string]string {
	tb.Helper()
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Read.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			tb.Fatal(err)
		}
		out[typ+" "+name] = spaces.ReplaceAllString(strings.TrimSpace(sql), " ")
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
