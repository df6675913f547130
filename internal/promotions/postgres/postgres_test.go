package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/postgres"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
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
// customer and campaign (but takes one of another campaign), and a claim
// without a discount.
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
	if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.claims VALUES (1, 'e', 'held', 309, 'EUR', 0, 'ten_percent_off', 0, 0, 0)`, postgres.Schema)); err != nil {
		t.Errorf("a claim held of another campaign beside a confirmed one: %v", err)
	}
}

// TestMigrateToOncePerCampaign makes schema promotions as a binary of the
// first schema (0001) left it, with the rows a service wrote then, and
// opens it: migrated, it keeps them, and each campaign has a first start
// and a use of each customer of its own (see
// storetest.CheckMigratedToCampaigns).
func TestMigrateToOncePerCampaign(t *testing.T) {
	ctx := testContext(t)
	st := pgtest.Settings(t)
	first, err := os.ReadFile(filepath.Join("migrations", "0001_promotions.sql"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, st.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{
		`CREATE SCHEMA ` + postgres.Schema,
		`SET search_path TO ` + postgres.Schema,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		string(first), // no arguments: the simple protocol, which runs its several statements
		`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_promotions.sql')`,
	}
	for _, stmt := range append(stmts, storetest.RowsBeforeCampaigns()...) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("make a schema of version 1: %v", err)
		}
	}
	db, err := postgres.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckMigratedToCampaigns(t, db)
}

// TestSameTablesAsSQLite checks what `bookshop migrate-data` relies on to
// move the service's data from its SQLite file to PostgreSQL: both stores,
// migrated, have the same tables, each with the same columns, of the same
// kinds (integers, text), and the same primary key.
func TestSameTablesAsSQLite(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "promotions.db")
	lite, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.QueryContext(ctx, `SELECT t.name, c.name, lower(c.type), c.pk FROM sqlite_schema AS t, pragma_table_info(t.name) AS c
		WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND t.name <> 'schema_migrations' ORDER BY t.name, c.cid`)
	if err != nil {
		t.Fatal(err)
	}
	var inSQLite []string
	for rows.Next() {
		var table, column, kind string
		var pk int
		if err := rows.Scan(&table, &column, &kind, &pk); err != nil {
			t.Fatal(err)
		}
		inSQLite = append(inSQLite, describe(table, column, kind, pk))
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	st := pgtest.Settings(t)
	pg, err := postgres.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	pg.Close()
	conn, err := pgx.Connect(ctx, st.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pgRows, err := conn.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type,
			coalesce((SELECT k.ordinal_position FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage k ON k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name
				WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY' AND k.column_name = c.column_name), 0)
		FROM information_schema.columns c
		WHERE c.table_schema = $1 AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`, postgres.Schema)
	if err != nil {
		t.Fatal(err)
	}
	var inPostgres []string
	var (
		table, column, kind string
		pk                  int
	)
	if _, err := pgx.ForEachRow(pgRows, []any{&table, &column, &kind, &pk}, func() error {
		inPostgres = append(inPostgres, describe(table, column, kind, pk))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inSQLite, inPostgres) {
		t.Errorf("the tables differ:\nSQLite:     %v\nPostgreSQL: %v", inSQLite, inPostgres)
	}
}

// describe says what a column is, in words both databases' columns share:
// its table, its name, its kind and its place in the primary key.
func describe(table, column, kind string, pk int) string {
	switch kind {
	case "integer", "bigint", "smallint":
		kind = "integer"
	}
	return fmt.Sprintf("%s.%s %s key %d", table, column, kind, pk)
}
