package checkout_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	checkoutsqlite "github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

var discard = slog.New(slog.DiscardHandler)

// testContext returns a context that ends with the test, or after 60 s.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// eur returns an amount in euro cents.
func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// books are the Catalog of the tests.
var books = []bookshop.Book{
	{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Category: bookshop.Mystery, Price: eur(1250)},
	{ID: 2, Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction, Price: eur(1099)},
	{ID: 3, Title: "Solaris", Author: "Stanisław Lem", Year: 1961, Category: bookshop.ScienceFiction, Price: eur(900)},
	{ID: 4, Title: "The Last Copy", Author: "A. Nonymous", Year: 2020, Category: bookshop.Mystery, Price: eur(500)},
	{ID: 5, Title: "Three Left", Author: "A. Nonymous", Year: 2021, Category: bookshop.Mystery, Price: eur(700)},
}

// dearBooks are books 101 to 111, each at the most a book may cost, none
// in stock: ten copies of each come to more than one payment can take,
// even with one of them free.
var dearBooks = func() []bookshop.Book {
	var dear []bookshop.Book
	for id := int32(101); id <= 111; id++ {
		dear = append(dear, bookshop.Book{ID: id, Title: fmt.Sprintf("Folio %d", id), Author: "A. Nonymous", Year: 1600,
			Category: bookshop.Mystery, Price: eur(bookshop.MaxPriceUnits("EUR"))})
	}
	return dear
}()

// stock is the Inventory's stock at the start of each test.
var stock = map[int32]int{1: 20, 2: 20, 3: 2, 4: 1, 5: 3}

// A server is a service of the shop running for a test: on its address
// until the test ends, or until stop. start runs it again on the same
// address, after a stop.
type server struct {
	addr  string
	run   func(ctx context.Context, lis net.Listener) error
	tb    testing.TB
	mu    sync.Mutex
	stopF func()
}

// serve runs run on a new loopback listener until the test ends.
func serve(tb testing.TB, run func(ctx context.Context, lis net.Listener) error) *server {
	tb.Helper()
	s := &server{addr: "127.0.0.1:0", run: run, tb: tb}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.tb.Helper()
	var (
		lis net.Listener
		err error
	)
	for range 50 { // the port of a server just stopped may take a moment
		if lis, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatalf("listen on %s: %v", s.addr, err)
	}
	s.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, lis) }()
	s.mu.Lock()
	s.stopF = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			s.tb.Errorf("server on %s: %v", s.addr, err)
		}
	})
	s.mu.Unlock()
}

func (s *server) stop() {
	s.mu.Lock()
	stop := s.stopF
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// deps returns the process.Deps of a service of the tests on lis.
func deps(lis net.Listener) process.Deps {
	return process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis}
}

// shopOptions are how a test's shop differs from the usual.
type shopOptions struct {
	paymentsLatency time.Duration
	claimTTL        time.Duration // Promotions' -claim-ttl; its default when 0
	// promotion is the campaign Promotions runs; when zero, "buy two
	// books, get the third free", which the tests' carts and totals are
	// of, whichever campaign the shop runs now.
	promotion promotions.Promotion
}

// shop is every service a Checkout calls, real, on loopback, each with
// its database in a file of the test's own, and their clients.
type shop struct {
	catalog, cart, inventory, payments, orders, promotions *server

	// paymentsCalls counts the calls Payments served, by method.
	paymentsCalls *rpctest.Calls

	carts     *cartclient.Client
	stock     *inventoryclient.Client
	charges   *paymentsclient.Client
	orderBook *ordersclient.Client
	promos    *promotionsclient.Client

	// promotion is the code of the campaign Promotions runs: what an
	// order with its discount records.
	promotion string
}

// startShop runs the Catalog (books), the Cart, the Inventory (stock),
// Payments, Orders and Promotions (its campaign on from its start) until
// the test ends.
func startShop(tb testing.TB, opts shopOptions) *shop {
	tb.Helper()
	dir := tb.TempDir()
	promo := opts.promotion
	if promo.Rule == nil {
		promo = promotions.BuyTwoGetOneFree()
	}
	s := &shop{promotion: promo.Code}
	s.catalog = serveCatalog(tb, slices.Concat(books, dearBooks))
	s.cart = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := cart.DefaultConfig()
		cfg.DB, cfg.CatalogHost = filepath.Join(dir, "cart.db"), s.catalog.addr
		return cart.Run(ctx, cfg, deps(lis))
	})
	s.inventory = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := inventory.DefaultConfig()
		cfg.DB, cfg.Seed = filepath.Join(dir, "inventory.db"), stock
		return inventory.Run(ctx, cfg, deps(lis))
	})
	s.paymentsCalls = &rpctest.Calls{}
	s.payments = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := payments.DefaultConfig()
		cfg.DB, cfg.Latency = filepath.Join(dir, "payments.db"), opts.paymentsLatency
		d := deps(lis)
		d.Logger = slog.New(s.paymentsCalls)
		return payments.Run(ctx, cfg, d)
	})
	s.orders = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := orders.DefaultConfig()
		cfg.DB = filepath.Join(dir, "orders.db")
		return orders.Run(ctx, cfg, deps(lis))
	})
	s.promotions = serve(tb, func(ctx context.Context, lis net.Listener) error {
		cfg := promotions.DefaultConfig()
		cfg.DB, cfg.Promotion = filepath.Join(dir, "promotions.db"), promo
		if opts.claimTTL > 0 {
			cfg.ClaimTTL = opts.claimTTL
		}
		return promotions.Run(ctx, cfg, deps(lis))
	})
	s.carts = cartclient.New(dial(tb, s.cart.addr), 5*time.Second)
	s.stock = inventoryclient.New(dial(tb, s.inventory.addr), 5*time.Second)
	s.charges = paymentsclient.New(dial(tb, s.payments.addr), 5*time.Second)
	s.orderBook = ordersclient.New(dial(tb, s.orders.addr), 5*time.Second)
	s.promos = promotionsclient.New(dial(tb, s.promotions.addr), 5*time.Second)
	return s
}

// serveCatalog runs a Catalog of books, in memory, until the test ends.
func serveCatalog(tb testing.TB, books []bookshop.Book) *server {
	tb.Helper()
	db, err := catalogsqlite.Open(testContext(tb), catalogsqlite.Memory, books)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return serve(tb, func(ctx context.Context, lis net.Listener) error {
		srv, err := catalog.NewGRPCServer(catalog.NewService(db, "EUR", 0, nil), deps(lis))
		if err != nil {
			return err
		}
		return srv.Run(ctx, lis)
	})
}

// dial returns a connection to addr with Bookshop's client settings,
// closed when the test ends.
func dial(tb testing.TB, addr string) *grpc.ClientConn {
	tb.Helper()
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// checkoutUnderTest is a Checkout served over gRPC for a test: its
// Service, its saga log, and a client of it.
type checkoutUnderTest struct {
	svc  *checkout.Service
	log  *checkoutsqlite.DB
	path string // the saga log's file
	addr string // where it serves gRPC
	// client is a plain gRPC client of it, which retries nothing.
	client *checkoutclient.Client
}

// startCheckout runs a Checkout over the services of s, made with opts,
// its saga log in a file of the test's, until the test ends.
func startCheckout(tb testing.TB, s *shop, opts checkout.Options) *checkoutUnderTest {
	tb.Helper()
	return startCheckoutWith(tb, s, opts, nil)
}

// startCheckoutWith is startCheckout, with the Deps of the Service changed
// by change (when not nil) before it is made: a test puts a fake in front
// of a real service's client.
func startCheckoutWith(tb testing.TB, s *shop, opts checkout.Options, change func(*checkout.Deps)) *checkoutUnderTest {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "checkout.db")
	db, err := checkoutsqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 5 * time.Second
	}
	d := checkout.Deps{
		Carts:      s.carts,
		Catalog:    catalogclient.New(dial(tb, s.catalog.addr), opts.CallTimeout),
		Inventory:  s.stock,
		Payments:   s.charges,
		Orders:     s.orderBook,
		Promotions: promotionsclient.New(dial(tb, s.promotions.addr), opts.CallTimeout),
		Store:      db,
	}
	if change != nil {
		change(&d)
	}
	svc := checkout.NewService(d, opts)
	srv := serve(tb, func(ctx context.Context, lis net.Listener) error {
		d := deps(lis)
		if opts.Logger != nil {
			d.Logger = opts.Logger
		}
		g, err := checkout.NewGRPCServer(svc, d)
		if err != nil {
			return err
		}
		return g.Run(ctx, lis)
	})
	tb.Cleanup(func() { svc.Wait(context.Background()) })
	return &checkoutUnderTest{svc: svc, log: db, path: path, addr: srv.addr, client: checkoutclient.New(rpctest.Dial(tb, srv.addr), 30*time.Second)}
}

// fill adds books to cart id: pairs of book id and quantity.
func (s *shop) fill(tb testing.TB, id string, pairs ...int) {
	tb.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if _, err := s.carts.Add(testContext(tb), id, int32(pairs[i]), pairs[i+1], ""); err != nil {
			tb.Fatalf("add %d of book %d to %s: %v", pairs[i+1], pairs[i], id, err)
		}
	}
}

// card returns a test card of number, good for two years.
func card(number string) bookshop.Card {
	return bookshop.Card{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123", Name: "Ada Lovelace"}
}

// address is a shipping address of the tests.
var address = bookshop.Address{Name: "Ada Lovelace", Line1: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"}

// order returns what customer confirms at checkout for their cart
// "c-<customer>": total, with key and the card of number.
func order(customer int32, key string, total bookshop.Money, number string) bookshop.PlaceOrder {
	return bookshop.PlaceOrder{
		Key: key, CustomerID: customer, CartID: cartOf(customer), Total: total, Shipping: address, Card: card(number),
	}
}

// cartOf returns the cart id of customer, as the Marketplace names it.
func cartOf(customer int32) string { return fmt.Sprintf("c-%d", customer) }

// levels returns the stock levels of ids, by id.
func (s *shop) levels(tb testing.TB, ids ...int32) map[int32]inventoryclient.Level {
	tb.Helper()
	ls, err := s.stock.Levels(testContext(tb), ids)
	if err != nil {
		tb.Fatalf("Levels: %v", err)
	}
	m := make(map[int32]inventoryclient.Level, len(ls))
	for _, l := range ls {
		m[l.BookID] = l
	}
	return m
}

// invariants checks, through the services' clients, what must hold of a
// customer's checkout with key once it has ended: it has ended; its
// charge, if any, is approved exactly when it placed an order, and is
// otherwise refunded (or none, or declined); the customer has at most
// that one order, which was paid by that charge, of the order's total,
// the one the shopper confirmed; no hold is left; the stock on hand is
// what it was (before) less what the order bought; the cart has lost
// exactly the lines bought (cartBefore is the count before, extra the
// copies added since); and the customer's use of the promotion is spent
// exactly when the order has its discount, and is held by no claim
// otherwise. It returns the record.
func (c *checkoutUnderTest) invariants(tb testing.TB, s *shop, customer int32, key string, before map[int32]inventoryclient.Level, cartBefore int) *saga.Record {
	tb.Helper()
	ctx := testContext(tb)
	r, err := c.log.Get(ctx, customer, key)
	if err != nil || r == nil {
		tb.Fatalf("the saga log has no record of %d/%s: %v", customer, key, err)
	}
	return checkInvariants(tb, s, r, before, cartBefore)
}

// checkInvariants is invariants for the record r, read from a saga log.
func checkInvariants(tb testing.TB, s *shop, r *saga.Record, before map[int32]inventoryclient.Level, cartBefore int) *saga.Record {
	tb.Helper()
	ctx := testContext(tb)
	if !r.State.Ended() {
		tb.Errorf("checkout %s is %s, want it ended", r.ID, r.State)
	}
	page, err := s.orderBook.List(ctx, r.CustomerID, "", 50)
	if err != nil {
		tb.Fatalf("List orders: %v", err)
	}
	charge, err := s.charges.ChargeByKey(ctx, r.PayKey())
	switch {
	case bookshop.ErrorCode(err) == bookshop.NotFound:
	case err != nil:
		tb.Fatalf("ChargeByKey: %v", err)
	}
	placed := r.State == saga.Done
	switch {
	case placed && len(page.Orders) != 1:
		tb.Errorf("checkout %s done, and its customer has %d orders, want 1", r.ID, len(page.Orders))
	case !placed && len(page.Orders) != 0:
		tb.Errorf("checkout %s failed (%s), and its customer has %d orders, want none", r.ID, r.ErrMessage, len(page.Orders))
	}
	switch {
	case placed && (charge.State != paymentsclient.StateApproved || page.Orders[0].PaymentID != charge.ID):
		tb.Errorf("checkout %s placed order %+v, paid by charge %+v; want an approved charge that paid it", r.ID, page.Orders, charge)
	case placed && page.Orders[0].ID != r.Order.ID:
		tb.Errorf("checkout %s recorded order %s, Orders has %s", r.ID, r.Order.ID, page.Orders[0].ID)
	case placed && (charge.Amount != page.Orders[0].Total || r.Confirmed != (bookshop.Money{}) && charge.Amount != r.Confirmed):
		tb.Errorf("checkout %s charged %s for order %+v, confirmed %s; want the order's total, the one confirmed", r.ID, charge.Amount, page.Orders[0], r.Confirmed)
	case !placed && charge.State == paymentsclient.StateApproved:
		tb.Errorf("checkout %s failed, and its charge %s is approved: a charge without an order", r.ID, charge.ID)
	}
	var discounted bool
	if placed && len(page.Orders) == 1 {
		discounted = len(page.Orders[0].Promotions) > 0
		if o := page.Orders[0]; discounted != (o.Discount.Units > 0) || discounted && !reflect.DeepEqual(o.Promotions, []string{s.promotion}) {
			tb.Errorf("checkout %s placed order %+v: want promotions %q with a discount, or neither", r.ID, o, s.promotion)
		}
	}
	if s.promos != nil {
		checkPromotion(tb, s.promos, r.CustomerID, discounted)
	}
	ids := make([]int32, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	after := s.levels(tb, ids...)
	for id, was := range before {
		want := was.OnHand
		if placed {
			for _, l := range r.Lines {
				if l.BookID == id {
					want -= l.Quantity
				}
			}
		}
		if got := after[id]; got.OnHand != want || got.Held != was.Held {
			tb.Errorf("book %d after checkout %s: %d on hand, %d held; want %d on hand, %d held", id, r.ID, got.OnHand, got.Held, want, was.Held)
		}
	}
	n, err := s.carts.Count(ctx, r.CartID)
	if err != nil {
		tb.Fatalf("Count: %v", err)
	}
	want := cartBefore
	if placed {
		for _, l := range r.Lines {
			want -= l.Quantity
		}
	}
	if n != want {
		tb.Errorf("cart %s after checkout %s (%s) holds %d copies, want %d", r.CartID, r.ID, r.State, n, want)
	}
	return r
}

// threeBooks are lines that earn the promotion, to ask Promotions whether
// a customer may still use it.
var threeBooks = []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(1250), Quantity: 3}}

// checkPromotion checks that customer's use of the promotion is spent if
// spent, and otherwise free: neither spent nor held by a claim (the
// promotion still prices a cart of three books for them).
func checkPromotion(tb testing.TB, promos *promotionsclient.Client, customer int32, spent bool) {
	tb.Helper()
	ctx := testContext(tb)
	offer, err := promos.Offer(ctx, customer)
	if err != nil {
		tb.Fatalf("Offer(%d): %v", customer, err)
	}
	if offer.Eligible == spent {
		tb.Errorf("customer %d may use the promotion: %v, want %v (an order with its discount: %v)", customer, offer.Eligible, !spent, spent)
	}
	if spent {
		return
	}
	if _, ok, err := promos.Price(ctx, customer, threeBooks); err != nil || !ok {
		tb.Errorf("Price(customer %d, three books) = %v, %v; want the discount: no claim left holding their use", customer, ok, err)
	}
}

// recoverUntilEnded runs the recoverer until the checkout of customer's
// key has ended, for at most 20 s: a service just started again may take
// a moment to be reached (the connection's reconnection backoff).
func (c *checkoutUnderTest) recoverUntilEnded(tb testing.TB, customer int32, key string) {
	tb.Helper()
	recoverUntilEnded(tb, c.svc, c.log, customer, key)
}

// recoverUntilEnded runs the recoverer of svc until the checkout of
// customer's key, in the saga log log, has ended, for at most 20 s.
func recoverUntilEnded(tb testing.TB, svc *checkout.Service, log *checkoutsqlite.DB, customer int32, key string) {
	tb.Helper()
	ctx := testContext(tb)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := svc.Recover(ctx); err != nil {
			tb.Fatalf("Recover: %v", err)
		}
		if r, err := log.Get(ctx, customer, key); err == nil && r != nil && r.State.Ended() {
			return
		}
	}
	tb.Fatalf("checkout %d/%s did not end within 20s of recovery", customer, key)
}

// restartCheckout returns a Checkout's Service started again over c's
// saga log, as after c's process was killed: it knows c's checkouts by
// their records alone. It calls the services of s, and Promotions
// through promos, with the default call timeout; it serves no requests.
func restartCheckout(tb testing.TB, s *shop, c *checkoutUnderTest, promos checkout.Promotions) *checkout.Service {
	tb.Helper()
	db, err := checkoutsqlite.Open(testContext(tb), c.path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc := checkout.NewService(checkout.Deps{
		Carts:      s.carts,
		Catalog:    catalogclient.New(dial(tb, s.catalog.addr), checkout.DefaultCallTimeout),
		Inventory:  s.stock,
		Payments:   s.charges,
		Orders:     s.orderBook,
		Promotions: promos,
		Store:      db,
	}, checkout.Options{CallTimeout: checkout.DefaultCallTimeout})
	tb.Cleanup(func() { svc.Wait(context.Background()) })
	return svc
}
