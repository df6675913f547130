// Package storetest is the contract of payments.Store as tests: one suite
// that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. open returns the implementation's error when it cannot
// open the Store.
type NewDatabase func(tb testing.TB) (open func() (payments.Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"AddAndRead", testAddAndRead},
		{"Refund", testRefund},
		{"CancelKey", testCancelKey},
		{"SchemaRefusesCardData", testSchemaRefusesCardData},
		{"AnotherHandle", testAnotherHandle},
		{"OneChargePerKey", testOneChargePerKey},
		{"ChargeOnceAcrossReplicas", testChargeOnceAcrossReplicas},
		{"RefundOnceAcrossReplicas", testRefundOnceAcrossReplicas},
		{"ChargedOrCancelled", testChargedOrCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

var t0 = time.Date(2030, 6, 15, 12, 0, 0, 123_000_000, time.UTC)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a Store on a new database, and returns it and how to open
// another handle on the same database.
func open(tb testing.TB, newDB NewDatabase) (payments.Store, func() payments.Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener()
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() payments.Store {
		tb.Helper()
		again, err := opener()
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

// charge returns a charge of key, approved at t0, whose id ends in c.
func charge(key string, c byte) bookshop.Charge {
	return bookshop.Charge{
		ID: "ch_" + strings.Repeat(string(c), 22), Key: key, Amount: bookshop.Money{Units: 1299, Currency: "EUR"},
		Brand: "visa", Last4: "4242", State: "approved", Created: t0,
	}
}

// testAddAndRead records an approved and a declined charge, reads them
// back by id and by key, and records nothing for a key used again.
func testAddAndRead(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
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

// testRefund checks that Refund refunds an approved charge once, leaves a
// declined one as it is, and answers nil for an unknown one.
func testRefund(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
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

// testCancelKey checks that a key cancelled cannot charge, and that a key
// that charged is not cancelled.
func testCancelKey(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
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

// testSchemaRefusesCardData checks the schema's last line of defence: a
// charge whose last four digits are more than four, or whose brand or
// amount is not one the service makes, is refused, and nothing is written.
func testSchemaRefusesCardData(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	for name, change := range map[string]func(*bookshop.Charge){
		"a whole number as last4":  func(c *bookshop.Charge) { c.Last4 = "4242424242424242" },
		"letters as last4":         func(c *bookshop.Charge) { c.Last4 = "42a2" },
		"a newline after last4":    func(c *bookshop.Charge) { c.Last4 = "424\n" },
		"an unknown brand":         func(c *bookshop.Charge) { c.Brand = "4242 4242 4242 4242" },
		"no amount":                func(c *bookshop.Charge) { c.Amount.Units = 0 },
		"a currency in lower case": func(c *bookshop.Charge) { c.Amount.Currency = "eur" },
		"a decline without reason": func(c *bookshop.Charge) { c.State = "declined" },
		"an unknown state":         func(c *bookshop.Charge) { c.State = "pending" },
		"a long id":                func(c *bookshop.Charge) { c.ID += "x" },
		"an id without its prefix": func(c *bookshop.Charge) { c.ID = "chx" + c.ID[3:] },
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

// testAnotherHandle opens a second handle on a database the first wrote
// to: its charges, refunds and cancelled keys are there.
func testAnotherHandle(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
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
	other := again()
	if got, _, err := other.ChargeByKey(ctx, "key-a"); err != nil || got == nil || *got != *refunded {
		t.Errorf("through another handle, ChargeByKey = %v, %v; want %+v", got, err, *refunded)
	}
	if _, cancelled, err := other.ChargeByKey(ctx, "lost"); !cancelled || err != nil {
		t.Errorf("through another handle, the cancelled key is not: %v, %v", cancelled, err)
	}
}

// testOneChargePerKey records charges of one key from two handles at
// once, as two replicas would: one charge is recorded, and every other
// call gets it as prior.
func testOneChargePerKey(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	first, again := open(t, newDB)
	dbs := []payments.Store{first, again()}
	const tries = 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		added  []string
		priors int
	)
	for i := range tries {
		wg.Go(func() {
			c := charge("one-key", byte('a'+i))
			prior, _, err := dbs[i%2].AddCharge(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("AddCharge #%d: %v", i, err)
			case prior == nil:
				added = append(added, c.ID)
			default:
				priors++
			}
		})
	}
	wg.Wait()
	if len(added) != 1 || priors != tries-1 {
		t.Fatalf("%d AddCharge of one key from two handles: %d added, %d found it; want 1 added", tries, len(added), priors)
	}
	if got, _, err := first.ChargeByKey(ctx, "one-key"); err != nil || got == nil || got.ID != added[0] {
		t.Errorf("ChargeByKey = %v, %v; want %s, the one added", got, err, added[0])
	}
}

// services returns a Payments service on each of n handles of one new
// database ("replicas"), whose clock stands at t0.
func services(tb testing.TB, newDB NewDatabase, n int) []*payments.Service {
	tb.Helper()
	db, again := open(tb, newDB)
	opts := payments.Options{Now: func() time.Time { return t0 }}
	svcs := []*payments.Service{payments.NewService(db, opts)}
	for len(svcs) < n {
		svcs = append(svcs, payments.NewService(again(), opts))
	}
	return svcs
}

// card returns the approved test card, good until 2031.
func card() bookshop.Card {
	return bookshop.Card{Number: paymentsclient.TestCardApproved, ExpMonth: 12, ExpYear: 2031, CVC: "321"}
}

// testChargeOnceAcrossReplicas charges one key many times at once on two
// replicas, as a checkout retrying through a balancer would: every call
// answers with the same charge, and one is recorded.
func testChargeOnceAcrossReplicas(t *testing.T, newDB NewDatabase) {
	svcs := services(t, newDB, 2)
	amount := bookshop.Money{Units: 4200, Currency: "EUR"}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]bool{}
	)
	for i := range 16 {
		wg.Go(func() {
			c, err := svcs[i%2].Charge(testContext(t), "one-checkout", amount, card())
			if err != nil {
				t.Errorf("Charge #%d: %v", i, err)
				return
			}
			mu.Lock()
			ids[c.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("Charge of one key on two replicas made charges %v, want one", ids)
	}
	for i, svc := range svcs {
		c, err := svc.ChargeByKey(testContext(t), "one-checkout")
		if err != nil || !ids[c.ID] || c.Amount != amount {
			t.Errorf("replica %d: ChargeByKey = %+v, %v; want the one charge", i, c, err)
		}
	}
}

// testRefundOnceAcrossReplicas refunds one charge many times at once on
// two replicas, by id and by key: every call answers it refunded, at one
// time, the first refund's.
func testRefundOnceAcrossReplicas(t *testing.T, newDB NewDatabase) {
	svcs := services(t, newDB, 2)
	c, err := svcs[0].Charge(testContext(t), "refund-me", bookshop.Money{Units: 999, Currency: "EUR"}, card())
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		times = map[time.Time]int{}
	)
	for i := range 16 {
		wg.Go(func() {
			var (
				got bookshop.Charge
				err error
			)
			if i%4 < 2 {
				got, err = svcs[i%2].Refund(testContext(t), c.ID)
			} else {
				got, err = svcs[i%2].RefundKey(testContext(t), "refund-me")
			}
			if err != nil || got.ID != c.ID || got.State != paymentsclient.StateRefunded {
				t.Errorf("refund #%d = %+v, %v; want charge %s refunded", i, got, err, c.ID)
				return
			}
			mu.Lock()
			times[got.Refunded]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(times) != 1 {
		t.Errorf("refunds answered with refund times %v, want one", times)
	}
}

// testChargedOrCancelled records a charge with each of many keys on one
// handle while another cancels the same key at once, as a checkout's
// charge and its compensation may meet on two replicas: each key is
// charged or cancelled, never both, and the two calls agree which.
func testChargedOrCancelled(t *testing.T, newDB NewDatabase) {
	first, again := open(t, newDB)
	second := again()
	var (
		charged, cancelled atomic.Int32
		wg                 sync.WaitGroup
	)
	for i := range 40 {
		add, cancel := first, second
		if i%2 == 1 {
			add, cancel = second, first
		}
		wg.Go(func() {
			ctx := testContext(t)
			key := fmt.Sprintf("race-%d", i)
			c := charge(key, 'a')
			c.ID = fmt.Sprintf("ch_%022d", i)
			var (
				pair              sync.WaitGroup
				prior, found      *bookshop.Charge
				refused           bool
				addErr, cancelErr error
			)
			pair.Go(func() { prior, refused, addErr = add.AddCharge(ctx, c) })
			pair.Go(func() { found, cancelErr = cancel.CancelKey(ctx, key, t0) })
			pair.Wait()
			switch {
			case addErr != nil || cancelErr != nil:
				t.Errorf("%s: AddCharge = %v, CancelKey = %v", key, addErr, cancelErr)
				return
			case prior != nil:
				t.Errorf("%s: AddCharge found a prior charge %+v, want none", key, prior)
			case !refused && found != nil && found.ID == c.ID:
				charged.Add(1) // charged first: the cancel found the charge
			case refused && found == nil:
				cancelled.Add(1) // cancelled first: the charge was refused
			default:
				t.Errorf("%s: AddCharge refused %v, CancelKey found %+v: they disagree", key, refused, found)
			}
			got, isCancelled, err := first.ChargeByKey(ctx, key)
			if err != nil || (got != nil) == isCancelled || (got != nil) == refused {
				t.Errorf("%s: ChargeByKey = %+v, cancelled %v, %v; want the one the calls said", key, got, isCancelled, err)
			}
		})
	}
	wg.Wait()
	t.Logf("%d keys charged first, %d cancelled first", charged.Load(), cancelled.Load())
}
