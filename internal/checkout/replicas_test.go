package checkout_test

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	checkoutpostgres "github.com/bookshop-go/bookshop/internal/checkout/postgres"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// replicatedShop is the shop of startShop, but with the Inventory and
// Promotions each two replicas on a PostgreSQL database of their own:
// inventoryAddrs and promotionsAddrs are their addresses. The shop's clients of them
// are the first replicas'.
type replicatedShop struct {
	*shop
	inventoryAddrs, promotionsAddrs [2]string
}

// startReplicatedShop runs startShop's shop, and the Inventory (stock)
// and Promotions twice over, each pair on one PostgreSQL database, until
// the test ends.
func startReplicatedShop(tb testing.TB, opts shopOptions) *replicatedShop {
	tb.Helper()
	inventoryDB, promotionsDB := pgtest.Settings(tb), pgtest.Settings(tb) // first: skips without a server
	s := &replicatedShop{shop: startShop(tb, opts)}
	for i := range 2 {
		s.inventoryAddrs[i] = serve(tb, func(ctx context.Context, lis net.Listener) error {
			cfg := inventory.DefaultConfig()
			cfg.Seed, cfg.Database = stock, inventoryDB
			return inventory.Run(ctx, cfg, deps(lis))
		}).addr
		s.promotionsAddrs[i] = serve(tb, func(ctx context.Context, lis net.Listener) error {
			cfg := promotions.DefaultConfig()
			cfg.Database, cfg.Promotion = promotionsDB, opts.promotion
			if cfg.Promotion.Rule == nil { // as startShop's
				cfg.Promotion = promotions.BuyTwoGetOneFree()
			}
			if opts.claimTTL > 0 {
				cfg.ClaimTTL = opts.claimTTL
			}
			return promotions.Run(ctx, cfg, deps(lis))
		}).addr
	}
	s.stock = inventoryclient.New(dial(tb, s.inventoryAddrs[0]), 5*time.Second)
	s.promos = promotionsclient.New(dial(tb, s.promotionsAddrs[0]), 5*time.Second)
	ctx := testContext(tb)
	waitUntil(tb, "the Inventory and Promotions on PostgreSQL to answer", func() bool {
		for i := range 2 {
			if _, err := inventoryclient.New(dial(tb, s.inventoryAddrs[i]), time.Second).Stock(ctx, []int32{1}); err != nil {
				return false
			}
			if _, err := promotionsclient.New(dial(tb, s.promotionsAddrs[i]), time.Second).Offer(ctx, 1); err != nil {
				return false
			}
		}
		return true
	})
	return s
}

// startReplicas runs n Checkouts over the services of s, made with opts,
// on one saga log in PostgreSQL, until the test ends: replica i calls the
// Inventory and Promotions replicas i%2, and has its Deps changed by
// change (when not nil) before it is made.
func startReplicas(tb testing.TB, s *replicatedShop, n int, opts checkout.Options, change func(i int, d *checkout.Deps)) []*replica {
	tb.Helper()
	st := pgtest.Settings(tb)
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 5 * time.Second
	}
	var replicas []*replica
	for i := range n {
		db, err := checkoutpostgres.Open(testContext(tb), st)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		d := checkout.Deps{
			Carts:      s.carts,
			Catalog:    catalogclient.New(dial(tb, s.catalog.addr), opts.CallTimeout),
			Inventory:  inventoryclient.New(dial(tb, s.inventoryAddrs[i%2]), opts.CallTimeout),
			Payments:   s.charges,
			Orders:     s.orderBook,
			Promotions: promotionsclient.New(dial(tb, s.promotionsAddrs[i%2]), opts.CallTimeout),
			Store:      db,
		}
		if change != nil {
			change(i, &d)
		}
		o := opts
		o.Replica = fmt.Sprintf("replica-%d", i)
		svc := checkout.NewService(d, o)
		srv := serve(tb, func(ctx context.Context, lis net.Listener) error {
			g, err := checkout.NewGRPCServer(svc, deps(lis))
			if err != nil {
				return err
			}
			return g.Run(ctx, lis)
		})
		tb.Cleanup(func() { svc.Wait(context.Background()) })
		replicas = append(replicas, &replica{svc: svc, log: db, client: checkoutclient.New(rpctest.Dial(tb, srv.addr), 30*time.Second)})
	}
	return replicas
}

// replica is a Checkout replica served over gRPC for a test: its
// Service, its handle on the saga log that the replicas share, and a
// client of it.
type replica struct {
	svc    *checkout.Service
	log    checkout.Store
	client *checkoutclient.Client
}

// record returns the saga log's record of customer's key, failing the
// test when there is none.
func (c *replica) record(tb testing.TB, customer int32, key string) *saga.Record {
	tb.Helper()
	r, err := c.log.Get(testContext(tb), customer, key)
	if err != nil || r == nil {
		tb.Fatalf("the saga log has no record of %d/%s: %v", customer, key, err)
	}
	return r
}

// TestReplicasOneCheckoutAKey sends one checkout (one key, one request)
// twelve times at once to three Checkout replicas on one saga log: one
// checkout is run, and every request is answered with its order.
func TestReplicasOneCheckoutAKey(t *testing.T) {
	ctx := testContext(t)
	s := startReplicatedShop(t, shopOptions{})
	replicas := startReplicas(t, s, 3, checkout.Options{}, nil)
	const customer = 300
	s.fillThree(t, cartOf(customer))
	before := s.levels(t, 1, 2)
	req := order(customer, "k-once", discounted, paymentsclient.TestCardApproved)
	orders := make([]bookshop.Order, 12)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range orders {
		c := replicas[i%len(replicas)]
		wg.Go(func() {
			<-start
			o, err := c.client.Place(ctx, req)
			if err != nil {
				t.Errorf("Place %d: %v", i, err)
			}
			orders[i] = o
		})
	}
	close(start)
	wg.Wait()
	for i, o := range orders {
		if o.ID == "" || o.ID != orders[0].ID {
			t.Errorf("Place %d answered order %q, Place 0 %q; want one order for every request", i, o.ID, orders[0].ID)
		}
	}
	r := checkInvariants(t, s.shop, replicas[0].record(t, customer, req.Key), before, 3)
	if r.State != saga.Done || r.Discount != eur(1099) {
		t.Errorf("the checkout is %s with a discount of %s; want done, Dune free", r.State, r.Discount)
	}
}

// TestReplicasLastCopy has six customers buy the last copy of a book at
// once through three Checkout replicas (and two Inventory replicas): one
// order is placed, and the others are told the book is sold out, nothing
// charged.
func TestReplicasLastCopy(t *testing.T) {
	ctx := testContext(t)
	s := startReplicatedShop(t, shopOptions{})
	replicas := startReplicas(t, s, 3, checkout.Options{}, nil)
	const buyers = 6
	for i := range int32(buyers) {
		s.fill(t, cartOf(310+i), 4, 1)
	}
	before := s.levels(t, 4)
	var (
		wg     sync.WaitGroup
		placed atomic.Int32
	)
	start := make(chan struct{})
	for i := range int32(buyers) {
		c := replicas[int(i)%len(replicas)]
		wg.Go(func() {
			<-start
			_, err := c.client.Place(ctx, order(310+i, "k-last", eur(500), paymentsclient.TestCardApproved))
			switch {
			case err == nil:
				placed.Add(1)
			case bookshop.ErrorCode(err) != bookshop.Conflict:
				t.Errorf("Place of customer %d = %v, want an order or sold out", 310+i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if placed.Load() != 1 {
		t.Errorf("%d orders for the last copy, want 1", placed.Load())
	}
	if l := s.levels(t, 4)[4]; l.OnHand != 0 || l.Held != 0 {
		t.Errorf("the last copy's stock after: %+v, want none on hand, none held", l)
	}
	for i := range int32(buyers) {
		r := replicas[0].record(t, 310+i, "k-last")
		if r.State == saga.Done {
			checkInvariants(t, s.shop, r, before, 1)
		} else {
			checkInvariants(t, s.shop, r, map[int32]inventoryclient.Level{4: {BookID: 4}}, 1)
		}
	}
}

// TestReplicasPromotionOncePerCustomer has one customer check out eight
// carts of three books at once through two Checkout replicas (and two
// Promotions replicas), each shopper confirming the discounted total:
// one order gets the discount, and the others are told the new total,
// nothing charged.
func TestReplicasPromotionOncePerCustomer(t *testing.T) {
	ctx := testContext(t)
	s := startReplicatedShop(t, shopOptions{})
	replicas := startReplicas(t, s, 2, checkout.Options{}, nil)
	const (
		customer = 340
		n        = 8
	)
	for i := range n {
		s.fillThree(t, fmt.Sprintf("c-%d-%d", customer, i))
	}
	var (
		wg     sync.WaitGroup
		placed atomic.Int32
	)
	start := make(chan struct{})
	for i := range n {
		c := replicas[i%len(replicas)]
		wg.Go(func() {
			<-start
			o, err := c.client.Place(ctx, placeIn(customer, fmt.Sprintf("c-%d-%d", customer, i), fmt.Sprintf("k-%d", i), discounted))
			switch {
			case err == nil:
				placed.Add(1)
				if o.Total != discounted || !reflect.DeepEqual(o.Promotions, []string{s.promotion}) {
					t.Errorf("checkout %d placed %+v, want the discounted order", i, o)
				}
			case bookshop.ErrorCode(err) != bookshop.Conflict:
				t.Errorf("Place %d = %v, want an order or the new total", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if placed.Load() != 1 {
		t.Errorf("%d orders with the discount, want 1", placed.Load())
	}
	for i := range n {
		r := replicas[0].record(t, customer, fmt.Sprintf("k-%d", i))
		if !r.State.Ended() {
			t.Errorf("checkout %d is %s, want it ended", i, r.State)
		}
		if ch, err := s.charges.ChargeByKey(ctx, r.PayKey()); (err == nil && ch.State == paymentsclient.StateApproved) != (r.State == saga.Done) {
			t.Errorf("checkout %d is %s, its charge %+v, %v; want a charge exactly for the order", i, r.State, ch, err)
		}
	}
	checkPromotion(t, s.promos, customer, true)
}

// TestReplicasLeaveCheckoutsInFlight places a checkout through one
// replica, whose charge takes a second, while another replica's recoverer
// runs all the while: it leaves the checkout alone (another replica's
// lease holds it), and the checkout places its order. A recoverer that
// took it up would find it in its first state, without the card, and undo
// it.
func TestReplicasLeaveCheckoutsInFlight(t *testing.T) {
	ctx := testContext(t)
	s := startReplicatedShop(t, shopOptions{paymentsLatency: time.Second})
	replicas := startReplicas(t, s, 2, checkout.Options{}, nil)
	const customer = 320
	s.fill(t, cartOf(customer), 1, 1)
	before := s.levels(t, 1)
	done := make(chan error, 1)
	go func() {
		_, err := replicas[0].client.Place(ctx, order(customer, "k-slow", eur(1250), paymentsclient.TestCardApproved))
		done <- err
	}()
	var taken int
	for placing := true; placing; {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Place, another replica's recoverer running = %v, want the order", err)
			}
			placing = false
		case <-time.After(20 * time.Millisecond):
			n, err := replicas[1].svc.Recover(ctx)
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			taken += n
		}
	}
	if taken != 0 {
		t.Errorf("the other replica's recoverer took up %d checkouts, want none: the one in flight is the first's", taken)
	}
	checkInvariants(t, s.shop, replicas[0].record(t, customer, "k-slow"), before, 1)
}

// countingOrders is the Orders service, counting the orders each key
// recorded, answered.
type countingOrders struct {
	checkout.Orders
	mu      sync.Mutex
	created map[string]int
}

func (o *countingOrders) Create(ctx context.Context, key string, order bookshop.Order) (bookshop.Order, error) {
	got, err := o.Orders.Create(ctx, key, order)
	if err == nil {
		o.mu.Lock()
		o.created[key]++
		o.mu.Unlock()
	}
	return got, err
}

// TestReplicasRecoverOnce leaves paid checkouts unfinished (Orders down)
// on three replicas, brings Orders back, and runs the three recoverers at
// once, over and over, until every checkout has ended: each checkout is
// taken up by one recoverer at a time, its order asked for once, and
// every invariant holds.
func TestReplicasRecoverOnce(t *testing.T) {
	ctx := testContext(t)
	s := startReplicatedShop(t, shopOptions{})
	orders := &countingOrders{Orders: s.orderBook, created: make(map[string]int)}
	replicas := startReplicas(t, s, 3, checkout.Options{}, func(_ int, d *checkout.Deps) { d.Orders = orders })
	const buyers = 6
	for i := range int32(buyers) {
		s.fill(t, cartOf(330+i), 2, 1)
	}
	before := s.levels(t, 2)
	s.orders.stop()
	for i := range int32(buyers) {
		_, err := replicas[int(i)%len(replicas)].client.Place(ctx, order(330+i, "k-paid", eur(1099), paymentsclient.TestCardApproved))
		if bookshop.ErrorCode(err) != bookshop.Unavailable {
			t.Fatalf("Place of customer %d, Orders down = %v, want Unavailable", 330+i, err)
		}
	}
	s.orders.start()
	waitUntil(t, "Orders to be reached again", func() bool {
		_, err := s.orderBook.List(ctx, 330, "", 1)
		return err == nil
	})
	ended := func() bool {
		for i := range int32(buyers) {
			if !replicas[0].record(t, 330+i, "k-paid").State.Ended() {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !ended(); {
		if time.Now().After(deadline) {
			t.Fatal("the checkouts did not end within 20s of recovery")
		}
		var wg sync.WaitGroup
		for _, c := range replicas {
			wg.Go(func() {
				if _, err := c.svc.Recover(ctx); err != nil {
					t.Errorf("Recover: %v", err)
				}
			})
		}
		wg.Wait()
	}
	for i := range int32(buyers) {
		r := checkInvariants(t, s.shop, replicas[0].record(t, 330+i, "k-paid"), noStock, 1)
		if r.State != saga.Done {
			t.Errorf("customer %d's checkout is %s (%s), want done", 330+i, r.State, r.ErrMessage)
		}
		orders.mu.Lock()
		if n := orders.created[r.OrderKey()]; n != 1 {
			t.Errorf("customer %d's order was asked for and recorded %d times, want once", 330+i, n)
		}
		orders.mu.Unlock()
	}
	if l, was := s.levels(t, 2)[2], before[2]; l.OnHand != was.OnHand-buyers || l.Held != 0 {
		t.Errorf("Dune's stock after: %+v, want %d on hand (%d less), none held", l, was.OnHand-buyers, buyers)
	}
}

// startReplicaProcess starts a Checkout as a process over ps, on port
// port, its saga log in the PostgreSQL database of url, the fault points
// faults armed (none for ""), recovering every 200 ms, its checkouts cut
// off after 5 s (so its leases run 10 s).
func (ps *processShop) startReplicaProcess(tb testing.TB, port int, url, faults string) (*proc, *checkoutclient.Client) {
	tb.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env := []string{
		"CHECKOUT_PORT=" + strconv.Itoa(port),
		"CHECKOUT_DATABASE_URL=" + url,
		"CHECKOUT_RECOVER_INTERVAL=200ms",
		"CHECKOUT_CALL_TIMEOUT=2s",
		"CHECKOUT_PLACE_TIMEOUT=5s",
		"CART_HOST=" + ps.addr("cart"), "CATALOG_HOST=" + ps.addr("catalog"), "INVENTORY_HOST=" + ps.addr("inventory"),
		"PAYMENTS_HOST=" + ps.addr("payments"), "ORDERS_HOST=" + ps.addr("orders"), "PROMOTIONS_HOST=" + ps.addr("promotions"),
	}
	if faults != "" {
		env = append(env, fault.EnvVar+"="+faults)
	}
	p := run(tb, "checkout "+addr, env, "checkout")
	client := checkoutclient.New(dial(tb, addr), 15*time.Second)
	ctx := testContext(tb)
	waitUntil(tb, "the Checkout on "+addr+" to answer", func() bool {
		_, err := client.Quote(ctx, 1, "c-0")
		return err == nil
	})
	return p, client
}

// TestReplicaKilledOnPostgres runs two Checkout processes on one saga log
// in PostgreSQL and kills one (SIGKILL) in a checkout, once it charged
// the card: the other replica's recoverer leaves the checkout alone while
// the dead one's lease runs, then takes it up and places its order, every
// invariant holding.
func TestReplicaKilledOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes: not with -short")
	}
	st := pgtest.Settings(t)
	ps := startProcessShop(t)
	log, err := checkoutpostgres.Open(testContext(t), st)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ctx := testContext(t)
	const (
		customer = 3000
		point    = "checkout/after-charge"
	)
	other, _ := ps.startReplicaProcess(t, freePort(t), st.URL, "")
	killed, client := ps.startReplicaProcess(t, freePort(t), st.URL, point)
	ps.fill(t, cartOf(customer), 1, 2, 2, 1)
	before := ps.levels(t, 1, 2)
	q, err := client.Quote(ctx, customer, cartOf(customer))
	if err != nil {
		t.Fatal(err)
	}
	req := order(customer, "k-failover", q.Total, paymentsclient.TestCardApproved)
	start := time.Now()
	if _, err := client.Place(ctx, req); err == nil {
		t.Fatalf("Place, the replica killed at %s, succeeded", point)
	}
	killed.wait(t)
	if !killed.killedAt(point) {
		t.Fatalf("the replica ended with %v, want it killed at %s", killed.err, point)
	}
	var r *saga.Record
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r, err = log.Get(ctx, customer, req.Key); err != nil || r == nil {
			t.Fatalf("the saga log's record: %+v, %v", r, err)
		}
		if r.State.Ended() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checkout is %s 40s after the kill, want the other replica to have ended it", r.State)
		}
	}
	t.Logf("killed at %s: %s by the other replica %v after the request", point, r.State, time.Since(start).Round(time.Millisecond))
	if r.State != saga.Done {
		t.Errorf("the checkout ended %s (%q), want done", r.State, r.ErrMessage)
	}
	checkInvariants(t, ps.shop, r, before, 3)
	other.stop(t)
}
