package checkout_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/accounts"
	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	checkoutpostgres "github.com/bookshop-go/bookshop/internal/checkout/postgres"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb/pgtest"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// restartStock is the Inventory's stock in TestDatabaseRestart: enough
// that no buyer finds a book sold out.
var restartStock = map[int32]int{1: 1000, 2: 1000, 3: 1000}

// restartReadyInterval is how often each service of TestDatabaseRestart
// pings its database for its health.
const restartReadyInterval = 100 * time.Millisecond

// postgresShop is every service of the shop with state, each Run as
// `bookshop <service>` runs it, on one PostgreSQL database (each in its
// schema), and two Checkout replicas over them; the Catalog alone is on
// SQLite, in memory.
type postgresShop struct {
	*shop
	accounts  *accountsclient.Client
	checkouts []*checkoutclient.Client
	// health is the address of each service on the database, by name:
	// those whose health follows it.
	health map[string]string
}

// startPostgresShop runs the shop of postgresShop on the database of st
// until the test ends, and waits until every service is SERVING.
func startPostgresShop(tb testing.TB, st pgdb.Settings) *postgresShop {
	tb.Helper()
	catalogDB, err := catalogsqlite.Open(testContext(tb), catalogsqlite.Memory, books)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { catalogDB.Close() })
	promo := promotions.BuyTwoGetOneFree()
	s := &postgresShop{shop: &shop{promotion: promo.Code}, health: make(map[string]string)}
	s.catalog = serve(tb, func(ctx context.Context, lis net.Listener) error {
		srv, err := catalog.NewGRPCServer(catalog.NewService(catalogDB, "EUR", 0, nil), deps(lis))
		if err != nil {
			return err
		}
		return srv.Run(ctx, lis)
	})
	s.cart = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := cart.DefaultConfig()
		cfg.Database, cfg.ReadyInterval, cfg.CatalogHost = st, restartReadyInterval, s.catalog.addr
		return cart.Run(ctx, cfg, deps(lis))
	})
	s.inventory = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := inventory.DefaultConfig()
		cfg.Database, cfg.ReadyInterval, cfg.Seed = st, restartReadyInterval, restartStock
		return inventory.Run(ctx, cfg, deps(lis))
	})
	s.payments = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := payments.DefaultConfig()
		cfg.Database, cfg.ReadyInterval = st, restartReadyInterval
		return payments.Run(ctx, cfg, deps(lis))
	})
	s.orders = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := orders.DefaultConfig()
		cfg.Database, cfg.ReadyInterval = st, restartReadyInterval
		return orders.Run(ctx, cfg, deps(lis))
	})
	s.promotions = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := promotions.DefaultConfig()
		cfg.Database, cfg.ReadyInterval, cfg.Promotion = st, restartReadyInterval, promo
		return promotions.Run(ctx, cfg, deps(lis))
	})
	accountsSrv := serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := accounts.DefaultConfig()
		cfg.Database, cfg.ReadyInterval = st, restartReadyInterval
		return accounts.Run(ctx, cfg, deps(lis))
	})
	for name, srv := range map[string]*server{
		"cart": s.cart, "inventory": s.inventory, "payments": s.payments, "orders": s.orders, "promotions": s.promotions, "accounts": accountsSrv,
	} {
		s.health[name] = srv.addr
	}
	for i := range 2 {
		srv := serve(tb, func(ctx context.Context, lis net.Listener) error {
			cfg := checkout.DefaultConfig()
			cfg.Database, cfg.ReadyInterval = st, restartReadyInterval
			cfg.CartHost, cfg.CatalogHost, cfg.InventoryHost = s.cart.addr, s.catalog.addr, s.inventory.addr
			cfg.PaymentsHost, cfg.OrdersHost, cfg.PromotionsHost = s.payments.addr, s.orders.addr, s.promotions.addr
			cfg.RecoverInterval, cfg.PlaceTimeout, cfg.CallTimeout = 200*time.Millisecond, 5*time.Second, 2*time.Second
			return checkout.Run(ctx, cfg, deps(lis))
		})
		s.health[fmt.Sprintf("checkout-%d", i)] = srv.addr
		s.checkouts = append(s.checkouts, checkoutclient.New(dial(tb, srv.addr), 30*time.Second))
	}
	s.carts = cartclient.New(dial(tb, s.cart.addr), 5*time.Second)
	s.stock = inventoryclient.New(dial(tb, s.inventory.addr), 5*time.Second)
	s.charges = paymentsclient.New(dial(tb, s.payments.addr), 5*time.Second)
	s.orderBook = ordersclient.New(dial(tb, s.orders.addr), 5*time.Second)
	s.promos = promotionsclient.New(dial(tb, s.promotions.addr), 5*time.Second)
	s.accounts = accountsclient.New(dial(tb, accountsSrv.addr), 5*time.Second)
	s.waitHealth(tb, grpc_health_v1.HealthCheckResponse_SERVING, 20*time.Second)
	return s
}

// waitHealth waits until every service of s on the database answers
// want to a health check, for at most bound, and returns how long that
// took; it fails the test, naming the services that did not, past bound.
func (s *postgresShop) waitHealth(tb testing.TB, want grpc_health_v1.HealthCheckResponse_ServingStatus, bound time.Duration) time.Duration {
	tb.Helper()
	clients := make(map[string]grpc_health_v1.HealthClient, len(s.health))
	for name, addr := range s.health {
		clients[name] = grpc_health_v1.NewHealthClient(rpctest.Dial(tb, addr))
	}
	start := time.Now()
	for {
		var behind []string
		for name, c := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			resp, err := c.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
			cancel()
			if err != nil || resp.GetStatus() != want {
				behind = append(behind, fmt.Sprintf("%s: %v %v", name, resp.GetStatus(), err))
			}
		}
		if len(behind) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > bound {
			sort.Strings(behind)
			tb.Fatalf("health not %v within %s: %s", want, bound, strings.Join(behind, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// retried calls f until it returns anything but Unavailable, as a client
// does (Place again with the same request), pausing 100 ms between tries,
// for at most 30 s. It returns f's last error and how many of its answers
// were Unavailable.
func retried(ctx context.Context, f func() error) (unavailable int, err error) {
	for deadline := time.Now().Add(30 * time.Second); ; unavailable++ {
		err = f()
		if bookshop.ErrorCode(err) != bookshop.Unavailable || time.Now().After(deadline) || ctx.Err() != nil {
			return unavailable, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// purchase is one checkout of a buyer of TestDatabaseRestart: a new
// customer, their cart of copies, the request, and its outcome.
type purchase struct {
	customer int32
	copies   int
	req      bookshop.PlaceOrder
	order    bookshop.Order // the order acknowledged; zero when none
	err      error          // why there is none
	began    time.Time
	acked    time.Time
	retries  int // answers Unavailable, retried
}

// buy fills the cart of p's customer with books (one copy each) and
// checks it out through c, each call retried while Unavailable, as a
// shopper's client does: Place with the same key each time.
func buy(ctx context.Context, s *postgresShop, c *checkoutclient.Client, p *purchase, bookIDs []int32) {
	p.began = time.Now()
	cartID := cartOf(p.customer)
	for i, id := range bookIDs {
		n, err := retried(ctx, func() error {
			_, err := s.carts.Add(ctx, cartID, id, 1, fmt.Sprintf("add-%d-%d", p.customer, i))
			return err
		})
		p.retries += n
		if err != nil {
			p.err = fmt.Errorf("add book %d: %w", id, err)
			return
		}
		p.copies++
	}
	var q bookshop.Quote
	n, err := retried(ctx, func() (err error) {
		q, err = c.Quote(ctx, p.customer, cartID)
		return err
	})
	p.retries += n
	if err != nil {
		p.err = fmt.Errorf("quote: %w", err)
		return
	}
	p.req = order(p.customer, "k-restart", q.Total, paymentsclient.TestCardApproved)
	n, err = retried(ctx, func() (err error) {
		p.order, err = c.Place(ctx, p.req)
		return err
	})
	p.retries += n
	if err != nil {
		p.err = fmt.Errorf("place: %w", err)
		return
	}
	p.acked = time.Now()
}

// TestDatabaseRestart crashes the database of a shop under load and
// starts it again: every service with state (Cart, Inventory, Payments,
// Orders, Promotions, Accounts, and two Checkout replicas) runs on one
// PostgreSQL cluster of the test's own, while eight buyers check out
// carts through the Checkout, each Place retried with its key while
// Unavailable, as a client does. Midway the server is stopped with
// `pg_ctl stop -m immediate` (its processes killed, no checkpoint), left
// down two seconds, and started again (it replays its WAL). The services'
// health turns NOT_SERVING while it is down and SERVING once it is back;
// every order acknowledged to a buyer is in Orders, paid by one approved
// charge of its total; there is no approved charge without an order, no
// order no buyer was told of, no hold left and the stock on hand is
// exactly what it was less the copies ordered; every checkout has ended
// within 20 s of the buyers' last; and Place again with each key returns the
// same order. An account made before the crash signs in after it.
func TestDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("crashes a PostgreSQL server of its own: not with -short")
	}
	// fsync=off: the test kills the server's processes, not the machine,
	// so what they wrote stays in the kernel's cache, and a commit is
	// durable once written to the WAL. synchronous_commit stays on
	// (scripts/test.sh's server has it off): with it off, a commit is
	// acknowledged before its WAL is written, and a crash loses it.
	cluster := pgtest.NewCluster(t, "fsync=off")
	// The connect timeout as deployed (5 s): on a busy machine, eight
	// services opening their pools at once can wait more than a second
	// for the server to start their connections' processes.
	st := pgdb.DefaultSettings()
	st.URL = cluster.URL()
	s := startPostgresShop(t, st)
	ctx, cancel := context.WithCancel(testContext(t))

	const email, password = "ada@example.com", "analytical-engine-1843"
	if _, err := s.accounts.SignUp(ctx, bookshop.NewAccount{Email: email, Name: "Ada Lovelace", Password: password}, "test"); err != nil {
		t.Fatalf("SignUp: %v", err)
	}

	const buyers = 8
	var (
		mu        sync.Mutex
		purchases []*purchase
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	stopBuyers := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	t.Cleanup(func() { // a test failed midway: its buyers stop, at once, before the shop does
		cancel()
		stopBuyers()
	})
	acked := func(after time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, p := range purchases {
			if !p.acked.IsZero() && p.acked.After(after) {
				n++
			}
		}
		return n
	}
	for b := range buyers {
		wg.Go(func() {
			for n := 0; n < 100; n++ {
				select {
				case <-stop:
					return
				default:
				}
				p := &purchase{customer: int32(7000 + 100*b + n)}
				ids := []int32{int32(1 + (b+n)%3)}
				if b%2 == 1 { // two books: no discount, as the promotion needs three
					ids = append(ids, int32(1+(b+n+1)%3))
				}
				buy(ctx, s, s.checkouts[b%len(s.checkouts)], p, ids)
				mu.Lock()
				purchases = append(purchases, p) // each once it has ended
				mu.Unlock()
			}
		})
	}
	waitAcked := func(after time.Time, want int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); acked(after) < want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d orders acknowledged within 20s, want %d", acked(after), want)
			}
		}
	}
	begun := time.Now()
	waitAcked(begun, 5*buyers)

	crashed := time.Now()
	cluster.Stop("immediate")
	stopped := time.Now()
	s.waitHealth(t, grpc_health_v1.HealthCheckResponse_NOT_SERVING, 10*time.Second)
	toNotServing := time.Since(crashed) // the stop included: pg_ctl waits for the server to go
	time.Sleep(2*time.Second - time.Since(crashed))
	started := time.Now()
	cluster.Start()
	replayed := time.Since(started)
	inFlight := unfinishedCheckouts(t, cluster.URL()) // as the crash left them, unless a service was quicker
	toServing := s.waitHealth(t, grpc_health_v1.HealthCheckResponse_SERVING, 10*time.Second) + replayed
	waitAcked(started, 1)
	firstOrder := time.Since(started)
	waitAcked(started, 5*buyers)
	stopBuyers()
	finished := time.Now()

	log, err := checkoutpostgres.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	var unfinished int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if unfinished, _, err = log.CountUnfinished(ctx); err != nil {
			t.Fatalf("CountUnfinished: %v", err)
		}
		if unfinished == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d checkouts unfinished 20s after the buyers stopped, want none", unfinished)
		}
	}
	allEnded := time.Since(started)

	var before, stopping, after, retries, straddled int
	for _, p := range purchases {
		retries += p.retries
		switch {
		case p.err != nil:
			t.Errorf("customer %d got no order: %v", p.customer, p.err)
			continue
		case p.acked.Before(crashed):
			before++
		case p.acked.Before(stopped):
			stopping++
		case p.acked.Before(started):
			t.Errorf("customer %d was told order %s while the database was down", p.customer, p.order.ID)
		default:
			after++
		}
		if p.began.Before(crashed) && p.acked.After(crashed) {
			straddled++
		}
	}
	t.Logf("PostgreSQL crashed (pg_ctl stop -m immediate) %v after the buyers began, with %d orders acknowledged; every service NOT_SERVING %v after the crash",
		crashed.Sub(begun).Round(time.Millisecond), before, toNotServing.Round(time.Millisecond))
	t.Logf("down %v; started again: WAL replayed and accepting connections in %v, every service SERVING %v after the start, the first order acknowledged %v after it",
		started.Sub(crashed).Round(time.Millisecond), replayed.Round(time.Millisecond), toServing.Round(time.Millisecond), firstOrder.Round(time.Millisecond))
	t.Logf("checkouts unfinished in the saga log as the restart found it: %s", inFlight)
	t.Logf("orders acknowledged: %d before the crash, %d while pg_ctl stopped the server (committed before it died), %d after the start (%d of them begun before the crash); %d answers Unavailable retried with the same key; every checkout ended %v after the start (the buyers stopped at %v)",
		before, stopping, after, straddled, retries, allEnded.Round(time.Millisecond), finished.Sub(started).Round(time.Millisecond))

	var ackedOrders int
	for _, p := range purchases {
		if p.err != nil {
			continue
		}
		ackedOrders++
		r, err := log.Get(ctx, p.customer, p.req.Key)
		if err != nil || r == nil {
			t.Errorf("customer %d: the saga log's record: %v, %v", p.customer, r, err)
			continue
		}
		if r.State != saga.Done || r.Order.ID != p.order.ID {
			t.Errorf("customer %d was told order %s; the checkout is %s with order %s (%q)", p.customer, p.order.ID, r.State, r.Order.ID, r.ErrMessage)
		}
		checkInvariants(t, s.shop, r, noStock, p.copies) // the stock: checkRestartBooks, over all orders
		_, err = retried(ctx, func() error {
			again, err := s.checkouts[int(p.customer)%len(s.checkouts)].Place(ctx, p.req)
			if err == nil && again.ID != p.order.ID {
				t.Errorf("customer %d: Place again with the same key = order %s, want %s", p.customer, again.ID, p.order.ID)
			}
			return err
		})
		if err != nil {
			t.Errorf("customer %d: Place again with the same key: %v", p.customer, err)
		}
	}
	checkRestartBooks(t, cluster.URL(), ackedOrders)

	if _, err := retried(ctx, func() error {
		_, err := s.accounts.SignIn(ctx, email, password, "test")
		return err
	}); err != nil {
		t.Errorf("SignIn after the restart, with the account made before it: %v", err)
	}
}

// checkRestartBooks checks, in the services' tables on the database of
// url, what must hold once every checkout has ended: one order for each
// of the acked acknowledged, each paid by an approved charge of its
// total, and no approved charge that paid no order; no hold, no
// reservation held; and each book's stock on hand what restartStock gave
// less the copies ordered.
func checkRestartBooks(tb testing.TB, url string, acked int) {
	tb.Helper()
	ctx := testContext(tb)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	count := func(sql string) int {
		tb.Helper()
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	ordersN := count(`SELECT count(*) FROM orders.orders`)
	approved := count(`SELECT count(*) FROM payments.charges WHERE state = 'approved'`)
	refunded := count(`SELECT count(*) FROM payments.charges WHERE state = 'refunded'`)
	if ordersN != acked {
		tb.Errorf("Orders holds %d orders, and %d were acknowledged to the buyers; want the same", ordersN, acked)
	}
	if approved != ordersN {
		tb.Errorf("%d approved charges for %d orders; want one each", approved, ordersN)
	}
	if n := count(`SELECT count(*) FROM orders.orders o JOIN payments.charges c ON c.id = o.payment_id
			WHERE c.state = 'approved' AND c.amount_units = o.total`); n != ordersN {
		tb.Errorf("%d of %d orders are paid by an approved charge of their total, want every one", n, ordersN)
	}
	if n := count(`SELECT count(*) FROM payments.charges c WHERE c.state = 'approved'
			AND NOT EXISTS (SELECT 1 FROM orders.orders o WHERE o.payment_id = c.id)`); n != 0 {
		tb.Errorf("%d approved charges paid no order, want none", n)
	}
	if n := count(`SELECT count(*) FROM inventory.holds`) + count(`SELECT count(*) FROM inventory.reservations WHERE state = 'held'`); n != 0 {
		tb.Errorf("%d holds and held reservations left, want none", n)
	}
	rows, err := conn.Query(ctx, `SELECT s.book_id, s.on_hand, coalesce((SELECT sum(l.quantity) FROM orders.order_lines l WHERE l.book_id = s.book_id), 0)
		FROM inventory.stock s ORDER BY s.book_id`)
	if err != nil {
		tb.Fatalf("stock: %v", err)
	}
	type level struct{ id, onHand, ordered int }
	levels, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (l level, err error) {
		err = row.Scan(&l.id, &l.onHand, &l.ordered)
		return l, err
	})
	if err != nil {
		tb.Fatalf("stock: %v", err)
	}
	var sold []string
	for _, l := range levels {
		if want := restartStock[int32(l.id)] - l.ordered; l.onHand != want {
			tb.Errorf("book %d: %d on hand, %d ordered of %d; want %d on hand", l.id, l.onHand, l.ordered, restartStock[int32(l.id)], want)
		}
		sold = append(sold, fmt.Sprintf("book %d: %d", l.id, l.ordered))
	}
	slices.Sort(sold)
	tb.Logf("in the tables: %d orders, %d approved charges, %d refunded (checkouts undone and begun again); copies sold %s, each on hand exact",
		ordersN, approved, refunded, strings.Join(sold, ", "))
}

// unfinishedCheckouts returns how many checkouts in the saga log on the
// database of url have not ended, by state, for the test's log.
func unfinishedCheckouts(tb testing.TB, url string) string {
	tb.Helper()
	ctx := testContext(tb)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT state || ' ' || count(*) FROM checkout.checkouts
		WHERE state NOT IN ('done', 'failed') GROUP BY state ORDER BY state`)
	if err != nil {
		tb.Fatalf("unfinished checkouts: %v", err)
	}
	states, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("unfinished checkouts: %v", err)
	}
	if len(states) == 0 {
		return "none"
	}
	return strings.Join(states, ", ")
}
