package checkout_test

import (
	"context"
	"sync"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// syncWatch is a saga log that knows which of its writes a power cut
// could still take back: those of BeginUnsynced and SaveUnsynced since
// the last sync, a durable write's or Sync's (one write-ahead log: a
// sync covers every write before it).
type syncWatch struct {
	checkout.Store
	mu       sync.Mutex
	unsynced int // writes a power cut could take back now
	deferred int // unsynced writes in all
}

func (w *syncWatch) wrote(synced bool, err error) error {
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if synced {
		w.unsynced = 0
	} else {
		w.unsynced++
		w.deferred++
	}
	return nil
}

// atRisk returns how many writes a power cut could take back now.
func (w *syncWatch) atRisk() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unsynced
}

func (w *syncWatch) Begin(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error {
	return w.wrote(true, w.Store.Begin(ctx, r, lease, since))
}

func (w *syncWatch) BeginUnsynced(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error {
	return w.wrote(false, w.Store.BeginUnsynced(ctx, r, lease, since))
}

func (w *syncWatch) Save(ctx context.Context, r *saga.Record, owner string) error {
	return w.wrote(true, w.Store.Save(ctx, r, owner))
}

func (w *syncWatch) SaveUnsynced(ctx context.Context, r *saga.Record, owner string) error {
	return w.wrote(false, w.Store.SaveUnsynced(ctx, r, owner))
}

func (w *syncWatch) Sync(ctx context.Context) error { return w.wrote(true, w.Store.Sync(ctx)) }

// chargeWatch is Payments that notes each charge asked for while the
// saga log held writes a power cut could take back.
type chargeWatch struct {
	checkout.Payments
	log     *syncWatch
	mu      sync.Mutex
	charges int
	atRisk  []int // the writes at risk at each charge that had some
}

func (p *chargeWatch) Charge(ctx context.Context, key string, amount bookshop.Money, card bookshop.Card) (bookshop.Charge, error) {
	p.mu.Lock()
	p.charges++
	if n := p.log.atRisk(); n > 0 {
		p.atRisk = append(p.atRisk, n)
	}
	p.mu.Unlock()
	return p.Payments.Charge(ctx, key, amount, card)
}

// TestSyncedBeforeChargeAndAnswer places orders, with the promotion's
// claim and without, and a declined one, and checks what a power cut
// could take back of the saga log: nothing when the card is charged
// (the record, and the claim's answer, are synced first), nothing when
// the shopper is answered; and that the steps between were written
// unsynced, so that the test watches the path it means to.
func TestSyncedBeforeChargeAndAnswer(t *testing.T) {
	ctx := testContext(t)
	s := startShop(t, shopOptions{})
	var (
		log  *syncWatch
		pays *chargeWatch
	)
	c := startCheckoutWith(t, s, checkout.Options{}, func(d *checkout.Deps) {
		log = &syncWatch{Store: d.Store}
		pays = &chargeWatch{Payments: d.Payments, log: log}
		d.Store, d.Payments = log, pays
	})

	place := func(customer int32, key, number string, pairs ...int) error {
		t.Helper()
		s.fill(t, cartOf(customer), pairs...)
		q, err := c.client.Quote(ctx, customer, cartOf(customer))
		if err != nil {
			t.Fatalf("Quote: %v", err)
		}
		_, err = c.svc.Place(ctx, order(customer, key, q.Total, number))
		if n := log.atRisk(); n > 0 {
			t.Errorf("checkout %s answered (%v) with %d writes of its saga log a power cut could take back", key, err, n)
		}
		return err
	}
	if err := place(1, "k-claim", paymentsclient.TestCardApproved, 1, 2, 3, 1); err != nil { // three copies: the promotion claimed
		t.Fatalf("Place with the promotion: %v", err)
	}
	if err := place(2, "k-plain", paymentsclient.TestCardApproved, 2, 1); err != nil {
		t.Fatalf("Place: %v", err)
	}
	if err := place(3, "k-declined", paymentsclient.TestCardDeclined, 2, 1); bookshop.ErrorCode(err) != bookshop.Conflict {
		t.Fatalf("Place with the declined card = %v, want Conflict", err)
	}

	pays.mu.Lock()
	defer pays.mu.Unlock()
	if pays.charges != 3 {
		t.Errorf("%d charges asked for, want 3", pays.charges)
	}
	if len(pays.atRisk) > 0 {
		t.Errorf("cards charged with writes of the saga log a power cut could take back: %v at each", pays.atRisk)
	}
	// The three begun, Charged and Committed of the two placed (the
	// claim's confirmation recorded with Committed), and the claim's
	// answer.
	if want := 3 + 2 + 2 + 1; log.deferred != want {
		t.Errorf("%d writes of the saga log left to a later sync, want %d", log.deferred, want)
	}
}
