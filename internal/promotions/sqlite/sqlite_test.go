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

// code is the campaign of the tests' claims, "buy two books, get the
// third free"; next is another, "ten percent off".
const (
	code = "buy_two_get_one_free"
	next = "ten_percent_off"
)

var discount = bookshop.Discount{Amount: bookshop.Money{Units: 899, Currency: "EUR"}, BookID: 2, Code: code}

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

func usage(tb testing.TB, db *sqlite.DB, customer int32, code string, now time.Time) claim.Usage {
	tb.Helper()
	u, err := db.Usage(testContext(tb), customer, code, now)
	if err != nil {
		tb.Fatalf("Usage(%d, %s): %v", customer, code, err)
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
// customer and campaign (but takes one of another campaign), and a claim
// without a discount.
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
	if _, err := raw.Exec(`INSERT INTO claims VALUES (1, 'e', 'held', 309, 'EUR', 0, 'ten_percent_off', 0, 0, 0)`); err != nil {
		t.Errorf("a claim held of another campaign beside a confirmed one: %v", err)
	}
}

// atSchema makes a database at path of the schema of the first version
// migrations (as a binary of that version left it), and runs stmts on
// it: the rows that binary wrote.
func atSchema(tb testing.TB, path string, version int, stmts ...string) {
	tb.Helper()
	ctx := testContext(tb)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	all := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) < version {
		tb.Fatalf("the migrations: %v, %v; want %d at least", files, err, version)
	}
	for i, f := range files[:version] {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, string(b), fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', '2026-03-01T00:00:00Z')`, i+1, filepath.Base(f)))
	}
	for _, stmt := range append(all, stmts...) {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			tb.Fatalf("make a database of schema %d: %v", version, err)
		}
	}
}

// TestMigrateToDiscountsWithoutBook opens a database of the first schema
// (0001), with a customer's use spent and another's held: migrated, it
// keeps both, still refuses a second use of a customer, and now records a
// discount that makes no book free (book 0).
func TestMigrateToDiscountsWithoutBook(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "promotions.db")
	atSchema(t, path, 1,
		`INSERT INTO claims VALUES (1, 'placed', 'confirmed', 899, 'EUR', 2, 'buy_two_get_one_free', 0, 0, 0)`,
		fmt.Sprintf(`INSERT INTO claims VALUES (2, 'pending', 'held', 899, 'EUR', 2, 'buy_two_get_one_free', 0, %d, 0)`, t0.Add(time.Hour).UnixMilli()))

	db := open(t, path)
	if u := usage(t, db, 1, code, t0); !u.Spent {
		t.Errorf("Usage(1) after the migration = %+v, want spent", u)
	}
	if u := usage(t, db, 2, code, t0); !u.Held {
		t.Errorf("Usage(2) after the migration = %+v, want held", u)
	}
	var own, live *claim.Claim
	if _, _, err := db.Update(ctx, 2, code, "another", t0, to(held(2, "another", t0.Add(time.Hour)), &own, &live)); err == nil {
		t.Error("a second claim held of customer 2 was written after the migration")
	}
	bookless := held(3, "k", t0.Add(time.Hour))
	bookless.Discount = bookshop.Discount{Amount: bookshop.Money{Units: 370, Currency: "EUR"}, Code: next}
	c, _, err := db.Update(ctx, 3, next, "k", t0, to(bookless, &own, &live))
	if err != nil || c.Discount != bookless.Discount {
		t.Errorf("Update(a discount that makes no book free) = %+v, %v; want it written", c, err)
	}
	if _, _, err := db.Update(ctx, 3, next, "k", t0, func(own, _ *claim.Claim) (claim.Claim, error) {
		if own == nil || own.Discount != bookless.Discount {
			return claim.Claim{}, fmt.Errorf("read back %+v, want %+v", own, bookless.Discount)
		}
		return *own, nil
	}); err != nil {
		t.Error(err)
	}
}

// TestMigrateToOncePerCampaign opens a database of the schema before
// campaigns were told apart (0002), with the rows a service wrote then:
// migrated, it keeps them, each campaign has a first start and a use of
// each customer of its own (see storetest.CheckMigratedToCampaigns).
func TestMigrateToOncePerCampaign(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promotions.db")
	atSchema(t, path, 2, storetest.RowsBeforeCampaigns()...)
	storetest.CheckMigratedToCampaigns(t, open(t, path))
}
