package checkout_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/process"
)

// TestRunDrainsWithinItsTimeout stops a Checkout, run as its command runs
// it, while a checkout waits on a slow Payments: Run returns within its
// one drain timeout, shared by the call in flight and the checkout it
// started (the checkout is finished or undone at the next start). Before,
// the two waited one after the other: twice the drain timeout, past the
// grace that Compose gives a container to stop.
func TestRunDrainsWithinItsTimeout(t *testing.T) {
	s := startShop(t, shopOptions{paymentsLatency: 10 * time.Second})
	s.fill(t, cartOf(400), 1, 1)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := checkout.DefaultConfig()
	cfg.DB = filepath.Join(t.TempDir(), "checkout.db")
	cfg.CartHost, cfg.CatalogHost, cfg.InventoryHost = s.cart.addr, s.catalog.addr, s.inventory.addr
	cfg.PaymentsHost, cfg.OrdersHost, cfg.PromotionsHost = s.payments.addr, s.orders.addr, s.promotions.addr
	cfg.CallTimeout = 30 * time.Second // the charge waits on Payments, not on its deadline
	const drainTimeout = time.Second
	ctx, stop := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		done <- checkout.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: drainTimeout, Listener: lis})
	}()
	returned := false
	t.Cleanup(func() {
		stop()
		if !returned {
			<-done
		}
	})

	client := checkoutclient.New(dial(t, lis.Addr().String()), 30*time.Second)
	go client.Place(testContext(t), order(400, "k-drain", eur(1250), paymentsclient.TestCardApproved)) //nolint:errcheck // cut off by the stop
	waitUntil(t, "the checkout to hold its copy and wait on Payments", func() bool {
		return s.levels(t, 1)[1].Held == 1
	})

	stop()
	start := time.Now()
	select {
	case err := <-done:
		returned = true
		if err != nil {
			t.Errorf("Run = %v, want nil after a stop", err)
		}
		// The drain timeout, and some room for a loaded machine; twice
		// it was the bug.
		if took := time.Since(start); took > drainTimeout*3/2+250*time.Millisecond {
			t.Errorf("Run returned %v after its stop, want within its drain timeout, %v", took.Round(time.Millisecond), drainTimeout)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of its stop")
	}
}
