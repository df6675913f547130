package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions/sqlite"
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
func held(customer int32, key string, expires time.Time) sqlite.Claim {
	return sqlite.Claim{CustomerID: customer, Key: key, State: sqlite.Held, Discount: discount, Expires: expires}
}

// to returns a Decide that records c, whatever it is given, and stores
// what it was given in own and live.
func to(c sqlite.Claim, own, live **sqlite.Claim) sqlite.Decide {
	return func(o, l *sqlite.Claim) (sqlite.Claim, error) {
		*own, *live = o, l
		return c, nil
	}
}

// keep is a Decide that writes nothing.
func keep(own, _ *sqlite.Claim) (sqlite.Claim, error) {
	if own == nil {
		return sqlite.Claim{}, nil
	}
	return *own, nil
}

func usage(tb testing.TB, db *sqlite.DB, customer int32, now time.Time) sqlite.Usage {
	tb.Helper()
	u, err := db.Usage(testContext(tb), customer, now)
	if err != nil {
		tb.Fatalf("Usage(%d): %v", customer, err)
	}
	return u
}

// TestUpdate checks what Update gives its rule and what it writes: the
// key's claim and the customer's live one, the expiry of the customer's
// claims past theirs, nothing written on an error or on no change, and
// the times as written.
func TestUpdate(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	var own, live *sqlite.Claim

	got, expired, err := db.Update(ctx, 1, "a", t0, to(held(1, "a", t0.Add(time.Minute)), &own, &live))
	want := held(1, "a", t0.Add(time.Minute))
	want.Updated = t0
	if err != nil || expired != 0 || got != want || own != nil || live != nil {
		t.Fatalf("Update(1, a) = %+v, %d, %v, given %v and %v; want %+v, given nothing", got, expired, err, own, live, want)
	}
	if u := usage(t, db, 1, t0); u != (sqlite.Usage{Held: true}) {
		t.Errorf("Usage(1) = %+v, want held", u)
	}
	if u := usage(t, db, 1, t0.Add(time.Minute)); u != (sqlite.Usage{}) {
		t.Errorf("Usage(1) at the claim's expiry = %+v, want nothing: it holds nothing from then", u)
	}

	// Another key of the customer sees "a" live; a failed rule writes
	// nothing.
	refused := errors.New("refused")
	_, _, err = db.Update(ctx, 1, "b", t0, func(o, l *sqlite.Claim) (sqlite.Claim, error) {
		own, live = o, l
		return held(1, "b", t0), refused
	})
	if !errors.Is(err, refused) || own != nil || live == nil || *live != want {
		t.Errorf("Update(1, b) = %v, given %v and %v; want refused, given no claim of b and a's %+v", err, own, live, want)
	}
	if _, _, err := db.Update(ctx, 1, "b", t0, keep); err != nil {
		t.Fatal(err)
	}

	// A second claim held or confirmed is refused by the unique index,
	// whatever the rule says.
	if _, _, err := db.Update(ctx, 1, "b", t0, to(held(1, "b", t0.Add(time.Minute)), &own, &live)); err == nil {
		t.Error("Update(1, b) to held while a is held = nil, want the unique index's refusal")
	}
	c := held(1, "b", t0)
	c.State = sqlite.Confirmed
	if _, _, err := db.Update(ctx, 1, "b", t0, to(c, &own, &live)); err == nil {
		t.Error("Update(1, b) to confirmed while a is held = nil, want the unique index's refusal")
	}

	// At a's expiry, the next Update of the customer records it expired,
	// and b may hold.
	later := t0.Add(time.Minute)
	got, expired, err = db.Update(ctx, 1, "b", later, to(held(1, "b", later.Add(time.Minute)), &own, &live))
	if err != nil || expired != 1 || live != nil || got.State != sqlite.Held {
		t.Errorf("Update(1, b) at a's expiry = %+v, %d expired, %v, given live %v; want b held, 1 expired, no live claim", got, expired, err, live)
	}
	_, _, err = db.Update(ctx, 1, "a", later, to(sqlite.Claim{}, &own, &live))
	if err == nil || own == nil || own.State != sqlite.Expired || !own.Updated.Equal(later) || live == nil || live.Key != "b" {
		t.Errorf("Update(1, a) after: %v, given %+v and %+v; want a expired at %v, b live, and an error for a zero claim", err, own, live, later)
	}

	// The claim of another customer under the same key is another claim.
	if _, _, err := db.Update(ctx, 2, "a", t0, to(held(2, "a", later), &own, &live)); err != nil || own != nil || live != nil {
		t.Errorf("Update(2, a) = %v, given %v and %v; want nothing of customer 1's", err, own, live)
	}
	// A rule that returns another claim than its key's is refused.
	if _, _, err := db.Update(ctx, 3, "a", t0, to(held(4, "a", later), &own, &live)); err == nil {
		t.Error("Update(3, a) writing customer 4's claim = nil, want an error")
	}
}

// TestSweep checks Expire and DeleteEnded: claims held past their expiry
// are recorded expired; released and expired records a week old go, in
// batches; confirmed ones stay for good.
func TestSweep(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	var own, live *sqlite.Claim
	const n = 600 // more than a batch
	for i := range int32(n) {
		if _, _, err := db.Update(ctx, i+1, "k", t0, to(held(i+1, "k", t0.Add(time.Minute)), &own, &live)); err != nil {
			t.Fatal(err)
		}
	}
	c := held(n+1, "k", t0.Add(time.Minute))
	c.State = sqlite.Confirmed
	if _, _, err := db.Update(ctx, n+1, "k", t0, to(c, &own, &live)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Expire(ctx, t0.Add(time.Minute-time.Millisecond)); got != 0 || err != nil {
		t.Errorf("Expire before = %d, %v; want 0", got, err)
	}
	if got, err := db.Expire(ctx, t0.Add(time.Minute)); got != n || err != nil {
		t.Errorf("Expire at the expiry = %d, %v; want %d", got, err, n)
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Minute)); got != 0 || err != nil {
		t.Errorf("DeleteEnded(the instant they expired) = %d, %v; want 0", got, err)
	}
	if got, err := db.DeleteEnded(ctx, t0.Add(time.Hour)); got != n || err != nil {
		t.Errorf("DeleteEnded later = %d, %v; want %d", got, err, n)
	}
	if u := usage(t, db, n+1, t0.AddDate(1, 0, 0)); !u.Spent {
		t.Errorf("Usage(%d) a year on = %+v, want spent: a use is kept for good", n+1, u)
	}
}

// TestReopen checks that the first start and the claims are kept across
// a reopening of the file.
func TestReopen(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "promotions.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if start, err := db.FirstStart(ctx, t0); err != nil || !start.Equal(t0) {
		t.Errorf("FirstStart(t0) of a new database = %v, %v; want %v", start, err, t0)
	}
	if start, err := db.FirstStart(ctx, t0.Add(time.Hour)); err != nil || !start.Equal(t0) {
		t.Errorf("FirstStart again = %v, %v; want %v, the first", start, err, t0)
	}
	c := held(1, "k", t0.Add(time.Minute))
	c.State = sqlite.Confirmed
	var own, live *sqlite.Claim
	if _, _, err := db.Update(ctx, 1, "k", t0, to(c, &own, &live)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, path)
	if start, err := db.FirstStart(ctx, t0.Add(48*time.Hour)); err != nil || !start.Equal(t0) {
		t.Errorf("FirstStart after reopening = %v, %v; want %v", start, err, t0)
	}
	if _, _, err := db.Update(ctx, 1, "k", t0, keep); err != nil {
		t.Fatal(err)
	}
	if u := usage(t, db, 1, t0); !u.Spent {
		t.Errorf("Usage(1) after reopening = %+v, want spent", u)
	}
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
	var own, live *sqlite.Claim
	if _, _, err := db.Update(ctx, 2, "another", t0, to(held(2, "another", t0.Add(time.Hour)), &own, &live)); err == nil {
		t.Error("a second claim held of customer 2 was written after the migration")
	}
	bookless := held(3, "k", t0.Add(time.Hour))
	bookless.Discount = bookshop.Discount{Amount: bookshop.Money{Units: 370, Currency: "EUR"}, Code: "ten_percent_off"}
	c, _, err := db.Update(ctx, 3, "k", t0, to(bookless, &own, &live))
	if err != nil || c.Discount != bookless.Discount {
		t.Errorf("Update(a discount that makes no book free) = %+v, %v; want it written", c, err)
	}
	if _, _, err := db.Update(ctx, 3, "k", t0, func(own, _ *sqlite.Claim) (sqlite.Claim, error) {
		if own == nil || own.Discount != bookless.Discount {
			return sqlite.Claim{}, fmt.Errorf("read back %+v, want %+v", own, bookless.Discount)
		}
		return *own, nil
	}); err != nil {
		t.Error(err)
	}
}
