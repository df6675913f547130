package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/claim"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
	"github.com/bookshop-go/bookshop/internal/promotions/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var discount = bookshop.Discount{Amount: bookshop.Money{Units: 899, Currency: "EUR"}, BookID: 2, Code: "buy_two_get_one_free"}

// held is customer's claim under key, held until expires.
func held(customer int32, key string, expires time.Time) claim.Claim {
	return claim.Claim{CustomerID: customer, Key: key, State: claim.Held, Discount: discount, Expires: expires}
}

// to returns a Decide that records c, whatever it is given, and stores
// what it was given in own and live.
func to(c claim.Claim, own, live **claim.Claim) claim.Decide {
	return func(o, l *claim.Claim) (claim.Claim, error) {
		*own, *live = o, l
		return c, nil
	}
}

func usage(tb testing.TB, db *sqlite.DB, customer int32, now time.Time) claim.Usage {
	tb.Helper()
	u, err := db.Usage(testContext(tb), customer, now)
	if err != nil {
		tb.Fatalf("Usage(%d): %v", customer, err)
	}
	return u
}

// TestStore runs the contract of promotions.Store on SQLite files: each
// handle on one file is another connection to it, as another process's
// would be.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) func() (promotions.Store, error) {
		path := filepath.Join(tb.TempDir(), "promotions.db")
		return func() (promotions.Store, error) {
			db, err := sqlite.Open(testContext(tb), path)
			if err != nil {
				return nil, err
			}
			tb.Cleanup(func() { db.Close() })
			return db, nil
		}
	})
}

// TestOpenRefuses checks that Open refuses another program's database.
func TestOpenRefuses(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`CREATE TABLE notes (text TEXT)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, err := sqlite.Open(ctx, path); err == nil || !strings.Contains(err.Error(), "not a Bookshop promotions database") {
		t.Errorf("Open(another program's file) = %v, want a refusal", err)
	}
}

// TestSchemaRefusesTwoUses writes to the file behind the service's back:
// the schema itself refuses a second claim held or confirmed of one
// customer, and a claim without a discount.
func TestSchemaRefusesTwoUses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promotions.db")
	open(t, path).Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	insert := func(key, state string, units int64) error {
		_, err := raw.Exec(fmt.Sprintf(`INSERT INTO claims VALUES (1, '%s', '%s', %d, 'EUR', 2, 'buy_two_get_one_free', 0, 0, 0)`, key, state, units))
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

// TestMigrateToDiscountsWithoutBook opens a database of the first schema
// (0001), with a customer's use spent and another's held: migrated, it
// keeps both, still refuses a second use of a customer, and now records a
// discount that makes no book free (book 0).
func TestMigrateToDiscountsWithoutBook(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "promotions.db")
	first, err := os.ReadFile(filepath.Join("migrations", "0001_promotions.sql"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`,
		string(first),
		`INSERT INTO schema_migrations VALUES (1, '0001_promotions.sql', '2026-03-01T00:00:00Z')`,
		`INSERT INTO claims VALUES (1, 'placed', 'confirmed', 899, 'EUR', 2, 'buy_two_get_one_free', 0, 0, 0)`,
		fmt.Sprintf(`INSERT INTO claims VALUES (2, 'pending', 'held', 899, 'EUR', 2, 'buy_two_get_one_free', 0, %d, 0)`, t0.Add(time.Hour).UnixMilli()),
	} {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("make a database of schema 1: %v", err)
		}
	}
	raw.Close()

	db := open(t, path)
	if u := usage(t, db, 1, t0); !u.Spent {
		t.Errorf("Usage(1) after the migration = %+v, want spent", u)
	}
	if u := usage(t, db, 2, t0); !u.Held {
		t.Errorf("Usage(2) after the migration = %+v, want held", u)
	}
	var own, live *claim.Claim
	if _, _, err := db.Update(ctx, 2, "another", t0, to(held(2, "another", t0.Add(time.Hour)), &own, &live)); err == nil {
		t.Error("a second claim held of customer 2 was written after the migration")
	}
	bookless := held(3, "k", t0.Add(time.Hour))
	bookless.Discount = bookshop.Discount{Amount: bookshop.Money{Units: 370, Currency: "EUR"}, Code: "ten_percent_off"}
	c, _, err := db.Update(ctx, 3, "k", t0, to(bookless, &own, &live))
	if err != nil || c.Discount != bookless.Discount {
		t.Errorf("Update(a discount that makes no book free) = %+v, %v; want it written", c, err)
	}
	if _, _, err := db.Update(ctx, 3, "k", t0, func(own, _ *claim.Claim) (claim.Claim, error) {
		if own == nil || own.Discount != bookless.Discount {
			return claim.Claim{}, fmt.Errorf("read back %+v, want %+v", own, bookless.Discount)
		}
		return *own, nil
	}); err != nil {
		t.Error(err)
	}
}
