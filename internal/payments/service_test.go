package payments_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// TestCharge checks what the processor answers a new key, for each kind
// of card: every valid card is approved but the declined and unavailable
// test cards; a bad card is refused with every problem named.
func TestCharge(t *testing.T) {
	expired := card(paymentsclient.TestCardApproved)
	expired.ExpMonth, expired.ExpYear = 1, 2020
	for _, tt := range []struct {
		name        string
		card        bookshop.Card
		brand, last string
		code        bookshop.Code // "" for approved
		message     string
	}{
		{"the approved test card", card(paymentsclient.TestCardApproved), paymentsclient.BrandVisa, "4242", "", ""},
		{"another Visa", card("4000 0566 5566 5556"), paymentsclient.BrandVisa, "5556", "", ""},
		{"a Mastercard", card("5555 5555 5555 4444"), paymentsclient.BrandMastercard, "4444", "", ""},
		{"an American Express", card("3782 822463 10005"), paymentsclient.BrandAmex, "0005", "", ""},
		{"the declined test card", card(paymentsclient.TestCardDeclined), "", "", bookshop.Conflict, "card declined: insufficient funds"},
		{"the unavailable test card", card(paymentsclient.TestCardUnavailable), "", "", bookshop.Unavailable,
			"the card processor cannot be reached: nothing was charged; try again shortly"},
		{"a typo", card("4242 4242 4242 4243"), "", "", bookshop.Invalid, "card number: the number is not valid: check the digits"},
		{"an expired card", expired, "", "", bookshop.Invalid, "expiry: the card has expired: check the month and year"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			m := telemetry.NewMetrics()
			svc := newService(t, payments.Options{Metrics: m})
			before := time.Now().Truncate(time.Millisecond)
			c, err := svc.Charge(ctx, "key-1", eur(1299), tt.card)
			if tt.code != "" {
				if bookshop.ErrorCode(err) != tt.code || bookshop.ErrorMessage(err) != tt.message {
					t.Fatalf("Charge = %+v, %v; want %s %q", c, err, tt.code, tt.message)
				}
				return
			}
			if err != nil {
				t.Fatalf("Charge = %v", err)
			}
			want := bookshop.Charge{ID: c.ID, Key: "key-1", Amount: eur(1299), Brand: tt.brand, Last4: tt.last, State: paymentsclient.StateApproved, Created: c.Created}
			if c != want {
				t.Errorf("Charge = %+v, want %+v", c, want)
			}
			if err := payments.CheckChargeID(c.ID); err != nil {
				t.Errorf("Charge's id %q: %v", c.ID, err)
			}
			if c.Created.Before(before) || c.Created.After(time.Now()) || c.Created.Location() != time.UTC {
				t.Errorf("Charge's time %v, want now in UTC", c.Created)
			}
			if got, err := svc.ChargeByID(ctx, c.ID); err != nil || got != c {
				t.Errorf("ChargeByID = %+v, %v; want %+v", got, err, c)
			}
			if got := counter(t, m, `bookshop_payments_charges_total{result="approved"}`); got != 1 {
				t.Errorf("approved charges counted: %v, want 1", got)
			}
		})
	}
}

// TestChargeSameKeyTwice checks that a retry with the key of a charge
// made returns that charge and takes nothing more.
func TestChargeSameKeyTwice(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m})
	first, err := svc.Charge(ctx, "order-7", eur(2500), card(paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatal(err)
	}
	// The same card typed without spaces, with another name and another
	// CVC: the service keeps neither, so it is the same card.
	again := card("4242424242424242")
	again.Name, again.CVC = "", "999"
	second, err := svc.Charge(ctx, "order-7", eur(2500), again)
	if err != nil || second != first {
		t.Errorf("Charge again = %+v, %v; want the first %+v", second, err, first)
	}
	for result, want := range map[string]float64{"approved": 1, "retry": 1, "declined": 0, "conflict": 0, "unavailable": 0} {
		if got := counter(t, m, `bookshop_payments_charges_total{result="`+result+`"}`); got != want {
			t.Errorf("charges counted %s: %v, want %v", result, got, want)
		}
	}
}

// TestChargeSameKeyOtherCharge checks that a key used for one charge is
// refused for another (another amount, currency or card), charges nothing,
// and still answers its own retry.
func TestChargeSameKeyOtherCharge(t *testing.T) {
	ctx := testContext(t)
	svc := newService(t, payments.Options{})
	first, err := svc.Charge(ctx, "k", eur(2500), card(paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatal(err)
	}
	const refusal = "idempotency key: used for a charge of 25.00 EUR on a visa card ending 4242: use a new key for each payment"
	for _, tt := range []struct {
		name   string
		amount bookshop.Money
		card   bookshop.Card
	}{
		{"another amount", eur(2501), card(paymentsclient.TestCardApproved)},
		{"another currency", bookshop.Money{Units: 2500, Currency: "USD"}, card(paymentsclient.TestCardApproved)},
		{"another brand", eur(2500), card("5555 5555 5555 4444")},
		{"another Visa", eur(2500), card("4000 0566 5566 5556")},
		{"the declined card", eur(2500), card(paymentsclient.TestCardDeclined)},
		{"the unavailable card", eur(2500), card(paymentsclient.TestCardUnavailable)},
	} {
		c, err := svc.Charge(ctx, "k", tt.amount, tt.card)
		if bookshop.ErrorCode(err) != bookshop.Conflict || bookshop.ErrorMessage(err) != refusal {
			t.Errorf("%s: Charge = %+v, %v; want Conflict %q", tt.name, c, err, refusal)
		}
	}
	if c, err := svc.Charge(ctx, "k", eur(2500), card(paymentsclient.TestCardApproved)); err != nil || c != first {
		t.Errorf("the retry after the refusals = %+v, %v; want %+v", c, err, first)
	}
}

// TestChargeDeclinedIsRecorded checks that a decline is kept with its
// key: a retry is declined again, and the key cannot be used for another
// card; and that it can be looked up, and refunded (as it is: nothing was
// taken).
func TestChargeDeclinedIsRecorded(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m})
	for i := range 2 {
		_, err := svc.Charge(ctx, "pay-1", eur(999), card(paymentsclient.TestCardDeclined))
		if bookshop.ErrorCode(err) != bookshop.Conflict || bookshop.ErrorMessage(err) != "card declined: insufficient funds" {
			t.Errorf("Charge %d with the declined card = %v, want Conflict: card declined: insufficient funds", i+1, err)
		}
	}
	if got := counter(t, m, `bookshop_payments_charges_total{result="declined"}`); got != 1 {
		t.Errorf("declines counted: %v, want 1 (the second is a retry)", got)
	}
	_, err := svc.Charge(ctx, "pay-1", eur(999), card(paymentsclient.TestCardApproved))
	if bookshop.ErrorCode(err) != bookshop.Conflict || !strings.Contains(bookshop.ErrorMessage(err), "on a visa card ending 9995") {
		t.Errorf("Charge with the key of a decline and another card = %v, want Conflict: the key was used", err)
	}
	c, err := svc.ChargeByKey(ctx, "pay-1")
	want := bookshop.Charge{ID: c.ID, Key: "pay-1", Amount: eur(999), Brand: paymentsclient.BrandVisa, Last4: "9995",
		State: paymentsclient.StateDeclined, DeclineReason: payments.DeclineInsufficientFunds, Created: c.Created}
	if err != nil || c != want {
		t.Errorf("ChargeByKey = %+v, %v; want %+v", c, err, want)
	}
	for name, refund := range map[string]func() (bookshop.Charge, error){
		"Refund":    func() (bookshop.Charge, error) { return svc.Refund(ctx, c.ID) },
		"RefundKey": func() (bookshop.Charge, error) { return svc.RefundKey(ctx, "pay-1") },
	} {
		if got, err := refund(); err != nil || got != want {
			t.Errorf("%s of a decline = %+v, %v; want it as it was, %+v", name, got, err, want)
		}
	}
	if got := counter(t, m, "bookshop_payments_refunds_total"); got != 0 {
		t.Errorf("refunds counted: %v, want 0", got)
	}
}

// TestChargeUnavailableRecordsNothing checks that a charge the processor
// could not take leaves no trace: its key is free, and a retry (with a
// card that works) is charged.
func TestChargeUnavailableRecordsNothing(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m})
	for range 3 {
		if _, err := svc.Charge(ctx, "pay-2", eur(999), card(paymentsclient.TestCardUnavailable)); bookshop.ErrorCode(err) != bookshop.Unavailable {
			t.Errorf("Charge with the unavailable card = %v, want Unavailable", err)
		}
	}
	if c, err := svc.ChargeByKey(ctx, "pay-2"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("ChargeByKey after Unavailable = %+v, %v; want NotFound", c, err)
	}
	if c, err := svc.Charge(ctx, "pay-2", eur(999), card(paymentsclient.TestCardApproved)); err != nil || c.State != paymentsclient.StateApproved {
		t.Errorf("Charge with the key after Unavailable = %+v, %v; want approved", c, err)
	}
	if got := counter(t, m, `bookshop_payments_charges_total{result="unavailable"}`); got != 3 {
		t.Errorf("unavailable counted: %v, want 3", got)
	}
}

// TestChargeSameKeyAtOnce sends the same charge 10 times at once, to a
// slow processor so that all 10 are in it together: one charge is made,
// and all 10 get it.
func TestChargeSameKeyAtOnce(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m, Latency: 50 * time.Millisecond})
	const n = 10
	var (
		wg      sync.WaitGroup
		charges [n]bookshop.Charge
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			charges[i], errs[i] = svc.Charge(ctx, "double-click", eur(4200), card(paymentsclient.TestCardApproved))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || charges[i] != charges[0] {
			t.Errorf("Charge %d = %+v, %v; want %+v as the first", i, charges[i], errs[i], charges[0])
		}
	}
	if got := counter(t, m, `bookshop_payments_charges_total{result="approved"}`); got != 1 {
		t.Errorf("approved charges: %v, want 1", got)
	}
	if got := counter(t, m, `bookshop_payments_charges_total{result="retry"}`); got != n-1 {
		t.Errorf("retries: %v, want %d", got, n-1)
	}
}

// TestChargeManyKeysAtOnce charges 20 keys, 5 times each, all at once:
// each key makes one charge, its own.
func TestChargeManyKeysAtOnce(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m, Latency: 10 * time.Millisecond})
	const keys, tries = 20, 5
	var (
		mu  sync.Mutex
		ids = map[string]string{} // key → charge id
		wg  sync.WaitGroup
	)
	for k := range keys {
		for range tries {
			wg.Go(func() {
				key := fmt.Sprintf("key-%d", k)
				c, err := svc.Charge(ctx, key, eur(int64(100+k)), card(paymentsclient.TestCardApproved))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("Charge(%s) = %v", key, err)
				case ids[key] != "" && ids[key] != c.ID:
					t.Errorf("Charge(%s) = %s and %s: two charges for one key", key, ids[key], c.ID)
				case c.Amount != eur(int64(100+k)):
					t.Errorf("Charge(%s) = %+v, another key's charge", key, c)
				}
				ids[key] = c.ID
			})
		}
	}
	wg.Wait()
	if got := counter(t, m, `bookshop_payments_charges_total{result="approved"}`); got != keys {
		t.Errorf("approved charges: %v, want %d", got, keys)
	}
}

// TestRefund checks that a refund gives the charge back once, and that
// refunding again, by id or by key, returns the same refunded charge.
func TestRefund(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m})
	c, err := svc.Charge(ctx, "r-1", eur(1500), card("5555 5555 5555 4444"))
	if err != nil {
		t.Fatal(err)
	}
	refunded, err := svc.Refund(ctx, c.ID)
	if err != nil || refunded.State != paymentsclient.StateRefunded || refunded.Refunded.IsZero() || refunded.Refunded.Before(c.Created) {
		t.Fatalf("Refund = %+v, %v; want refunded, with its time", refunded, err)
	}
	want := c
	want.State, want.Refunded = paymentsclient.StateRefunded, refunded.Refunded
	if refunded != want {
		t.Errorf("Refund = %+v, want %+v", refunded, want)
	}
	for name, again := range map[string]func() (bookshop.Charge, error){
		"Refund again":         func() (bookshop.Charge, error) { return svc.Refund(ctx, c.ID) },
		"RefundKey":            func() (bookshop.Charge, error) { return svc.RefundKey(ctx, "r-1") },
		"ChargeByID":           func() (bookshop.Charge, error) { return svc.ChargeByID(ctx, c.ID) },
		"ChargeByKey":          func() (bookshop.Charge, error) { return svc.ChargeByKey(ctx, "r-1") },
		"Charge with its key":  func() (bookshop.Charge, error) { return svc.Charge(ctx, "r-1", eur(1500), card("5555 5555 5555 4444")) },
		"Refund once more too": func() (bookshop.Charge, error) { return svc.Refund(ctx, c.ID) },
	} {
		if got, err := again(); err != nil || got != want {
			t.Errorf("%s = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if got := counter(t, m, "bookshop_payments_refunds_total"); got != 1 {
		t.Errorf("refunds counted: %v, want 1", got)
	}
}

// TestRefundErrors checks the refunds and lookups of charges that do not
// exist, and of malformed names.
func TestRefundErrors(t *testing.T) {
	ctx := testContext(t)
	svc := newService(t, payments.Options{})
	unknown := "ch_" + strings.Repeat("Z", 22)
	for _, tt := range []struct {
		name string
		call func() (bookshop.Charge, error)
		code bookshop.Code
		msg  string
	}{
		{"Refund of an unknown id", func() (bookshop.Charge, error) { return svc.Refund(ctx, unknown) }, bookshop.NotFound, "no charge " + unknown},
		{"ChargeByID of an unknown id", func() (bookshop.Charge, error) { return svc.ChargeByID(ctx, unknown) }, bookshop.NotFound, "no charge " + unknown},
		{"ChargeByKey of an unused key", func() (bookshop.Charge, error) { return svc.ChargeByKey(ctx, "unused") }, bookshop.NotFound, "no charge was made with this idempotency key"},
		{"Refund of a malformed id", func() (bookshop.Charge, error) { return svc.Refund(ctx, "ch_1") }, bookshop.Invalid, `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
		{"RefundKey of a malformed key", func() (bookshop.Charge, error) { return svc.RefundKey(ctx, "a b") }, bookshop.Invalid, `idempotency key "a b": only letters A to Z, digits, '-' and '_' are allowed`},
		{"ChargeByKey of no key", func() (bookshop.Charge, error) { return svc.ChargeByKey(ctx, "") }, bookshop.Invalid, `idempotency key "": want 1 to 64 characters`},
	} {
		c, err := tt.call()
		if bookshop.ErrorCode(err) != tt.code || bookshop.ErrorMessage(err) != tt.msg {
			t.Errorf("%s = %+v, %v; want %s %q", tt.name, c, err, tt.code, tt.msg)
		}
	}
}

// TestRefundKeyCancels checks that a refund by a key that made no charge
// cancels the key: it answers NotFound, now and again, and a charge with
// the key is refused.
func TestRefundKeyCancels(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m})
	const notFound = "no charge was made with this idempotency key: the key is cancelled, and will charge nothing"
	for i := range 2 {
		if c, err := svc.RefundKey(ctx, "lost"); bookshop.ErrorCode(err) != bookshop.NotFound || bookshop.ErrorMessage(err) != notFound {
			t.Errorf("RefundKey %d of an unused key = %+v, %v; want NotFound %q", i+1, c, err, notFound)
		}
	}
	const refused = "idempotency key: cancelled by a refund before any charge: nothing was charged; use a new key"
	if c, err := svc.Charge(ctx, "lost", eur(100), card(paymentsclient.TestCardApproved)); bookshop.ErrorCode(err) != bookshop.Conflict || bookshop.ErrorMessage(err) != refused {
		t.Errorf("Charge with a cancelled key = %+v, %v; want Conflict %q", c, err, refused)
	}
	if c, err := svc.ChargeByKey(ctx, "lost"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("ChargeByKey of a cancelled key = %+v, %v; want NotFound", c, err)
	}
	if got := counter(t, m, "bookshop_payments_keys_cancelled_total"); got != 1 {
		t.Errorf("keys cancelled: %v, want 1", got)
	}
	if got := counter(t, m, `bookshop_payments_charges_total{result="approved"}`); got != 0 {
		t.Errorf("approved charges: %v, want 0", got)
	}
}

// TestRefundKeyWhileCharging checks the case RefundKey is for: a charge
// is with the (slow) processor when its caller, having lost track of it,
// refunds its key. Nothing is charged: the charge in flight is refused.
func TestRefundKeyWhileCharging(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	svc := newService(t, payments.Options{Metrics: m, Latency: time.Second})
	charged := make(chan error, 1)
	go func() {
		_, err := svc.Charge(ctx, "in-flight", eur(100), card(paymentsclient.TestCardApproved))
		charged <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := svc.RefundKey(ctx, "in-flight"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("RefundKey while the charge is in flight = %v, want NotFound", err)
	}
	if err := <-charged; bookshop.ErrorCode(err) != bookshop.Conflict || !strings.Contains(bookshop.ErrorMessage(err), "cancelled") {
		t.Errorf("the charge in flight = %v, want Conflict: the key is cancelled", err)
	}
	if c, err := svc.ChargeByKey(ctx, "in-flight"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("ChargeByKey = %+v, %v; want NotFound: nothing charged", c, err)
	}
	if got := counter(t, m, `bookshop_payments_charges_total{result="approved"}`); got != 0 {
		t.Errorf("approved charges: %v, want 0", got)
	}
}

// TestRefundKeyOfACharge checks that a refund by key refunds the charge
// the key made.
func TestRefundKeyOfACharge(t *testing.T) {
	ctx := testContext(t)
	svc := newService(t, payments.Options{})
	c, err := svc.Charge(ctx, "made", eur(100), card(paymentsclient.TestCardApproved))
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.RefundKey(ctx, "made")
	if err != nil || got.ID != c.ID || got.State != paymentsclient.StateRefunded {
		t.Errorf("RefundKey = %+v, %v; want charge %s refunded", got, err, c.ID)
	}
}

// TestLatency checks the slow processor: a charge takes the latency, a
// retry of a charge made does not, and a caller that gives up first gets
// its context's error and is charged nothing.
func TestLatency(t *testing.T) {
	ctx := testContext(t)
	const latency = 400 * time.Millisecond
	svc := newService(t, payments.Options{Latency: latency})
	start := time.Now()
	c, err := svc.Charge(ctx, "slow", eur(100), card(paymentsclient.TestCardApproved))
	if took := time.Since(start); err != nil || took < latency {
		t.Errorf("Charge = %v after %v, want a charge after %v", err, took, latency)
	}
	start = time.Now()
	if again, err := svc.Charge(ctx, "slow", eur(100), card(paymentsclient.TestCardApproved)); err != nil || again != c || time.Since(start) >= latency {
		t.Errorf("the retry = %+v, %v after %v; want the charge at once", again, err, time.Since(start))
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = svc.Charge(short, "gave-up", eur(100), card(paymentsclient.TestCardApproved))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) >= latency {
		t.Errorf("Charge with a deadline shorter than the latency = %v after %v, want DeadlineExceeded at the deadline", err, time.Since(start))
	}
	if c, err := svc.ChargeByKey(ctx, "gave-up"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("ChargeByKey after the caller gave up = %+v, %v; want NotFound", c, err)
	}
}

// TestChargeRetryAfterExpiry checks that the retry of a charge is answered
// even when the card has expired since (the first call was on the last day
// of its month), while a new charge with the card is refused.
func TestChargeRetryAfterExpiry(t *testing.T) {
	ctx := testContext(t)
	clk := &clock{now: time.Date(2031, 3, 31, 23, 59, 0, 0, time.UTC)}
	svc := newService(t, payments.Options{Now: clk.Now})
	cd := bookshop.Card{Number: paymentsclient.TestCardApproved, ExpMonth: 3, ExpYear: 2031, CVC: "123"}
	c, err := svc.Charge(ctx, "month-end", eur(100), cd)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created.Equal(clk.Now()) {
		t.Errorf("Charge's time = %v, want the clock's %v", c.Created, clk.Now())
	}
	clk.set(time.Date(2031, 4, 1, 0, 1, 0, 0, time.UTC))
	if again, err := svc.Charge(ctx, "month-end", eur(100), cd); err != nil || again != c {
		t.Errorf("the retry after the card expired = %+v, %v; want %+v", again, err, c)
	}
	const expired = "expiry: the card has expired: check the month and year"
	if _, err := svc.Charge(ctx, "new", eur(100), cd); bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.ErrorMessage(err) != expired {
		t.Errorf("a new charge with the expired card = %v, want Invalid %q", err, expired)
	}
}

// TestChargeNamesEveryProblem checks that a bad card is refused with all
// its problems in one message, its expiry's included, that
// paymentsclient.CardErrors reads by field; and that a bad amount or key
// is refused before the card is looked at.
func TestChargeNamesEveryProblem(t *testing.T) {
	ctx := testContext(t)
	svc := newService(t, payments.Options{Now: func() time.Time { return time.Date(2030, 6, 15, 0, 0, 0, 0, time.UTC) }})
	bad := bookshop.Card{Number: "4242 4242 4242 4241", ExpMonth: 5, ExpYear: 2030, CVC: "12", Name: "Ada"}
	_, err := svc.Charge(ctx, "k", eur(100), bad)
	const want = "card number: the number is not valid: check the digits; expiry: the card has expired: check the month and year; cvc: want 3 digits (4 for American Express)"
	if bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.ErrorMessage(err) != want {
		t.Fatalf("Charge = %v, want Invalid %q", err, want)
	}
	fields := paymentsclient.CardErrors(err)
	wantFields := map[string]string{
		paymentsclient.FieldNumber: "the number is not valid: check the digits",
		paymentsclient.FieldExpiry: "the card has expired: check the month and year",
		paymentsclient.FieldCVC:    "want 3 digits (4 for American Express)",
	}
	if fmt.Sprint(fields) != fmt.Sprint(wantFields) {
		t.Errorf("CardErrors = %v, want %v", fields, wantFields)
	}
	for _, tt := range []struct {
		key    string
		amount bookshop.Money
		want   string
	}{
		{"", eur(100), `idempotency key "": want 1 to 64 characters`},
		{"k", eur(0), "amount: want more than zero, not 0.00 EUR"},
		{"k", bookshop.Money{}, "amount: required"},
	} {
		_, err := svc.Charge(ctx, tt.key, tt.amount, bad)
		if bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.ErrorMessage(err) != tt.want {
			t.Errorf("Charge(%q, %v, a bad card) = %v, want Invalid %q", tt.key, tt.amount, err, tt.want)
		}
		if paymentsclient.CardErrors(err) != nil {
			t.Errorf("CardErrors(%v) = %v, want nil: not the card", err, paymentsclient.CardErrors(err))
		}
	}
}

// TestChargeIDs checks that the ids of charges are each new and of the
// promised form, and come from the random source.
func TestChargeIDs(t *testing.T) {
	ctx := testContext(t)
	svc := newService(t, payments.Options{})
	seen := map[string]bool{}
	for i := range 50 {
		c, err := svc.Charge(ctx, fmt.Sprintf("id-%d", i), eur(100), card(paymentsclient.TestCardApproved))
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] || payments.CheckChargeID(c.ID) != nil {
			t.Errorf("charge id %q: seen before, or malformed", c.ID)
		}
		seen[c.ID] = true
	}
	broken := newService(t, payments.Options{Rand: strings.NewReader("short")})
	if _, err := broken.Charge(ctx, "k", eur(100), card(paymentsclient.TestCardApproved)); bookshop.ErrorCode(err) != bookshop.Internal {
		t.Errorf("Charge with a failing random source = %v, want Internal", err)
	}
}
