// Package orders is the Orders service, the shop's transaction database:
// it records each purchase as it was made (the books, their titles and
// prices at the time, the amounts, the promotions, the payment and the
// shipping address) and shows a customer their orders.
//
// The slice: the rules of an order (rules.go) and the [Service] here; the
// page tokens of the listings (page.go); the gRPC server of
// bookshop.orders.v1.OrdersService (server.go), with its request rules and
// its authorization entries ([Policy]); its metrics; [Config] and [Run];
// its storage in package sqlite, or in package postgres, which replicas
// share; the Store's contract as tests, run on both, in package
// storetest; and, for callers, package ordersclient.
//
// An order is recorded once: its creation carries an idempotency key,
// recorded in the same transaction as the order and kept as long as it,
// so that Checkout may call again after any failure, at any time, and get
// the order the first call recorded. Orders checks that an order adds up
// (see [Checked]); the prices themselves are Checkout's, which takes them
// from the Catalog.
package orders

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Store is where the Service keeps the orders; *sqlite.DB and
// *postgres.DB are two. The orders it is given have passed Checked and
// have their ID, State, Created and Updated set; times are kept to the
// millisecond. Its promises hold against every other handle on the same
// database (another replica's) at once: a key records one order, and an
// order is cancelled once.
type Store interface {
	// Create records order, with key and the order's fingerprint, in one
	// transaction that no other creation interleaves with, unless key is
	// recorded already: then it records nothing, and returns the order
	// recorded under key and that order's fingerprint, with created
	// false.
	Create(ctx context.Context, key string, fingerprint [sha256.Size]byte, order bookshop.Order) (recorded bookshop.Order, recordedFingerprint [sha256.Size]byte, created bool, err error)
	// Order returns the order id of customer customerID, or of any
	// customer when customerID is 0. Errors: NotFound when there is none.
	Order(ctx context.Context, customerID int32, id string) (bookshop.Order, error)
	// List returns at most limit orders of customer customerID (of every
	// customer when customerID is 0), newest first (by Created, then by
	// ID, both descending), starting after the order recorded at
	// afterCreated with id afterID, or with the newest when afterID is "".
	List(ctx context.Context, customerID int32, afterCreated time.Time, afterID string, limit int) ([]bookshop.Order, error)
	// Cancel sets order id's State to "cancelled" and its Updated to now,
	// unless it is cancelled already, and returns it and whether it
	// changed. Errors: NotFound when there is no order id.
	Cancel(ctx context.Context, id string, now time.Time) (order bookshop.Order, changed bool, err error)
}

// errNoOrder answers a lookup of an order that is not there for the
// caller: unknown, or another customer's. The message is the same for
// both, so that nobody learns which order ids exist.
var errNoOrder = bookshop.Errorf(bookshop.NotFound, "no such order")

// Service is the Orders service: orders kept in a Store. It implements
// [bookshop.Orders], and ListAll and Cancel besides, and is safe for
// concurrent use.
type Service struct {
	store   Store
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time
}

var _ bookshop.Orders = (*Service)(nil)

// Options are what a Service is made with besides its Store. The zero
// value of each field means its default.
type Options struct {
	// Logger receives a line for each order recorded or cancelled;
	// discarded when nil.
	Logger *slog.Logger
	// Metrics is where the Service counts; nothing is counted when nil.
	Metrics *telemetry.Metrics
	// Now is the clock, for the times of the orders; time.Now. For tests.
	Now func() time.Time
}

// NewService returns the Orders service over store, made as opts say.
func NewService(store Store, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, logger: opts.Logger, metrics: newMetrics(opts.Metrics), now: opts.Now}
}

// Create implements [bookshop.Orders]: it records order, checked (see
// [Checked]), in the state "placed", with a new id (see [NewOrderID]) and
// the time now, and returns it as recorded. key makes it happen at most
// once: when key was used before, for the same order (the same
// [Fingerprint]), Create records nothing and returns the order the key
// recorded, as it is now; for another order, it fails with Conflict. The
// key and the order are recorded in one transaction, so that calls with
// the same key at once, or after a crash, record one order between them.
//
// Errors: Invalid for a malformed key or an order that breaks a rule of
// Checked, nothing recorded; Conflict for a key used for another order.
func (s *Service) Create(ctx context.Context, key string, order bookshop.Order) (bookshop.Order, error) {
	if err := CheckKey(key); err != nil {
		s.metrics.refused()
		return bookshop.Order{}, err
	}
	o, err := Checked(order)
	if err != nil {
		s.metrics.refused()
		return bookshop.Order{}, err
	}
	fp := Fingerprint(o)
	now := time.UnixMilli(s.now().UnixMilli()).UTC() // as it reads back
	o.ID, o.State, o.Created, o.Updated = NewOrderID(), ordersclient.StatePlaced, now, now
	got, gotFP, created, err := s.store.Create(ctx, key, fp, o)
	if err != nil {
		return bookshop.Order{}, err
	}
	if !created {
		if gotFP != fp {
			s.metrics.refused()
			return bookshop.Order{}, bookshop.Errorf(bookshop.Conflict, "idempotency key %q was used for another order: use a new key for each order", key)
		}
		s.metrics.replayed()
		return got, nil
	}
	fault.Point("orders/after-create") // recorded, not yet answered
	s.metrics.recorded(got)
	s.logger.InfoContext(ctx, "order recorded", "order", got.ID, "customer", got.CustomerID,
		"lines", len(got.Lines), "total", got.Total.String(), "payment", got.PaymentID)
	return got, nil
}

// Order implements [bookshop.Orders]. Errors: Invalid for a customer id
// under 1 or a malformed order id; NotFound, with the same message, for an
// order id that names no order and for another customer's order.
func (s *Service) Order(ctx context.Context, customerID int32, id string) (bookshop.Order, error) {
	if err := CheckCustomerID(customerID); err != nil {
		return bookshop.Order{}, err
	}
	if err := CheckOrderID(id); err != nil {
		return bookshop.Order{}, err
	}
	o, err := s.store.Order(ctx, customerID, id)
	if bookshop.ErrorCode(err) == bookshop.NotFound {
		return bookshop.Order{}, errNoOrder
	}
	return o, err
}

// List implements [bookshop.Orders]: a page of at most limit of a
// customer's orders (1 to MaxPageSize; 0 for DefaultPageSize), newest
// first, from page (a Next of an earlier page of the customer's; "" for
// the first). Errors: Invalid for a customer id under 1, a limit out of
// range, or a page token that is not one of this customer's listing.
func (s *Service) List(ctx context.Context, customerID int32, page string, limit int) (bookshop.OrderPage, error) {
	if err := CheckCustomerID(customerID); err != nil {
		return bookshop.OrderPage{}, err
	}
	return s.list(ctx, customerID, page, limit, DefaultPageSize, MaxPageSize)
}

// ListAll returns a page of every customer's orders, for reports: at most
// limit (1 to MaxAllPageSize; 0 for DefaultAllPageSize), newest first,
// from page (a Next of an earlier page of ListAll; "" for the first).
// Errors: Invalid for a limit out of range or a page token that is not
// one of ListAll's.
func (s *Service) ListAll(ctx context.Context, page string, limit int) (bookshop.OrderPage, error) {
	return s.list(ctx, 0, page, limit, DefaultAllPageSize, MaxAllPageSize)
}

// list is List and ListAll: a page of customerID's orders (0: every
// customer's).
func (s *Service) list(ctx context.Context, customerID int32, page string, limit, defaultLimit, maxLimit int) (bookshop.OrderPage, error) {
	if err := CheckPageSize(limit, maxLimit); err != nil {
		return bookshop.OrderPage{}, err
	}
	if limit == 0 {
		limit = defaultLimit
	}
	after, err := decodePage(customerID, page)
	if err != nil {
		return bookshop.OrderPage{}, err
	}
	// One more than the page: whether it is there says whether a next
	// page is.
	orders, err := s.store.List(ctx, customerID, after.Created, after.ID, limit+1)
	if err != nil {
		return bookshop.OrderPage{}, err
	}
	p := bookshop.OrderPage{Orders: orders}
	if len(orders) > limit {
		last := orders[limit-1]
		p.Orders, p.Next = orders[:limit], encodePage(customerID, Cursor{Created: last.Created, ID: last.ID})
	}
	return p, nil
}

// Cancel marks order id "cancelled" and returns it; an order cancelled
// already is returned as it is. Only an operator (identity admin) may ask
// for it: the Checkout never cancels an order, as it records one only
// once the charge is made and the stock committed. Errors: Invalid for a
// malformed id; NotFound when there is no order id.
func (s *Service) Cancel(ctx context.Context, id string) (bookshop.Order, error) {
	if err := CheckOrderID(id); err != nil {
		return bookshop.Order{}, err
	}
	o, changed, err := s.store.Cancel(ctx, id, time.UnixMilli(s.now().UnixMilli()).UTC())
	if bookshop.ErrorCode(err) == bookshop.NotFound {
		return bookshop.Order{}, errNoOrder
	}
	if err != nil {
		return bookshop.Order{}, err
	}
	if changed {
		s.metrics.cancelled()
		s.logger.InfoContext(ctx, "order cancelled", "order", o.ID, "customer", o.CustomerID, "total", o.Total.String())
	}
	return o, nil
}
