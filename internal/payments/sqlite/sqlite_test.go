package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/sqlite"
)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2030, 6, 15, 12, 0, 0, 123_000_000, time.UTC)

// charge returns a charge of key, approved at t0, whose id ends in c.
func charge(key string, c byte) bookshop.Charge {
	return bookshop.Charge{
		ID: "ch_" + strings.Repeat(string(c), 22), Key: key, Amount: bookshop.Money{Units: 1299, Currency: "EUR"},
		Brand: "visa", Last4: "4242", State: "approved", Created: t0,
	}
}

func TestAddAndRead(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	a := charge("key-a", 'a')
	d := charge("key-d", 'd')
	d.State, d.DeclineReason = "declined", "insufficient funds"
	for _, c := range []bookshop.Charge{a, d} {
		if prior, cancelled, err := db.AddCharge(ctx, c); prior != nil || cancelled || err != nil {
			t.Fatalf("AddCharge(%s) = %v, %v, %v", c.Key, prior, cancelled, err)
		}
	}
	for _, c := range []bookshop.Charge{a, d} {
		if got, err := db.ChargeByID(ctx, c.ID); err != nil || got == nil || *got != c {
			t.Errorf("ChargeByID(%s) = %v, %v; want %+v", c.ID, got, err, c)
		}
		if got, cancelled, err := db.ChargeByKey(ctx, c.Key); err != nil || cancelled || got == nil || *got != c {
			t.Errorf("ChargeByKey(%s) = %v, %v, %v; want %+v", c.Key, got, cancelled, err, c)
		}
	}
	if got, err := db.ChargeByID(ctx, "ch_"+strings.Repeat("z", 22)); got != nil || err != nil {
		t.Errorf("ChargeByID(unknown) = %v, %v; want nil, nil", got, err)
	}
	if got, cancelled, err := db.ChargeByKey(ctx, "unknown"); got != nil || cancelled || err != nil {
		t.Errorf("ChargeByKey(unknown) = %v, %v, %v; want nothing", got, cancelled, err)
	}

	// The same key again: the first charge, and nothing recorded.
	other := charge("key-a", 'b')
	other.Amount.Units = 1
	prior, cancelled, err := db.AddCharge(ctx, other)
	if err != nil || cancelled || prior == nil || *prior != a {
		t.Errorf("AddCharge with a used key = %v, %v, %v; want the first charge", prior, cancelled, err)
	}
	if got, err := db.ChargeByID(ctx, other.ID); got != nil || err != nil {
		t.Errorf("the second charge of a key was recorded: %v, %v", got, err)
	}
}

// TestRefund checks that Refund refunds an approved charge once, leaves a
// declined one as it is, and answers nil for an unknown one.
func TestRefund(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	a := charge("key-a", 'a')
	d := charge("key-d", 'd')
	d.State, d.DeclineReason = "declined", "insufficient funds"
	for _, c := range []bookshop.Charge{a, d} {
		if _, _, err := db.AddCharge(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	want := a
	want.State, want.Refunded = "refunded", t1
	for _, now := range []time.Time{t1, t2} {
		if got, err := db.Refund(ctx, a.ID, now); err != nil || got == nil || *got != want {
			t.Errorf("Refund at %v = %v, %v; want %+v, refunded at the first", now, got, err, want)
		}
	}
	if got, err := db.Refund(ctx, d.ID, t1); err != nil || got == nil || *got != d {
		t.Errorf("Refund of a decline = %v, %v; want it as it is", got, err)
	}
	if got, err := db.Refund(ctx, "ch_"+strings.Repeat("z", 22), t1); got != nil || err != nil {
		t.Errorf("Refund(unknown) = %v, %v; want nil, nil", got, err)
	}
}

// TestCancelKey checks that a key cancelled cannot charge, and that a key
// that charged is not cancelled.
func TestCancelKey(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	for range 2 {
		if got, err := db.CancelKey(ctx, "lost", t0); got != nil || err != nil {
			t.Fatalf("CancelKey(lost) = %v, %v; want nil, nil", got, err)
		}
	}
	if got, cancelled, err := db.ChargeByKey(ctx, "lost"); got != nil || !cancelled || err != nil {
		t.Errorf("ChargeByKey(cancelled) = %v, %v, %v; want cancelled", got, cancelled, err)
	}
	if prior, cancelled, err := db.AddCharge(ctx, charge("lost", 'l')); prior != nil || !cancelled || err != nil {
		t.Errorf("AddCharge with a cancelled key = %v, %v, %v; want cancelled", prior, cancelled, err)
	}
	a := charge("made", 'a')
	if _, _, err := db.AddCharge(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, err := db.CancelKey(ctx, "made", t0); err != nil || got == nil || *got != a {
		t.Errorf("CancelKey of a key that charged = %v, %v; want its charge", got, err)
	}
	if got, cancelled, _ := db.ChargeByKey(ctx, "made"); got == nil || cancelled {
		t.Errorf("ChargeByKey after CancelKey of a key that charged = %v, %v; want the charge, not cancelled", got, cancelled)
	}
}

// TestSchemaRefusesCardData checks the schema's last line of defence: a
// charge whose last four digits are more than four, or whose brand or
// amount is not one the service makes, is refused, and nothing is written.
func TestSchemaRefusesCardData(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
	for name, change := range map[string]func(*bookshop.Charge){
		"a whole number as last4":  func(c *bookshop.Charge) { c.Last4 = "4242424242424242" },
		"letters as last4":         func(c *bookshop.Charge) { c.Last4 = "42a2" },
		"an unknown brand":         func(c *bookshop.Charge) { c.Brand = "4242 4242 4242 4242" },
		"no amount":                func(c *bookshop.Charge) { c.Amount.Units = 0 },
		"a currency in lower case": func(c *bookshop.Charge) { c.Amount.Currency = "eur" },
		"a decline without reason": func(c *bookshop.Charge) { c.State = "declined" },
		"an unknown state":         func(c *bookshop.Charge) { c.State = "pending" },
		"a long id":                func(c *bookshop.Charge) { c.ID += "x" },
	} {
		c := charge("k-"+strings.ReplaceAll(name, " ", "-"), 'q')
		change(&c)
		if _, _, err := db.AddCharge(ctx, c); err == nil {
			t.Errorf("AddCharge with %s = nil, want the schema to refuse it", name)
		}
		if got, _, _ := db.ChargeByKey(ctx, c.Key); got != nil {
			t.Errorf("AddCharge with %s wrote %+v", name, got)
		}
	}
}

// TestOneChargePerKeyAcrossConnections charges one key from two databases
// open on the same file at once, as two processes would: one charge is
// recorded, and the other call gets it as prior.
func TestOneChargePerKeyAcrossConnections(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "payments.db")
	dbs := []*sqlite.DB{open(t, path), open(t, path)}
	const tries = 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		added  int
		priors int
		failed error
	)
	for i := range tries {
		wg.Go(func() {
			c := charge("one-key", byte('a'+i))
			prior, _, err := dbs[i%2].AddCharge(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed = err
			case prior == nil:
				added++
			default:
				priors++
			}
		})
	}
	wg.Wait()
	if failed != nil || added != 1 || priors != tries-1 {
		t.Errorf("%d AddCharge of one key from two connections: %d added, %d found it, error %v; want 1 added", tries, added, priors, failed)
	}
}

// TestReopen checks that a database file keeps its charges, its refunds
// and its cancelled keys when it is opened again.
func TestReopen(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "payments.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	a := charge("key-a", 'a')
	if _, _, err := db.AddCharge(ctx, a); err != nil {
		t.Fatal(err)
	}
	refunded, err := db.Refund(ctx, a.ID, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CancelKey(ctx, "lost", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, path)
	if got, _, err := again.ChargeByKey(ctx, "key-a"); err != nil || got == nil || *got != *refunded {
		t.Errorf("after reopening, ChargeByKey = %v, %v; want %+v", got, err, *refunded)
	}
	if _, cancelled, err := again.ChargeByKey(ctx, "lost"); !cancelled || err != nil {
		t.Errorf("after reopening, the cancelled key is not: %v, %v", cancelled, err)
	}
}
