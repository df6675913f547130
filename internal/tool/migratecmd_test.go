package tool_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	accountspg "github.com/bookshop-go/bookshop/internal/accounts/postgres"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartpg "github.com/bookshop-go/bookshop/internal/cart/postgres"
	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	catalogpg "github.com/bookshop-go/bookshop/internal/catalog/postgres"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	checkoutpg "github.com/bookshop-go/bookshop/internal/checkout/postgres"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	inventorypg "github.com/bookshop-go/bookshop/internal/inventory/postgres"
	inventorysqlite "github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	orderspg "github.com/bookshop-go/bookshop/internal/orders/postgres"
	orderssqlite "github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// migrateData runs `bookshop migrate-data args...` in this process with
// the environment vars, and returns its output and error.
func migrateData(tb testing.TB, vars map[string]string, args ...string) (string, error) {
	tb.Helper()
	var out bytes.Buffer
	err := tool.Run(testContext(tb, 10*time.Minute), append([]string{"migrate-data"}, args...), env(vars), &out, &out)
	return out.String(), err
}

// TestMigrateDataBigShop moves a generated shop of 100,000 orders (and
// their lines, charges, claims and the last checkouts' saga log), 20,000
// accounts, 10,000 carts and the stock of 2,000 books to PostgreSQL with
// `bookshop migrate-data -service all`, twice: once straight through, and
// once killed with SIGKILL a third of the way through the orders' lines,
// then run again. Each time every row of every table is then compared
// here, by other means than the command's own checksums, and the
// services' PostgreSQL stores answer as their SQLite stores do, new ids
// continuing past the old. Under -race it moves a twentieth of that shop
// (raceShop); scripts/test.sh runs it again without.
func TestMigrateDataBigShop(t *testing.T) {
	pgtest.URL(t)
	if testing.Short() {
		t.Skip("moves 100,000 orders twice: not with -short")
	}
	size := bigShop
	if raceEnabled {
		size = raceShop
	}
	t0 := time.Now()
	files := genShop(t, t.TempDir(), size)
	t.Logf("generated a shop of %d orders in %v", size.orders, time.Since(t0).Round(time.Millisecond))

	t.Run("straight", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, append([]string{"-service", "all"}, shopFlags(files)...)...)
		t.Logf("bookshop migrate-data -service all:\n%s", out)
		if err != nil {
			t.Fatalf("migrate-data: %v", err)
		}
		checkMoved(t, files, url)
	})

	t.Run("killed half-way", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		args := append([]string{"migrate-data", "-service", "all"}, shopFlags(files)...)
		// A batch of the orders' lines a third of the way (the 100th of
		// bigShop's 300), inserted, not committed: the Cart, Accounts and
		// Inventory are moved, the orders' lines in part, the charges,
		// claims and checkouts not at all.
		batch := size.orders / 1000
		point := fmt.Sprintf("migrate-data/orders.order_lines/batch-%d", batch)
		killed := start(t, "bookshop", []string{"DATABASE_URL=" + url, fault.EnvVar + "=" + point}, args...)
		if code := waitExit(t, killed); code != -1 && code != fault.KilledExitCode {
			t.Fatalf("killed run: exit %d, want killed by SIGKILL\n%s%s", code, killed.stdout, killed.stderr)
		}
		if !strings.Contains(killed.stderr.String(), "fault: killed at "+point) {
			t.Fatalf("killed run did not reach %s:\n%s%s", point, killed.stdout, killed.stderr)
		}
		t.Logf("killed run:\n%s%s", killed.stdout, killed.stderr)
		before := int64(batch-1) * 1000
		if n := count(t, url, "orders.order_lines"); n != before {
			t.Errorf("after the kill, order_lines has %d rows, want the %d batches committed before it: %d", n, batch-1, before)
		}
		if n := count(t, url, "pg_namespace WHERE nspname = 'payments'"); n != 0 {
			t.Errorf("after the kill, the schema payments is there: want it not reached")
		}

		t1 := time.Now()
		again := start(t, "bookshop", []string{"DATABASE_URL=" + url}, args...)
		if code := waitExit(t, again); code != 0 {
			t.Fatalf("second run: exit %d\n%s%s", code, again.stdout, again.stderr)
		}
		t.Logf("second run, in %v:\n%s", time.Since(t1).Round(time.Millisecond), again.stdout)
		if !regexp.MustCompile(fmt.Sprintf(`copied +order_lines +\d+ rows: \d+ copied, %d there before`, before)).MatchString(again.stdout.String()) {
			t.Errorf("the second run does not say it found the %d lines of the first:\n%s", before, again.stdout)
		}
		checkMoved(t, files, url)
	})
}

// waitExit waits up to 10 minutes for p to end, and returns its exit code,
// -1 if a signal ended it.
func waitExit(t *testing.T, p *process) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for start's cleanup
		if exit, ok := errors.AsType[*exec.ExitError](err); ok {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(10 * time.Minute):
		t.Fatalf("still running after 10 minutes:\n%s%s", p.stdout, p.stderr)
		return 0
	}
}

// count returns the rows of table (schema.table, and perhaps a WHERE
// clause) in the database of url.
func count(t *testing.T, url, table string) int64 {
	t.Helper()
	ctx := testContext(t, time.Minute)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// checkMoved fails t unless every table of every file of a generated
// shop has the same rows in PostgreSQL, and the services' stores on
// PostgreSQL answer as those on SQLite.
func checkMoved(t *testing.T, files map[string]string, url string) {
	t.Helper()
	ctx := testContext(t, 5*time.Minute)
	var rows int64
	for _, s := range shopServices {
		rows += sameRows(t, ctx, files[s], url, s)
	}
	t.Logf("every row of %d compared: the same", rows)
	sameAnswers(t, ctx, files, url)
}

// sameRows fails t unless every table of the SQLite file at path has the
// same rows as its namesake in schema of url, and returns how many. The
// comparison is not the command's: each row, its values as the drivers
// give them (integers as int64), is printed with %#v and hashed with
// FNV-1a, and the hashes summed, which needs no order.
func sameRows(t *testing.T, ctx context.Context, path, url, schema string) int64 {
	t.Helper()
	lite, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tables, err := tableNames(ctx, lite)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, table := range tables {
		cols, err := liteColumns(ctx, lite, table)
		if err != nil {
			t.Fatal(err)
		}
		query := "SELECT " + strings.Join(cols, ", ") + " FROM "
		var want, got rowsDigest
		lrows, err := lite.Read.QueryContext(ctx, query+table)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for lrows.Next() {
			if err := lrows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			want.add(vals)
		}
		if err := lrows.Err(); err != nil {
			t.Fatal(err)
		}
		lrows.Close()
		prows, err := conn.Query(ctx, query+schema+"."+table)
		if err != nil {
			t.Fatal(err)
		}
		for prows.Next() {
			v, err := prows.Values()
			if err != nil {
				t.Fatal(err)
			}
			got.add(v)
		}
		if err := prows.Err(); err != nil {
			t.Fatal(err)
		}
		if got != want || want.rows == 0 {
			t.Errorf("%s.%s: PostgreSQL has %d rows (sum %x), SQLite %d (sum %x): want the same, and some", schema, table, got.rows, got.sum, want.rows, want.sum)
		}
		total += want.rows
	}
	return total
}

// rowsDigest is the number of rows and the sum of their hashes.
type rowsDigest struct {
	rows int64
	sum  uint64
}

func (d *rowsDigest) add(row []any) {
	h := fnv.New64a()
	for _, v := range row {
		switch n := v.(type) {
		case int32:
			v = int64(n)
		case int16:
			v = int64(n)
		}
		fmt.Fprintf(h, "%#v|", v)
	}
	d.rows++
	d.sum += h.Sum64()
}

// liteColumns returns the names of table's columns in the SQLite db.
func liteColumns(ctx context.Context, db *sqlitedb.DB, table string) ([]string, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, `"`+c+`"`)
	}
	return cols, rows.Err()
}

// sameAnswers fails t unless the services' own stores answer the same
// from PostgreSQL as from SQLite: orders read back whole, the stock, the
// carts' lines; and unless the numbers PostgreSQL gives continue past
// those SQLite gave (a new customer's id, and its session's).
func sameAnswers(t *testing.T, ctx context.Context, files map[string]string, url string) {
	t.Helper()
	st := pgdb.DefaultSettings()
	st.URL = url

	olite, err := orderssqlite.Open(ctx, files["orders"])
	if err != nil {
		t.Fatal(err)
	}
	defer olite.Close()
	opg, err := orderspg.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer opg.Close()
	ids := sample(t, ctx, files["orders"], `SELECT customer_id, id FROM orders ORDER BY id LIMIT 40 OFFSET 1000`)
	for _, id := range ids {
		want, err1 := olite.Order(ctx, id.cust, id.key)
		got, err2 := opg.Order(ctx, id.cust, id.key)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("order %s: PostgreSQL %+v, %v; SQLite %+v, %v", id.key, got, err2, want, err1)
		}
	}
	nl, err1 := olite.CountOrders(ctx)
	np, err2 := opg.CountOrders(ctx)
	if err1 != nil || err2 != nil || nl != np {
		t.Errorf("CountOrders: PostgreSQL %d, %v; SQLite %d, %v", np, err2, nl, err1)
	}

	ilite, err := inventorysqlite.Open(ctx, files["inventory"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ilite.Close()
	ipg, err := inventorypg.Open(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ipg.Close()
	books := []int32{1, 2, 3, 17, 500, 2147483647}
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	wl, err1 := ilite.Levels(ctx, books, at)
	gl, err2 := ipg.Levels(ctx, books, at)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(gl, wl) {
		t.Errorf("Levels: PostgreSQL %+v, %v; SQLite %+v, %v", gl, err2, wl, err1)
	}

	clite, err := cartsqlite.Open(ctx, files["cart"])
	if err != nil {
		t.Fatal(err)
	}
	defer clite.Close()
	cpg, err := cartpg.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer cpg.Close()
	for _, c := range sample(t, ctx, files["cart"], `SELECT 0, id FROM carts ORDER BY id LIMIT 20`) {
		wl, err1 := clite.Lines(ctx, c.key)
		gl, err2 := cpg.Lines(ctx, c.key)
		if err1 != nil || err2 != nil || len(wl) == 0 || !reflect.DeepEqual(gl, wl) {
			t.Errorf("cart %s: PostgreSQL %+v, %v; SQLite %+v, %v", c.key, gl, err2, wl, err1)
		}
	}

	klite, err := checkoutsqlite.Open(ctx, files["checkout"])
	if err != nil {
		t.Fatal(err)
	}
	defer klite.Close()
	kpg, err := checkoutpg.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer kpg.Close()
	for _, k := range sample(t, ctx, files["checkout"], `SELECT customer_id, key FROM checkouts ORDER BY id LIMIT 20`) {
		want, err1 := klite.Get(ctx, k.cust, k.key)
		got, err2 := kpg.Get(ctx, k.cust, k.key)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("checkout %d/%s: PostgreSQL %+v, %v; SQLite %+v, %v", k.cust, k.key, got, err2, want, err1)
		}
	}
	wn, wo, err1 := klite.CountUnfinished(ctx)
	gn, gold, err2 := kpg.CountUnfinished(ctx)
	if err1 != nil || err2 != nil || wn != gn || !wo.Equal(gold) || wn == 0 {
		t.Errorf("CountUnfinished: PostgreSQL %d, %v, %v; SQLite %d, %v, %v", gn, gold, err2, wn, wo, err1)
	}

	// The catalog: every book the same, and the version of the last
	// import, from which the replicas go on.
	glite, err := catalogsqlite.Open(ctx, files["catalog"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer glite.Close()
	gpg, err := catalogpg.Open(ctx, st, nil, catalogpg.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer gpg.Close()
	if got, want := gpg.All(), glite.All(); len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("the catalog: PostgreSQL holds %d books, SQLite %d, not the same", len(got), len(want))
	}
	if v := gpg.Version(); v == 0 {
		t.Errorf("the catalog's version on PostgreSQL = %d, want that of the last import moved", v)
	}

	// A new customer takes the number after the largest SQLite ever gave
	// (its last three were deleted), not one of a customer gone.
	apg, err := accountspg.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer apg.Close()
	now := time.Now()
	c, err := apg.AddCustomer(ctx, bookshop.Customer{Email: fmt.Sprintf("new-%d@example.com", now.UnixNano()), Name: "New", Created: now},
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", sha256.Sum256([]byte(now.String())), now.Add(time.Hour))
	if err != nil {
		t.Fatalf("AddCustomer on PostgreSQL after the move: %v", err)
	}
	var customers int64
	for _, n := range sample(t, ctx, files["accounts"], `SELECT seq, '' FROM sqlite_sequence WHERE name = 'customers'`) {
		customers = int64(n.cust)
	}
	if int64(c.ID) != customers+1 {
		t.Errorf("a new customer's id on PostgreSQL = %d, want %d: after the largest SQLite gave", c.ID, customers+1)
	}
}

// sampled is a row of sample: a number and a text.
type sampled struct {
	cust int32
	key  string
}

// sample returns the rows of query, a number and a text each, from the
// SQLite file at path.
func sample(t *testing.T, ctx context.Context, path, query string) []sampled {
	t.Helper()
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Read.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []sampled
	for rows.Next() {
		var s sampled
		if err := rows.Scan(&s.cust, &s.key); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		t.Fatalf("%s: %d rows, %v", query, len(out), err)
	}
	return out
}

// TestMigrateDataRefuses: the command refuses, with a message that says
// why and what to do, and writes nothing: a file missing, a file of
// another schema version, a target that holds other data; it reports no
// success over a difference; and no password reaches its output.
func TestMigrateDataRefuses(t *testing.T) {
	pgtest.URL(t)
	files := genShop(t, t.TempDir(), smallShop)
	all := append([]string{"-service", "all"}, shopFlags(files)...)

	t.Run("a file missing", func(t *testing.T) {
		_, err := migrateData(t, map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)}, "-service", "orders", "-orders-db", filepath.Join(t.TempDir(), "none.db"))
		if err == nil || !strings.Contains(err.Error(), "orders: no SQLite file") || !strings.Contains(err.Error(), "-orders-db (or ORDERS_DB)") {
			t.Errorf("migrate-data = %v, want it to say the file is missing and which setting names it", err)
		}
		t.Log(err)
	})

	t.Run("another schema version", func(t *testing.T) {
		for _, tc := range []struct {
			change, want string
		}{
			{`DELETE FROM schema_migrations WHERE version = 3`, "has schema version 2, older than this bookshop's (3): run this bookshop's cart service on it once first"},
			{`INSERT INTO schema_migrations VALUES (9, '0009_future.sql', '2030-01-01T00:00:00Z')`, "has schema version 9, newer than this bookshop knows (3): run the migrate-data of a bookshop as new"},
		} {
			path := filepath.Join(t.TempDir(), "cart.db")
			copyFile(t, files["cart"], path)
			db, err := sqlitedb.Open(testContext(t, time.Minute), path, sqlitedb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(testContext(t, time.Minute), tc.change); err != nil {
				t.Fatal(err)
			}
			db.Close()
			url := pgtest.NewDatabase(t)
			_, err = migrateData(t, map[string]string{"DATABASE_URL": url}, "-service", "cart", "-cart-db", path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("migrate-data = %v, want %q", err, tc.want)
			}
			t.Log(err)
			if schemas(t, url) != 0 {
				t.Error("the refused move made a schema")
			}
		}
	})

	t.Run("other data", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		// The Accounts service ran on this database already: a sign-up.
		st := pgdb.DefaultSettings()
		st.URL = url
		db, err := accountspg.Open(testContext(t, time.Minute), st)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if _, err := db.AddCustomer(testContext(t, time.Minute), bookshop.Customer{Email: "early@example.com", Name: "Early", Created: now}, "$argon2id$v=19$a$b", [32]byte{1}, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		db.Close()
		out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, all...)
		if err == nil || !strings.Contains(err.Error(), "accounts: ") || !strings.Contains(err.Error(), "the PostgreSQL schema holds other data: table customers holds rows that are not the first rows of the SQLite file") ||
			!strings.Contains(err.Error(), "DROP SCHEMA") {
			t.Fatalf("migrate-data = %v, want it to refuse the accounts' schema, naming the table\n%s", err, out)
		}
		t.Log(err)
		if n := count(t, url, "accounts.customers"); n != 1 {
			t.Errorf("customers has %d rows after the refusal, want the 1 it had", n)
		}
	})

	t.Run("a difference after the move", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		if out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, all...); err != nil {
			t.Fatalf("migrate-data: %v\n%s", err, out)
		}
		exec1(t, url, `UPDATE orders.order_lines SET title = title || '!' WHERE (order_id, n) = (SELECT order_id, n FROM orders.order_lines ORDER BY order_id COLLATE "C", n LIMIT 1 OFFSET 7)`)
		out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, append([]string{"-verify-only"}, all...)...)
		if err == nil || !strings.Contains(err.Error(), "orders: ") || !strings.Contains(err.Error(), "not verified: table order_lines") ||
			!strings.Contains(err.Error(), "has another title in PostgreSQL") || !strings.Contains(err.Error(), "Do not point the orders service at PostgreSQL") {
			t.Errorf("migrate-data -verify-only = %v, want it to name the table and how it differs", err)
		}
		t.Logf("%s%v", out, err)
		if !strings.Contains(out, "DIFFERS   order_lines") || strings.Contains(out, "Every service") {
			t.Errorf("output:\n%s\nwant a DIFFERS line for order_lines, and no success", out)
		}
		// A move run again refuses to merge: the target is not the file's.
		_, err = migrateData(t, map[string]string{"DATABASE_URL": url}, "-service", "orders", "-orders-db", files["orders"])
		if err == nil || !strings.Contains(err.Error(), "holds other data: table order_lines") {
			t.Errorf("migrate-data again = %v, want a refusal naming order_lines", err)
		}
	})

	t.Run("verify-only writes nothing", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, "-verify-only", "-service", "accounts", "-accounts-db", files["accounts"])
		if err == nil || !strings.Contains(err.Error(), "accounts: ") || !strings.Contains(err.Error(), "not verified: the schema has not been made, so nothing has been moved there") {
			t.Errorf("migrate-data -verify-only before any move = %v, want it to say nothing was moved\n%s", err, out)
		}
		t.Log(err)
		if n := schemas(t, url); n != 0 {
			t.Errorf("-verify-only made %d schemas, want none: it must write nothing", n)
		}
	})

	t.Run("a sequence behind", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		accounts := []string{"-service", "accounts", "-accounts-db", files["accounts"]}
		if out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, accounts...); err != nil {
			t.Fatalf("migrate-data: %v\n%s", err, out)
		}
		exec1(t, url, `SELECT setval('accounts.customers_id_seq', 1)`)
		out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, append([]string{"-verify-only"}, accounts...)...)
		if err == nil || !strings.Contains(err.Error(), "not verified: table customers: the sequence of id (accounts.customers_id_seq) gives 2 next, not past the largest id") ||
			!strings.Contains(out, "DIFFERS   customers") || strings.Contains(out, "Every service") {
			t.Errorf("migrate-data -verify-only with the customers' sequence set back = %v, want it to name the sequence and fail\n%s", err, out)
		}
		t.Log(err)
		// The move, run again, sets it.
		if out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, accounts...); err != nil {
			t.Fatalf("migrate-data again: %v\n%s", err, out)
		}
		if out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, append([]string{"-verify-only"}, accounts...)...); err != nil {
			t.Errorf("migrate-data -verify-only after the move again: %v\n%s", err, out)
		}
	})

	t.Run("no password shown", func(t *testing.T) {
		const pw = "Pa55-w0rd-secret"
		url := strings.Replace(pgtest.NewDatabase(t), "postgres://postgres@", "postgres://postgres:"+pw+"@", 1)
		if !strings.Contains(url, pw) {
			t.Skip("the test server's URL names no user as postgres@: cannot add a password to it")
		}
		out, err := migrateData(t, map[string]string{"DATABASE_URL": url}, "-service", "payments", "-payments-db", files["payments"])
		if err != nil {
			t.Fatalf("migrate-data: %v\n%s", err, out)
		}
		if strings.Contains(out, pw) || !strings.Contains(out, "postgres:xxxxx@") {
			t.Errorf("output shows the password, or not the redacted URL:\n%s", out)
		}
		bad := "postgres://bookshop:" + pw + "@127.0.0.1:1/bookshop?connect_timeout=2"
		out, err = migrateData(t, map[string]string{"PAYMENTS_DATABASE_URL": bad}, "-service", "payments", "-payments-db", files["payments"])
		if err == nil || strings.Contains(err.Error()+out, pw) {
			t.Errorf("migrate-data to a server not there = %v, output %q: want an error without the password", err, out)
		}
		t.Log(err)
	})
}

// copyFile copies the file at from to to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// exec1 runs sql on the database of url.
func exec1(t *testing.T, url, sql string) {
	t.Helper()
	ctx := testContext(t, time.Minute)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// schemas returns how many schemas of Bookshop's the database of url has:
// those with a schema_migrations table.
func schemas(t *testing.T, url string) int64 {
	t.Helper()
	ctx := testContext(t, time.Minute)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
