package checkout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Carts is what Checkout needs of the Cart: a cart's lines, unpriced (the
// Checkout prices them from the Catalog itself), and the removal of the
// lines bought. *cartclient.Client is one.
type Carts interface {
	Lines(ctx context.Context, id string) ([]bookshop.CartLine, error)
	RemoveLines(ctx context.Context, id string, lines []bookshop.StockLine, key string) (int, error)
}

// Catalog is what Checkout needs of the Catalog: the books of some ids,
// with their current prices, leaving out the ids it has no book for.
// *catalogclient.Client is one.
type Catalog interface {
	Books(ctx context.Context, ids []int32) ([]bookshop.Book, error)
}

// Inventory is what Checkout needs of the Inventory: the stock, and holds
// reserved, committed and released (see [bookshop.Inventory]).
// *inventoryclient.Client is one.
type Inventory interface {
	Stock(ctx context.Context, ids []int32) (map[int32]int, error)
	Reserve(ctx context.Context, key string, lines []bookshop.StockLine, ttl time.Duration) (bookshop.Reservation, error)
	Commit(ctx context.Context, id string) (bookshop.Reservation, error)
	Release(ctx context.Context, id string) (bookshop.Reservation, error)
}

// Payments is what Checkout needs of the Payments service: a charge once
// for a key, the charge a key made, and the refund of a key's charge,
// which cancels a key that made none (see paymentsclient.Client).
type Payments interface {
	Charge(ctx context.Context, key string, amount bookshop.Money, card bookshop.Card) (bookshop.Charge, error)
	ChargeByKey(ctx context.Context, key string) (bookshop.Charge, error)
	RefundKey(ctx context.Context, key string) (bookshop.Charge, error)
}

// Orders is what Checkout needs of the Orders service: an order recorded
// once for a key. *ordersclient.Client is one.
type Orders interface {
	Create(ctx context.Context, key string, order bookshop.Order) (bookshop.Order, error)
}

// Promotions is what Checkout needs of the Promotions service: the offer
// (for its MinBooks: which carts are worth asking about), the discount a
// cart would get now, and the customer's one use of the promotion
// claimed, confirmed and released under a checkout's key (see
// [bookshop.Promotions]). *promotionsclient.Client is one.
type Promotions interface {
	Offer(ctx context.Context, customerID int32) (bookshop.Offer, error)
	Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error)
	Claim(ctx context.Context, customerID int32, key string, lines []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error)
	Confirm(ctx context.Context, customerID int32, key string) error
	Release(ctx context.Context, customerID int32, key string) error
}

// noPromotions is the Promotions of a Service made without one: no cart
// earns a discount.
type noPromotions struct{}

func (noPromotions) Offer(context.Context, int32) (bookshop.Offer, error) {
	return bookshop.Offer{}, nil
}

func (noPromotions) Price(context.Context, int32, []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	return bookshop.Discount{}, false, nil
}

func (noPromotions) Claim(context.Context, int32, string, []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	return bookshop.Discount{}, bookshop.ClaimNotEarned, nil
}

func (noPromotions) Confirm(context.Context, int32, string) error { return nil }
func (noPromotions) Release(context.Context, int32, string) error { return nil }

// Store is the saga log: where the Service records its checkouts, each
// change on disk before it returns, except those of BeginUnsynced and
// SaveUnsynced. *sqlite.DB and *postgres.DB are two.
// Each record carries the lease of the replica that works on it (see
// saga.Lease): an owner writes only the records it leases.
type Store interface {
	// Get returns the record of a customer's key, or nil when there is
	// none.
	Get(ctx context.Context, customerID int32, key string) (*saga.Record, error)
	// Begin records r as the checkout of its customer and key, leased to
	// lease's owner for its TTL. When the key has a record already, it
	// replaces only one that failed with Unavailable (see
	// saga.Record.Retryable), and fails with saga.ErrKeyTaken for any
	// other: of replicas that begin one key at once, one succeeds. It
	// fails with saga.ErrCartBusy while a record of another key of the
	// customer, of the same cart, has not ended, or placed its order
	// after since (a mark of PlacedMark's, or saga.NoMark): of replicas
	// that begin checkouts of one cart at once, under any keys, one
	// succeeds.
	Begin(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error
	// PlacedMark returns the log's mark of the checkouts that have placed
	// their orders so far (see saga.Mark), or saga.NoMark when the log
	// keeps none.
	PlacedMark(ctx context.Context) (saga.Mark, error)
	// Lease returns the record of a customer's key (nil when there is
	// none) and, when it has not ended and no other owner's lease runs on
	// it, leases it to lease's owner for its TTL, and reports true; of
	// replicas that lease one checkout at once, one gets it. It reports
	// false for a record that ended or that another's lease holds.
	Lease(ctx context.Context, customerID int32, key string, lease saga.Lease) (*saga.Record, bool, error)
	// EndLease ends owner's lease on the record of a customer's key, if
	// owner holds it.
	EndLease(ctx context.Context, customerID int32, key, owner string) error
	// Save writes r over the record of its customer, key and ID that
	// owner leases; a record that ends ends the lease. It fails with
	// saga.ErrNotHeld when there is no such record.
	Save(ctx context.Context, r *saga.Record, owner string) error
	// BeginUnsynced and SaveUnsynced are Begin and Save, but may return
	// before their change is on the disk: a crash of the process loses
	// none of it, a power cut may, until the next durable write (Begin,
	// Save, Postpone, ...) or Sync has returned. The Service writes so
	// only what it syncs before anything rests on it (the checkout begun,
	// the claim's answer: synced before the card is charged), and the
	// steps that a checkout taken back to the one before them does again
	// by their keys (Charged; Committed, with the claim confirmed).
	BeginUnsynced(ctx context.Context, r *saga.Record, lease saga.Lease, since saga.Mark) error
	SaveUnsynced(ctx context.Context, r *saga.Record, owner string) error
	// Sync returns once every change that BeginUnsynced and SaveUnsynced
	// made before the call is on the disk.
	Sync(ctx context.Context) error
	// Unfinished returns at most limit records that have not ended, are
	// due at now (NextTry zero or not after now), and that no lease but
	// owner's holds: those paid for and without an order (Charged,
	// Committed) first, then by NextTry, then those changed least
	// recently first.
	Unfinished(ctx context.Context, owner string, now time.Time, limit int) ([]*saga.Record, error)
	// Postpone writes r's Attempts and NextTry over the record of its
	// customer, key and ID that owner leases, in r's state, and nothing
	// else. It fails with saga.ErrNotHeld when there is no such record.
	Postpone(ctx context.Context, r *saga.Record, owner string) error
	// CountUnfinished returns how many records have not ended, and when
	// the oldest of them was created (zero when none).
	CountUnfinished(ctx context.Context) (n int, oldest time.Time, err error)
	// DeleteEnded deletes the records that ended (Done or Failed) before
	// before, and returns how many.
	DeleteEnded(ctx context.Context, before time.Time) (int, error)
}

// Deps are the services and the saga log a Service works with.
type Deps struct {
	Carts     Carts
	Catalog   Catalog
	Inventory Inventory
	Payments  Payments
	Orders    Orders
	// Promotions gives the orders their discount; when nil, none does,
	// and every cart is quoted and charged at its full price.
	Promotions Promotions
	Store      Store
}

// The defaults of Options.
const (
	DefaultHoldTTL      = 10 * time.Minute
	DefaultPlaceTimeout = 30 * time.Second
	DefaultCallTimeout  = 3 * time.Second
	DefaultMaxCheckouts = 64
)

// The recoverer's bounds: the most unfinished checkouts one Recover takes
// up, and how many at once.
const (
	recoverBatch   = 100
	recoverWorkers = 4
)

// The recoverer's backoff: a checkout that stalls again waits twice as
// long as the last time, from firstRetryDelay up to maxRetryDelay, before
// it is taken up again.
const (
	firstRetryDelay = time.Second
	maxRetryDelay   = 5 * time.Minute
)

// retryDelay returns how long a checkout that has stalled attempts times
// in a row (1 or more) waits before the recoverer takes it up again.
func retryDelay(attempts int) time.Duration {
	d := firstRetryDelay
	for i := 1; i < attempts && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// leaseMargin is how much longer a lease runs than a checkout may (the
// Service's PlaceTimeout, which bounds whatever it does under a lease):
// room for the time between taking the lease and the start of the
// timeout, and for the database's clock and the process's to drift.
const leaseMargin = 5 * time.Second

// The bounds of the wait of a request whose checkout another replica
// works on: it asks again after firstLeaseWait, then twice as long each
// time, up to maxLeaseWait.
const (
	firstLeaseWait = 20 * time.Millisecond
	maxLeaseWait   = 500 * time.Millisecond
)

// stuckAge is the age past which an unfinished checkout is warned about,
// at each Recover, in the log.
const stuckAge = 15 * time.Minute

// cartWindow is how long after a checkout began the Service still takes
// its lines out of the cart: less than the Cart keeps the removal's key
// (24 hours), so that a removal done again is still recognised and done
// once. A checkout whose cart could not be reached for so long keeps its
// lines in the cart, and says so in the log.
const cartWindow = 12 * time.Hour

// Options are what a Service is made with besides its Deps. The zero value
// of each field means its default.
type Options struct {
	// Logger receives what the checkouts do; discarded when nil.
	Logger *slog.Logger
	// Metrics is where the Service counts; nothing is counted when nil.
	Metrics *telemetry.Metrics
	// HoldTTL is how long a checkout's hold on the stock lasts, if it is
	// neither committed nor released: DefaultHoldTTL.
	HoldTTL time.Duration
	// PlaceTimeout bounds a checkout from start to end, its steps and
	// their undoing included: DefaultPlaceTimeout. A caller that gives up
	// sooner does not stop the checkout.
	PlaceTimeout time.Duration
	// CallTimeout bounds each call to another service:
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxCheckouts is the most checkouts run at once; more wait for one to
	// end: DefaultMaxCheckouts.
	MaxCheckouts int
	// Now is the clock, for the records' times; time.Now. For tests.
	Now func() time.Time
	// Replica names the Service in the leases it takes of the checkouts
	// it works on (see saga.Lease): replicas that share a saga log need
	// names of their own. A random one when empty. Run gives a process on
	// an SQLite file, which no other process shares, a fixed one, so that
	// a restart takes up at once the checkouts its last run held.
	Replica string
}

// Service is the Checkout: it quotes carts, places orders as sagas over
// the other services, and finishes or undoes the checkouts left
// unfinished. It implements [bookshop.Checkout] and is safe for
// concurrent use.
type Service struct {
	deps    Deps
	logger  *slog.Logger
	metrics *metrics
	opts    Options

	slots   chan struct{}  // one for each checkout running
	running sync.WaitGroup // the checkouts running, for Wait

	mu     sync.Mutex
	claims map[claimKey]chan struct{} // the checkouts worked on, closed when done

	offer offerMemory // the promotion's offer, for its MinBooks
}

// claimKey names a checkout: its customer and key.
type claimKey struct {
	customer int32
	key      string
}

// NewService returns the Checkout over deps, made as opts say.
func NewService(deps Deps, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HoldTTL <= 0 {
		opts.HoldTTL = DefaultHoldTTL
	}
	if opts.PlaceTimeout <= 0 {
		opts.PlaceTimeout = DefaultPlaceTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxCheckouts <= 0 {
		opts.MaxCheckouts = DefaultMaxCheckouts
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Replica == "" {
		opts.Replica = "checkout-" + bookshop.NewID()
	}
	if deps.Promotions == nil {
		deps.Promotions = noPromotions{}
	}
	return &Service{
		deps:    deps,
		logger:  opts.Logger,
		metrics: newMetrics(opts.Metrics),
		opts:    opts,
		slots:   make(chan struct{}, opts.MaxCheckouts),
		claims:  make(map[claimKey]chan struct{}),
	}
}

var _ bookshop.Checkout = (*Service)(nil)

// The errors of a checkout whose outcome the caller cannot know yet.
var (
	errUnsure = bookshop.Errorf(bookshop.Unavailable,
		"the checkout did not finish in time: send the same order again (the same key) to learn whether it was placed; you will not be charged twice")
	errBusy = bookshop.Errorf(bookshop.Unavailable,
		"the checkout is busy: send the same order again (the same key) in a moment to learn whether it was placed; you will not be charged twice")
	errPaymentUnsure = bookshop.Errorf(bookshop.Unavailable,
		"the payment service could not be reached to confirm your payment: send the same order again in a moment to learn whether it was placed; you will not be charged twice")
	errCompleting = bookshop.Errorf(bookshop.Unavailable,
		"your payment went through, and your order is being completed: it will be in your orders within minutes, or, if it cannot be, your payment will be refunded")
)

// The refusals of a checkout of a cart whose lines are not those
// confirmed (PlaceOrder.LinesDigest), or that another checkout may be
// buying: nothing was charged (see Store.Begin and Service.recheck).
var (
	errAnotherCheckout = bookshop.Errorf(bookshop.Conflict,
		"another checkout of this cart is under way, or has just placed its order: nothing was charged for this one; wait a moment, then look at your orders and check out what is still in your cart")
	errLinesChanged = bookshop.Errorf(bookshop.Conflict,
		"your cart changed since you confirmed it: nothing was charged; check your cart and its total, then confirm again")
	errCartChanged = bookshop.Errorf(bookshop.Conflict,
		"your cart changed while it was checked out: nothing was charged; check your cart and its total, then check out again")
	// errNotGoneOn answers a checkout that recheck could not fail on
	// record: unfinished, it is the recoverer's, which undoes it (it
	// has no card to charge).
	errNotGoneOn = bookshop.Errorf(bookshop.Unavailable,
		"the checkout could not go on right now: nothing was charged; send the same order again in a moment")
)

// Quote implements [bookshop.Checkout]: the cart's lines priced from the
// Catalog now, the subtotal, the discount that Promotions gives the
// customer's cart now, whatever its campaign (its amount in Discount, its
// line for people in DiscountLabel, the book it makes a copy of free, if
// any, in FreeBookID, the promotion's code in Promotions) and the total,
// subtotal less discount; and the lines that cannot be
// bought as they are (Short: too few copies in stock, or a book no
// longer sold), the stock as the Inventory gave it within the stock
// cache's TTL (Config.StockCache: a hint; Place reserves at the
// Inventory). When Promotions cannot answer in time (a second at most,
// and half of what is left of ctx's deadline: see promotionsCall), the
// cart is quoted at its full price, which Place charges if Promotions
// still cannot answer then. An empty cart has a Quote without lines and
// zero amounts.
// Errors: Invalid for a customer id under 1 or a malformed cart id;
// Unavailable when the Cart, the Catalog or the Inventory cannot be
// reached.
func (s *Service) Quote(ctx context.Context, customerID int32, cartID string) (bookshop.Quote, error) {
	if err := CheckCustomer(customerID); err != nil {
		return bookshop.Quote{}, err
	}
	if err := CheckCartID(cartID); err != nil {
		return bookshop.Quote{}, err
	}
	q, unsold, err := s.price(ctx, cartID)
	if err != nil || len(q.Lines) == 0 {
		return q, forQuote(err)
	}
	ids := make([]int32, len(q.Lines))
	for i, l := range q.Lines {
		ids[i] = l.BookID
	}
	// The stock and the discount at once: neither needs the other.
	var (
		wg       sync.WaitGroup
		discount bookshop.Discount
		earned   bool
	)
	wg.Go(func() { discount, earned = s.discount(ctx, customerID, q) })
	cctx, cancel := s.call(ctx)
	stock, err := s.deps.Inventory.Stock(cctx, ids)
	cancel()
	wg.Wait()
	if err != nil {
		return bookshop.Quote{}, forQuote(s.dependency(ctx, "the stock service", err))
	}
	if earned {
		q.Discount, q.Total = discount.Amount, minus(q.Subtotal, discount.Amount)
		q.Promotions, q.DiscountLabel = []string{discount.Code}, discount.Label
		if slices.ContainsFunc(q.Lines, func(l bookshop.OrderLine) bool { return l.BookID == discount.BookID }) {
			q.FreeBookID = discount.BookID
		}
	}
	q.Short = Short(q, unsold, stock)
	return q, nil
}

// mayEarn reports whether the lines of q may earn a promotion's
// discount, so that Promotions is asked only about the carts that may:
// by the offer's MinBooks (see currentOffer), the one thing the Checkout
// knows of a campaign. A cart of fewer copies (one or two books, for
// "buy two, get one free": most carts) is quoted without a call to
// Promotions and placed without a claim (a call, and a write to the saga
// log), alike whether Promotions is up or not. So is every cart while the
// Checkout has no offer (Promotions has not answered since it started):
// no discount could be had then either; known is false then. False, and
// known, for a Service made without Promotions.
func (s *Service) mayEarn(ctx context.Context, q bookshop.Quote) (may, known bool) {
	if _, none := s.deps.Promotions.(noPromotions); none {
		return false, true
	}
	offer, ok := s.currentOffer(ctx)
	return ok && offer.MayEarn(bookshop.PromoLinesOfOrder(q.Lines)), ok
}

// discount returns the discount Promotions gives q for customerID now
// (its amount, the book it makes free if any, the promotion's code, its
// label), and true; or false when q's lines do not earn it (see mayEarn),
// when the customer may not use it (used, or held by another of their
// checkouts), or when Promotions cannot answer in time (logged), so that
// the shopper is shown the full price. In time is within the budget of
// promotionsCall, for the offer, if the Checkout must wait for it, and
// the price together.
func (s *Service) discount(ctx context.Context, customerID int32, q bookshop.Quote) (bookshop.Discount, bool) {
	pctx, cancel := s.promotionsCall(ctx)
	defer cancel()
	if may, _ := s.mayEarn(pctx, q); !may {
		return bookshop.Discount{}, false
	}
	d, ok, err := s.deps.Promotions.Price(pctx, customerID, bookshop.PromoLinesOfOrder(q.Lines))
	switch {
	case err != nil:
		s.logger.WarnContext(ctx, "Promotions did not price a cart: quoted at its full price", "err", err)
		return bookshop.Discount{}, false
	case !ok:
		return bookshop.Discount{}, false
	case !wellFormed(d, q.Subtotal):
		s.logger.ErrorContext(ctx, "Promotions priced a cart with a discount that cannot be its: quoted at its full price",
			"discount", d.Amount.String(), "subtotal", q.Subtotal.String(), "code", d.Code)
		return bookshop.Discount{}, false
	}
	return d, true
}

// fits reports whether discount can be taken off subtotal: more than
// zero, in its currency, and less than it, so that something is left to
// pay.
func fits(discount, subtotal bookshop.Money) bool {
	return discount.Currency == subtotal.Currency && discount.Units > 0 && discount.Units < subtotal.Units
}

// wellFormed reports whether d can be the discount of an order of
// subtotal: its amount fits it (see fits), and it names the promotion
// that gives it, which the order records. A discount without a code is
// malformed, as one that does not fit: the Checkout cannot tell which
// promotion it is, and does not guess.
func wellFormed(d bookshop.Discount, subtotal bookshop.Money) bool {
	return d.Code != "" && fits(d.Amount, subtotal)
}

// minus returns subtotal less discount, which fits it (see fits).
func minus(subtotal, discount bookshop.Money) bookshop.Money {
	return bookshop.Money{Units: subtotal.Units - discount.Units, Currency: subtotal.Currency}
}

// couldBe reports whether total could be one that a quote of q gave: q's
// full price; or, when q's lines may earn a discount, any total a
// discount could leave (more than zero, less than the subtotal, in its
// currency), whatever the campaign's discount is. Which discount it is,
// the claim says: the Checkout charges a total below the full price only
// when it is the subtotal less the discount its claim was granted, as
// recorded before the charge (see holdAndCharge).
//
// The cost of knowing no campaign: a total that no discount of the
// campaign leaves, but that is between zero and the subtotal, is refused
// only once the claim answers, after the checkout was recorded in the
// saga log, its stock held and its claim made (and then released, the
// stock too, nothing charged); a total outside those bounds is refused
// here, before any of it. That cost is paid by a checkout whose discount
// changed since its quote (a price or the cart changed: rare), and by a
// request with a total made up rather than quoted (the checkout page
// confirms the quote's), which the Marketplace's rate limits bound.
func couldBe(q bookshop.Quote, total bookshop.Money, mayEarn bool) bool {
	if total == q.Total {
		return true
	}
	return mayEarn && total.Currency == q.Subtotal.Currency && total.Units > 0 && total.Units < q.Subtotal.Units
}

// totalChanged returns the Conflict of a checkout whose total is now
// another than the one the shopper confirmed, and why.
func totalChanged(now, confirmed bookshop.Money, why string) *bookshop.Error {
	return bookshop.Errorf(bookshop.Conflict,
		"the total is now %s, not the %s you confirmed: %s; check the new total and confirm it", now.Format(), confirmed.Format(), why)
}

// offerNotApplied returns the Conflict of a checkout whose shopper
// confirmed a discount that its order did not get, with the sentence that
// says why (see notApplied).
func offerNotApplied(now, confirmed bookshop.Money, sentence string) *bookshop.Error {
	return bookshop.Errorf(bookshop.Conflict,
		"the total is now %s, not the %s you confirmed. %s Check the new total and confirm it.", now.Format(), confirmed.Format(), sentence)
}

// The sentences that tell a shopper why the offer their total had is not
// their order's (see notApplied): short, and about them, never about the
// services.
const (
	sentenceUsed       = "The offer was not applied: you have already used it."
	sentenceHeld       = "The offer was not applied: another checkout of yours, still in progress, is using it."
	sentenceInactive   = "The offer was not applied: it has ended."
	sentenceNotEarned  = "The offer was not applied: your order no longer qualifies for it."
	sentenceRefused    = "The offer was not applied to your order."
	sentenceUnanswered = "The offer could not be applied right now."
)

// notApplied returns the sentence for a shopper whose claim Promotions
// refused with outcome.
func notApplied(outcome bookshop.ClaimOutcome) string {
	switch outcome {
	case bookshop.ClaimUsed:
		return sentenceUsed
	case bookshop.ClaimHeld:
		return sentenceHeld
	case bookshop.ClaimInactive:
		return sentenceInactive
	case bookshop.ClaimNotEarned:
		return sentenceNotEarned
	}
	return sentenceRefused
}

// price reads cart cartID and prices its lines from the Catalog (see
// Priced). Errors: Unavailable when the Cart or the Catalog cannot be
// reached.
func (s *Service) price(ctx context.Context, cartID string) (bookshop.Quote, []int32, error) {
	cctx, cancel := s.call(ctx)
	lines, err := s.deps.Carts.Lines(cctx, cartID)
	cancel()
	if err != nil {
		return bookshop.Quote{}, nil, s.dependency(ctx, "the cart service", err)
	}
	if len(lines) == 0 {
		return bookshop.Quote{}, nil, nil
	}
	ids := make([]int32, len(lines))
	for i, l := range lines {
		ids[i] = l.Book.ID
	}
	cctx, cancel = s.call(ctx)
	books, err := s.deps.Catalog.Books(cctx, ids)
	cancel()
	if err != nil {
		return bookshop.Quote{}, nil, s.dependency(ctx, "the catalog", err)
	}
	byID := make(map[int32]bookshop.Book, len(books))
	for _, b := range books {
		byID[b.ID] = b
	}
	return Priced(lines, byID)
}

// Place implements [bookshop.Checkout]: it places the order of req's
// cart, once for req.Key (see the package documentation for the steps).
//
// The checkout runs apart from ctx: if ctx ends first, Place answers
// Unavailable at once (the outcome is not known yet), and the checkout
// goes on to its end, within the Service's PlaceTimeout, so that a
// request again with the key finds it.
//
// A key is one checkout. A request whose key's checkout is under way
// (running, or left unfinished by a crash or a service down) waits for
// it, or takes it up, and is answered with its outcome, whatever cart,
// total or address it carries: the key never starts a second checkout
// while the first may still charge. A request whose key's checkout had
// ended is answered from its record: the error it failed with; or, when
// it placed its order, that order if the request is the one that placed
// it (the same cart, total, address and the same books in the cart; see
// Fingerprint), and Conflict ("this checkout form already placed order
// ...") if it is another. After an Unavailable failure, which did nothing
// in the end, the request is tried anew, as itself. A request refused
// before the checkout is recorded (see below) records nothing.
//
// Errors, with messages for the shopper: Invalid for a malformed request
// (CheckPlace), or a card Payments refuses ("card number: ..."); Conflict,
// nothing charged, for an empty cart, a book no longer sold, a total
// over the most one payment can take (bookshop.MaxChargeUnits), books
// other than those confirmed (req.LinesDigest: "your cart changed since
// you confirmed it, ..."), a total that
// is not the cart's now ("the total is now ...": a price or the cart
// changed, or the promotion's discount, which the checkout claims before
// it charges, came or went), a book sold out ("sold
// out: ..."), a declined card ("card declined: ..."), a key whose
// checkout placed an order for another request, or a cart that another
// key's checkout is buying, or bought since it was read ("another
// checkout of this cart is under way, ...", "your cart changed while it
// was checked out, ..."); Unavailable when a
// service could not be reached, or the checkout did not end in time;
// Internal.
func (s *Service) Place(ctx context.Context, req bookshop.PlaceOrder) (bookshop.Order, error) {
	if err := CheckPlace(req); err != nil {
		s.metrics.outcome(outcomeInvalid)
		return bookshop.Order{}, err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return bookshop.Order{}, errBusy
	}
	type result struct {
		order bookshop.Order
		err   error
	}
	done := make(chan result, 1)
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		defer func() { <-s.slots }()
		var res result
		defer func() {
			if p := recover(); p != nil {
				s.logger.ErrorContext(ctx, "checkout panicked", "panic", p, "stack", string(debug.Stack()))
				res = result{err: fmt.Errorf("checkout panicked: %v", p)}
			}
			done <- res
		}()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.PlaceTimeout)
		defer cancel()
		res.order, res.err = s.place(wctx, req)
	}()
	select {
	case res := <-done:
		return res.order, res.err
	case <-ctx.Done():
		return bookshop.Order{}, errUnsure
	}
}

// place is Place's checkout, run apart from its caller. It works on the
// key's checkout once no one else does: no other request or recoverer of
// this Service (claim), and no other replica (a lease of the record, see
// take). A request that waited for another's work is answered with the
// outcome of the checkout it found.
func (s *Service) place(ctx context.Context, req bookshop.PlaceOrder) (bookshop.Order, error) {
	k := claimKey{req.CustomerID, req.Key}
	release, waited, err := s.claim(ctx, k)
	if err != nil {
		return bookshop.Order{}, errUnsure
	}
	defer release()
	for {
		r, busy, err := s.take(ctx, k)
		if err != nil {
			return bookshop.Order{}, err
		}
		waited = waited || busy
		order, worked, err := s.placeTaken(ctx, req, r, waited)
		if worked != nil && !worked.State.Ended() {
			// Stalled: the recoverers of every replica may take it up.
			s.letGo(ctx, k)
		}
		if !errors.Is(err, saga.ErrKeyTaken) {
			return order, err
		}
		// Another replica began the key's checkout between take and
		// Begin: wait for it as for one found under way.
		waited = true
	}
}

// placeTaken is place with the key's record r, leased to this Service
// unless it ended (nil when the key has none); waited reports whether
// another request, recoverer or replica worked on it meanwhile. It
// returns the record it worked on, as it leaves it: r, or the one it
// began; nil when none. Errors: saga.ErrKeyTaken (wrapped) when another
// replica began the key's checkout first; those of Place.
func (s *Service) placeTaken(ctx context.Context, req bookshop.PlaceOrder, r *saga.Record, waited bool) (bookshop.Order, *saga.Record, error) {
	if r != nil {
		// Under way when the request came (another request, recoverer or
		// replica worked on it, or it is unfinished): the key's checkout,
		// whatever the request says, is answered as it ends.
		underWay := waited || !r.State.Ended()
		if !r.State.Ended() {
			s.logger.InfoContext(ctx, "checkout found unfinished: taken up", "checkout", r.ID, "state", r.State)
			s.advance(ctx, r, nil)
		}
		switch {
		case r.Retryable():
			// Nothing was done in the end: the request is tried anew.
		case r.State == saga.Done && !underWay:
			order, err := s.replay(ctx, req, r)
			return order, r, err
		default:
			order, err := s.answer(r)
			return order, r, err
		}
	}
	return s.attempt(ctx, req, r)
}

// take returns the record of checkout k, leased to this Service when it
// has not ended (nil when there is none). While another replica's lease
// holds it, take waits, asking again after a pause that doubles up to
// maxLeaseWait, and reports busy; it ends when the other replica lets go
// (its request ended, or it stalled) or its lease expires. Errors: the
// store's; errUnsure when ctx ends first.
func (s *Service) take(ctx context.Context, k claimKey) (*saga.Record, bool, error) {
	wait, busy := firstLeaseWait, false
	for {
		r, leased, err := s.deps.Store.Lease(ctx, k.customer, k.key, s.lease())
		if err != nil || r == nil || leased || r.State.Ended() {
			return r, busy, err
		}
		busy = true
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, busy, errUnsure
		case <-t.C:
		}
		wait = min(2*wait, maxLeaseWait)
	}
}

// lease returns the lease this Service takes of a checkout it works on:
// its own, for longer than it may work on one (PlaceTimeout).
func (s *Service) lease() saga.Lease {
	return saga.Lease{Owner: s.opts.Replica, TTL: s.opts.PlaceTimeout + leaseMargin}
}

// letGo ends this Service's lease of checkout k, if it has one, so that
// another replica may take it up at once (one that ended let go when it
// ended). It is done even when ctx has ended; a failure is logged, and
// the lease then expires by itself.
func (s *Service) letGo(ctx context.Context, k claimKey) {
	lctx, cancel := s.call(context.WithoutCancel(ctx))
	defer cancel()
	if err := s.deps.Store.EndLease(lctx, k.customer, k.key, s.opts.Replica); err != nil {
		s.logger.WarnContext(ctx, "let go of a checkout: another replica takes it up once its lease expires", "err", err)
	}
}

// replay answers req with r's order, placed before req came under its
// key, if req is the request that placed it: the same cart, total and
// address (see Fingerprint), and the same books in the cart, which are
// the cart's now, with those the order took out of it put back (or left
// there, if they could not be taken out). For another request, it
// answers Conflict, naming the order. When the cart cannot be read, the
// request is taken for the one that placed the order.
func (s *Service) replay(ctx context.Context, req bookshop.PlaceOrder, r *saga.Record) (bookshop.Order, error) {
	placed, lines, _ := strings.Cut(r.Request, fingerprintSep)
	if placed != requestHash(req) {
		return bookshop.Order{}, s.placedAlready(r)
	}
	if lines == "" {
		return r.Order, nil // recorded before the lines were in the fingerprint
	}
	cctx, cancel := s.call(ctx)
	inCart, err := s.deps.Carts.Lines(cctx, req.CartID)
	cancel()
	if err != nil {
		s.logger.WarnContext(ctx, "a checkout's cart could not be read to tell a request again from another: answered with its order", "checkout", r.ID, "err", err)
		return r.Order, nil
	}
	now := cartLines(inCart)
	if LinesDigest(now) == lines || LinesDigest(append(now, r.StockLines()...)) == lines {
		return r.Order, nil
	}
	return bookshop.Order{}, s.placedAlready(r)
}

// placedAlready returns the Conflict of a request, not the one that
// placed it, with the key of r, a checkout that placed its order.
func (s *Service) placedAlready(r *saga.Record) error {
	s.metrics.outcome(outcomeInvalid)
	return bookshop.Errorf(bookshop.Conflict,
		"this checkout form already placed order %s; to buy what is in your cart now, check out again", r.Order.ID)
}

// attempt prices req's cart, records a new checkout (replacing prior, a
// checkout of the key that failed with Unavailable), leased to this
// Service, and runs it. It returns the checkout's record as it leaves it,
// nil when it recorded none.
func (s *Service) attempt(ctx context.Context, req bookshop.PlaceOrder, prior *saga.Record) (bookshop.Order, *saga.Record, error) {
	// The mark before the cart is read: Begin refuses the checkout if
	// another of the cart placed its order after it (see recheck).
	mark, err := s.deps.Store.PlacedMark(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "the saga log's mark could not be read: the cart is read again once the checkout has begun", "err", err)
		mark = saga.NoMark
	}
	q, unsold, err := s.price(ctx, req.CartID)
	switch {
	case err != nil:
		s.metrics.outcome(outcomeUnavailable)
		return bookshop.Order{}, nil, err
	case len(q.Lines) == 0:
		s.metrics.outcome(outcomeRefused)
		return bookshop.Order{}, nil, bookshop.Errorf(bookshop.Conflict, "your cart is empty: nothing to check out")
	case len(unsold) > 0:
		s.metrics.outcome(outcomeSoldOut)
		short := make([]bookshop.SoldOut, len(unsold))
		for i, id := range unsold {
			short[i] = bookshop.SoldOut{BookID: id}
		}
		return bookshop.Order{}, nil, bookshop.Errorf(bookshop.Conflict, "%s", SoldOutMessage(q.Lines, short))
	case req.LinesDigest != "" && req.LinesDigest != q.LinesDigest:
		s.metrics.outcome(outcomeRefused)
		return bookshop.Order{}, nil, errLinesChanged
	}
	mctx, cancel := s.claimCall(ctx, req.Total, q.Subtotal)
	mayEarn, offerKnown := s.mayEarn(mctx, q)
	cancel()
	// The most this checkout could charge: the total the shopper confirmed,
	// or the subtotal when no discount can come. Payments would refuse
	// more than one payment can take: refused here, before stock is held.
	// A total the cart cannot come to is refused below, with the one it
	// comes to: a message that repeated it would name a sum the shopper
	// never saw.
	could := couldBe(q, req.Total, mayEarn)
	if most := req.Total; could && (most.Units > bookshop.MaxChargeUnits || !mayEarn && q.Subtotal.Units > bookshop.MaxChargeUnits) {
		if !mayEarn {
			most = q.Subtotal
		}
		s.metrics.outcome(outcomeRefused)
		return bookshop.Order{}, nil, bookshop.Errorf(bookshop.Conflict, "your order comes to %s, more than one payment can take (%s): take some books out of your cart",
			most.Format(), bookshop.Money{Units: bookshop.MaxChargeUnits, Currency: most.Currency}.Format())
	}
	if !could {
		s.metrics.outcome(outcomeTotalChanged)
		if !offerKnown && req.Total.Currency == q.Total.Currency && req.Total.Units > 0 && req.Total.Units < q.Total.Units {
			// A discount confirmed while this Checkout has no offer (see
			// currentOffer): it cannot be applied right now.
			return bookshop.Order{}, nil, offerNotApplied(q.Total, req.Total, sentenceUnanswered)
		}
		// Neither the full price nor one a discount could leave: a price
		// or the cart changed. The shopper is told the total a quote gives
		// now.
		now := q.Total
		if d, ok := s.discount(ctx, req.CustomerID, q); ok {
			now = minus(q.Subtotal, d.Amount)
		}
		return bookshop.Order{}, nil, totalChanged(now, req.Total, "a price or your cart changed")
	}
	now := s.opts.Now().UTC()
	r := &saga.Record{
		CustomerID: req.CustomerID, Key: req.Key, ID: bookshop.NewID(), Request: Fingerprint(req, quoteLines(q)), State: saga.Reserving,
		CartID: req.CartID, Lines: q.Lines, Subtotal: q.Subtotal, Discount: q.Discount, Total: q.Total, Confirmed: req.Total,
		Shipping: req.Shipping, Created: now, Updated: now,
	}
	if mayEarn {
		// The claim's key is the record's: recorded before it is made.
		r.Claim = saga.Claiming
	}
	// Unsynced: nothing is charged before it is on the disk (see
	// holdAndCharge), and a hold made by a checkout that a power cut
	// took back expires by itself.
	if err := s.deps.Store.BeginUnsynced(ctx, r, s.lease(), mark); err != nil {
		if errors.Is(err, saga.ErrCartBusy) {
			s.metrics.outcome(outcomeRefused)
			return bookshop.Order{}, nil, errAnotherCheckout
		}
		// saga.ErrKeyTaken: another replica recorded the key meanwhile;
		// place waits for its checkout.
		return bookshop.Order{}, nil, fmt.Errorf("begin checkout (after %v): %w", prior != nil, err)
	}
	fault.Point("checkout/after-begin")
	if mark == saga.NoMark && !s.recheck(ctx, r) {
		if !r.State.Ended() {
			return bookshop.Order{}, r, errNotGoneOn
		}
		order, err := s.answer(r)
		return order, r, err
	}
	s.advance(ctx, r, &req.Card)
	order, err := s.answer(r)
	return order, r, err
}

// recheck reads the cart of r, a checkout just begun without a mark
// (saga.NoMark: the log keeps none), again, and reports whether its lines
// are still those priced; when they are not, or the cart cannot be read,
// it fails r, nothing charged, or, if that cannot be recorded, leaves r
// unfinished, for the recoverer, which undoes it (without the card, it
// charges nothing). The first reading may have come before another
// checkout of the cart, which has ended since (Begin refuses one that has
// not), took the lines it bought out of it: without this one, both would
// buy them. Once r is recorded, no other checkout of the cart begins
// until it ends, and this reading sees the cart as every one before it
// left it. With a mark, read before the first reading, Begin itself
// refuses r after such a checkout, and this reading is not needed.
func (s *Service) recheck(ctx context.Context, r *saga.Record) bool {
	cctx, cancel := s.call(ctx)
	lines, err := s.deps.Carts.Lines(cctx, r.CartID)
	cancel()
	var why *bookshop.Error
	outcome := outcomeRefused
	switch {
	case err != nil:
		s.logger.WarnContext(ctx, "a service the checkout needs failed", "service", "the cart service", "err", err)
		why, outcome = unreachable("the cart service", true), outcomeUnavailable
	case LinesDigest(cartLines(lines)) != LinesDigest(r.StockLines()):
		why = errCartChanged
	default:
		return true
	}
	if err := s.fail(ctx, r, why, outcome, false, "", false); err != nil {
		s.logger.WarnContext(ctx, "checkout stalled: it goes on later", "checkout", r.ID, "state", r.State, "err", err)
	}
	return false
}

// answer returns what a request of r's key is answered with, as far as r
// has gone.
func (s *Service) answer(r *saga.Record) (bookshop.Order, error) {
	switch r.State {
	case saga.Done, saga.Ordered:
		return r.Order, nil
	case saga.Failed:
		return bookshop.Order{}, notPlaced(r.Err())
	case saga.Undoing:
		if !r.ChargeTried && r.ChargeID == "" {
			// No charge was ever asked for: no order, and nothing charged,
			// though a hold may be still to release.
			return bookshop.Order{}, notPlaced(r.Err())
		}
		return bookshop.Order{}, r.Err()
	case saga.Charged, saga.Committed:
		return bookshop.Order{}, errCompleting
	default:
		return bookshop.Order{}, errPaymentUnsure
	}
}

// claim waits until no one else works on checkout k, and then claims it:
// until release is called, claim waits, and tryClaim fails, for k.
// waited reports whether someone else was working on it. Errors: ctx's,
// when it ends first.
func (s *Service) claim(ctx context.Context, k claimKey) (release func(), waited bool, err error) {
	for {
		release, busy := s.tryClaim(k)
		if busy == nil {
			return release, waited, nil
		}
		waited = true
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, waited, ctx.Err()
		}
	}
}

// tryClaim claims checkout k if no one works on it; otherwise it returns
// a channel closed when the one who does is done.
func (s *Service) tryClaim(k claimKey) (release func(), busy <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.claims[k]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	s.claims[k] = ch
	return func() {
		s.mu.Lock()
		delete(s.claims, k)
		s.mu.Unlock()
		close(ch)
	}, nil
}

// errStalled is what a step returns when it cannot go on now: a service
// it needs did not answer, or the record could not be written. The
// checkout stays as it was recorded, for the recoverer.
var errStalled = errors.New("the checkout cannot go on now")

// advance takes r through its steps until it ends, or until a step cannot
// go on now. card is the card to charge, from the request; nil for a
// checkout taken up without its request (see holdAndCharge). Each step
// records where it got to before the next acts on it.
func (s *Service) advance(ctx context.Context, r *saga.Record, card *bookshop.Card) {
	for {
		var err error
		switch r.State {
		case saga.Reserving:
			err = s.holdAndCharge(ctx, r, card)
		case saga.Charged:
			err = s.commit(ctx, r)
		case saga.Committed:
			err = s.complete(ctx, r)
		case saga.Ordered:
			err = s.finish(ctx, r)
		case saga.Undoing:
			err = s.undo(ctx, r)
		default:
			return
		}
		if err != nil {
			s.logger.WarnContext(ctx, "checkout stalled: it goes on later", "checkout", r.ID, "state", r.State, "err", err)
			return
		}
	}
}

// save records next as the checkout r is now, moved on (due at once to
// the recoverer, with no attempt), and then makes r next; if it cannot, r
// stays as it was and save returns errStalled.
func (s *Service) save(ctx context.Context, r *saga.Record, next saga.Record) error {
	return s.write(ctx, r, next, s.deps.Store.Save)
}

// saveUnsynced is save, but returns before next is on the disk (see
// Store.SaveUnsynced): for a step that a checkout taken back to the one
// before it, by a power cut, does again, once, by its keys.
func (s *Service) saveUnsynced(ctx context.Context, r *saga.Record, next saga.Record) error {
	return s.write(ctx, r, next, s.deps.Store.SaveUnsynced)
}

// write is save and saveUnsynced, next written by put.
func (s *Service) write(ctx context.Context, r *saga.Record, next saga.Record, put func(context.Context, *saga.Record, string) error) error {
	next.Updated = s.opts.Now().UTC()
	next.Attempts, next.NextTry = 0, time.Time{}
	if err := put(ctx, &next, s.opts.Replica); err != nil {
		return fmt.Errorf("%w: record %s: %w", errStalled, next.State, err)
	}
	*r = next
	return nil
}

// fail records r as failed with err, through Undoing when anything may
// need undoing: a hold made (hold: its id, or "" when only its key may
// have made one) or a charge tried.
func (s *Service) fail(ctx context.Context, r *saga.Record, err *bookshop.Error, outcome string, undo bool, holdID string, chargeTried bool) error {
	next := *r
	next.ErrCode, next.ErrMessage = err.Code, err.Message
	next.State = saga.Failed
	if undo {
		next.State = saga.Undoing
		next.ReservationID = holdID
		next.ChargeTried = next.ChargeTried || chargeTried
	}
	if e := s.save(ctx, r, next); e != nil {
		return e
	}
	s.metrics.outcome(outcome)
	s.logger.InfoContext(ctx, "checkout failed", "checkout", r.ID, "code", err.Code, "reason", err.Message, "undo", undo)
	return nil
}

// holdAndCharge is the step of a Reserving checkout: it holds the stock,
// then, with the card, claims the promotion if the checkout is to (see
// claimPromotion), checks that the total is the one the shopper confirmed,
// and charges it. Without the card (a checkout taken up after its request
// is gone), it cannot charge: it finishes the checkout if the charge went
// through (Payments is asked by its key), and undoes it otherwise, the
// key cancelled so that a charge still in flight takes nothing, and the
// claim, if any, released.
func (s *Service) holdAndCharge(ctx context.Context, r *saga.Record, card *bookshop.Card) error {
	resumed := card == nil
	cctx, cancel := s.call(ctx)
	hold, err := s.deps.Inventory.Reserve(cctx, r.HoldKey(), r.StockLines(), s.opts.HoldTTL)
	cancel()
	fault.Point("checkout/after-reserve")
	switch code := bookshop.ErrorCode(err); {
	case err == nil:
	case code == bookshop.Conflict && len(inventoryclient.SoldOutOf(err)) > 0:
		// Nothing held. A checkout taken up might have charged only after
		// a hold its key made, which the Inventory would have returned:
		// the key is cancelled all the same.
		if resumed {
			return s.fail(ctx, r, errInterrupted, outcomeUnavailable, true, "", true)
		}
		return s.fail(ctx, r, bookshop.Errorf(bookshop.Conflict, "%s", SoldOutMessage(r.Lines, inventoryclient.SoldOutOf(err))), outcomeSoldOut, false, "", false)
	case code == bookshop.Invalid || code == bookshop.Conflict:
		s.logger.ErrorContext(ctx, "the Inventory refused a checkout's hold", "checkout", r.ID, "err", err)
		return s.fail(ctx, r, errInternal, outcomeInternal, resumed, "", resumed)
	case resumed:
		return fmt.Errorf("%w: hold: %w", errStalled, err)
	default:
		// The hold may have been made, and its answer lost: undone by its
		// key. Nothing was charged.
		return s.fail(ctx, r, errStockUnavailable, outcomeUnavailable, true, "", false)
	}
	if resumed {
		return s.settleCharge(ctx, r, hold.ID, errInterrupted)
	}
	var outcome bookshop.ClaimOutcome
	if r.Claim == saga.Claiming {
		var err error
		if outcome, err = s.claimPromotion(ctx, r); err != nil {
			return err
		}
	}
	if r.Confirmed != (bookshop.Money{}) && r.Total != r.Confirmed {
		return s.fail(ctx, r, changedSinceConfirmed(r, outcome), outcomeTotalChanged, true, hold.ID, false)
	}
	// The record, and the claim's answer, are on the disk before the card
	// is charged: a charge whose checkout a power cut took back would be
	// one that no recoverer knows of, or of another total than the one
	// recorded. The sync of another checkout's durable write has most
	// often covered them by now.
	if err := s.deps.Store.Sync(ctx); err != nil {
		return fmt.Errorf("%w: record the checkout on the disk: %w", errStalled, err)
	}
	cctx, cancel = s.call(ctx)
	charge, err := s.deps.Payments.Charge(cctx, r.PayKey(), r.Total, *card)
	cancel()
	fault.Point("checkout/after-charge")
	switch bookshop.ErrorCode(err) {
	case "":
		return s.charged(ctx, r, hold.ID, charge.ID)
	case bookshop.Invalid:
		// A card that fails its checks: nothing charged, nothing recorded.
		return s.fail(ctx, r, domainError(err), outcomeInvalid, true, hold.ID, false)
	case bookshop.Conflict:
		if paymentsclient.Declined(err) {
			// A declined card: nothing taken.
			return s.fail(ctx, r, domainError(err), outcomeDeclined, true, hold.ID, false)
		}
		// The key refused (used with another amount or card, or
		// cancelled): a bug, whose words are not the shopper's. A charge
		// made under the key before, of another amount, is refunded.
		s.logger.ErrorContext(ctx, "Payments refused a checkout's charge key", "checkout", r.ID, "err", err)
		return s.fail(ctx, r, errInternal, outcomeInternal, true, hold.ID, true)
	}
	// Not known: the charge may have been made and its answer lost.
	s.logger.WarnContext(ctx, "a charge's outcome is not known: asking Payments", "checkout", r.ID, "err", err)
	return s.settleCharge(ctx, r, hold.ID, errPaymentUnavailable)
}

// changedSinceConfirmed returns the Conflict of r, a checkout whose
// total, with the answer of its claim recorded (outcome, for a claim
// refused), is not the one its shopper confirmed, saying why: the
// discount the claim was granted is another than the one they saw (a
// price or the cart changed), or the promotion now applies (they
// confirmed the full price); or their order did not get the discount
// they confirmed, for the reason Promotions gave (notApplied), or as
// Promotions did not answer.
func changedSinceConfirmed(r *saga.Record, outcome bookshop.ClaimOutcome) *bookshop.Error {
	switch {
	case r.Claim == saga.Granted && r.Confirmed == r.Subtotal:
		return totalChanged(r.Total, r.Confirmed, "the promotion now applies to your order")
	case r.Claim == saga.Refused:
		return offerNotApplied(r.Total, r.Confirmed, notApplied(outcome))
	case r.Claim == saga.Unanswered:
		return offerNotApplied(r.Total, r.Confirmed, sentenceUnanswered)
	}
	return totalChanged(r.Total, r.Confirmed, "a price or your cart changed")
}

// claimPromotion is the step of a Reserving checkout, its stock held,
// that claims the promotion (r.Claim is Claiming): it claims the
// customer's one use at Promotions under r's PromoKey, with r's lines, and
// records the answer, and returns what Promotions answered (for a
// refusal, why). Granted: the discount is r's, and the total less it.
// Refused: no discount, nothing held. Unanswered (Promotions did not
// answer, or granted a discount that cannot be the order's: one that
// does not fit its subtotal, or names no promotion): no discount, and
// the claim, which may have been made, is released before the checkout
// ends (by its key: a claim granted after the Checkout stopped waiting
// too). The answer is recorded before the card is charged, so that a
// checkout found Claiming was charged nothing. It waits for Promotions
// as claimCall says: as a quote does when the shopper confirmed the full
// price.
func (s *Service) claimPromotion(ctx context.Context, r *saga.Record) (bookshop.ClaimOutcome, error) {
	cctx, cancel := s.claimCall(ctx, r.Confirmed, r.Subtotal)
	d, outcome, err := s.deps.Promotions.Claim(cctx, r.CustomerID, r.PromoKey(), bookshop.PromoLinesOfOrder(r.Lines))
	cancel()
	fault.Point("checkout/after-claim")
	next := *r
	switch {
	case err == nil && outcome == bookshop.ClaimGranted && wellFormed(d, r.Subtotal):
		next.Claim, next.Discount, next.Total = saga.Granted, d.Amount, minus(r.Subtotal, d.Amount)
		next.Promotions = []string{d.Code}
	case err == nil && outcome == bookshop.ClaimGranted:
		s.logger.ErrorContext(ctx, "Promotions granted a discount that cannot be the order's: none applied, the claim released",
			"checkout", r.ID, "discount", d.Amount.String(), "subtotal", r.Subtotal.String(), "code", d.Code)
		next.Claim = saga.Unanswered
	case err == nil:
		next.Claim = saga.Refused
	case bookshop.ErrorCode(err) == bookshop.Invalid:
		// Refused before anything is written: nothing held.
		s.logger.ErrorContext(ctx, "Promotions refused a checkout's claim as malformed: no discount", "checkout", r.ID, "err", err)
		next.Claim, outcome = saga.Refused, bookshop.ClaimRefused
	default:
		s.logger.WarnContext(ctx, "Promotions did not answer a checkout's claim: no discount", "checkout", r.ID, "err", err)
		next.Claim = saga.Unanswered
	}
	// Unsynced: holdAndCharge syncs it before the card is charged.
	return outcome, s.saveUnsynced(ctx, r, next)
}

// settleCharge finds out from Payments whether r's charge was made, for
// a checkout whose charge's outcome is not known: it goes on with the
// charge if so (hold is the hold's id), and is undone otherwise, with
// notMade for the shopper.
func (s *Service) settleCharge(ctx context.Context, r *saga.Record, hold string, notMade *bookshop.Error) error {
	cctx, cancel := s.call(ctx)
	charge, err := s.deps.Payments.ChargeByKey(cctx, r.PayKey())
	cancel()
	switch {
	case err == nil && charge.State == paymentsclient.StateApproved:
		return s.charged(ctx, r, hold, charge.ID)
	case err == nil && charge.State == paymentsclient.StateDeclined:
		return s.fail(ctx, r, bookshop.Errorf(bookshop.Conflict, "card declined: %s", charge.DeclineReason), outcomeDeclined, true, hold, true)
	case err == nil || bookshop.ErrorCode(err) == bookshop.NotFound:
		// Not charged (or refunded already): undone, the key cancelled.
		return s.fail(ctx, r, notMade, outcomeUnavailable, true, hold, true)
	}
	return fmt.Errorf("%w: ask Payments for the charge: %w", errStalled, err)
}

// charged records r's hold and charge, and that it is charged. Unsynced:
// a checkout that a power cut takes back to Reserving is finished all the
// same, its hold and charge found by their keys.
func (s *Service) charged(ctx context.Context, r *saga.Record, hold, charge string) error {
	next := *r
	next.State, next.ReservationID, next.ChargeID, next.ChargeTried = saga.Charged, hold, charge, true
	return s.saveUnsynced(ctx, r, next)
}

// commit is the step of a Charged checkout: it confirms the claim of
// the promotion whose discount the checkout was charged with (Granted:
// see keepDiscount), then takes the stock held for good, and records that
// it did (Committed). Both come
// before the order is recorded, so that no order is recorded without its
// stock and its discount kept; and the claim before the stock, as a
// confirmed claim can be undone (released by its key) and stock taken
// cannot: a hold that ended meanwhile (it expired) cannot be taken, and
// the checkout is undone, the charge refunded, the claim released, no
// order having been asked for (only a Committed checkout asks); a claim
// that cannot be kept is undone with the hold released, no stock lost.
// Once Committed on the disk, the stock is never asked for again: the hold's record
// may be gone by the time a checkout is taken up.
func (s *Service) commit(ctx context.Context, r *saga.Record) error {
	if r.Claim == saga.Granted {
		if err := s.keepDiscount(ctx, r); err != nil {
			return err
		}
		if r.State != saga.Charged {
			return nil // undoing
		}
	}
	cctx, cancel := s.call(ctx)
	_, err := s.deps.Inventory.Commit(cctx, r.ReservationID)
	cancel()
	switch bookshop.ErrorCode(err) {
	case "":
	case bookshop.Conflict, bookshop.NotFound:
		s.logger.WarnContext(ctx, "a checkout's hold ended before its stock was taken: refunding", "checkout", r.ID, "err", err)
		return s.fail(ctx, r, errHoldEnded, outcomeUnavailable, true, r.ReservationID, true)
	default:
		return fmt.Errorf("%w: take the stock: %w", errStalled, err)
	}
	fault.Point("checkout/after-commit")
	next := *r
	next.State = saga.Committed
	// Unsynced: taken back to Charged by a power cut, the checkout takes
	// its hold again, which the Inventory answers as committed.
	return s.saveUnsynced(ctx, r, next)
}

// complete is the step of a Committed checkout: it records the order
// (once, by its key, however often it is asked), and takes the lines
// bought out of the cart. A checkout recorded Committed with its claim
// Granted (by a Checkout before commit confirmed it) confirms it first
// (see keepDiscount). It refunds only when Orders refuses the order as
// malformed, which records none (or, for those older checkouts, when
// the discount cannot be kept); an order that may exist is never
// refunded.
func (s *Service) complete(ctx context.Context, r *saga.Record) error {
	if r.Claim == saga.Granted {
		if err := s.keepDiscount(ctx, r); err != nil {
			return err
		}
		if r.State != saga.Committed {
			return nil // undoing
		}
	}
	cctx, cancel := s.call(ctx)
	order, err := s.deps.Orders.Create(cctx, r.OrderKey(), r.NewOrder())
	cancel()
	switch bookshop.ErrorCode(err) {
	case "":
	case bookshop.Invalid:
		// A bug, and no order recorded: refunded, the claim released, and
		// the stock taken stays taken (the hold can no longer be
		// released), for an operator to set right.
		s.logger.ErrorContext(ctx, "Orders refused a paid checkout's order: refunding; its stock stays taken", "checkout", r.ID, "err", err)
		return s.fail(ctx, r, errInternal, outcomeInternal, true, r.ReservationID, true)
	case bookshop.Conflict:
		// The order's key holds another order (a bug): an order exists, so
		// nothing is refunded; the checkout waits, for an operator.
		s.logger.ErrorContext(ctx, "Orders holds another order under a paid checkout's key: it waits for an operator", "checkout", r.ID, "err", err)
		return fmt.Errorf("%w: record the order: %w", errStalled, err)
	default:
		return fmt.Errorf("%w: record the order: %w", errStalled, err)
	}
	fault.Point("checkout/after-order")
	next := *r
	next.Order = order
	next.State = saga.Ordered
	err = s.afterOrder(ctx, &next, true)
	if err == nil {
		next.State = saga.Done
	}
	if e := s.save(ctx, r, next); e != nil {
		return e
	}
	s.metrics.outcome(outcomePlaced)
	if err == nil {
		s.logger.InfoContext(ctx, "order placed", "checkout", r.ID, "order", order.ID, "total", r.Total.String(), "discount", r.Discount.String())
	}
	return err
}

// keepDiscount confirms the claim of r, a paid checkout charged with the
// promotion's discount (r.Claim is Granted), before its stock is taken
// and its order recorded (see commit), and moves it on Confirmed, which
// the caller's next write records: the customer's use is spent, so that
// no other checkout of theirs can claim it however long the order takes
// (a claim held expires, and Orders may be down for longer than that). A
// claim that expired meanwhile is confirmed all the same when no other
// claim of the customer took the use. When one did (Conflict), or the
// claim's record is gone (NotFound), the discount cannot be kept: the
// checkout is undone, its charge refunded and its hold released (a
// Charged checkout's; for one recorded Committed by an earlier Checkout,
// the stock, taken, stays taken, logged), so that the shopper may check
// out again at the full price.
// Promotions unreachable: the checkout waits, nothing taken.
//
// Confirmed before the stock is taken, both steps can be undone: a hold
// that expired before its commit undoes the checkout, and the claim is
// released by its key (Promotions releases a confirmed claim: the
// Checkout is the only caller that confirms, and releases only before it
// records the order). So neither the stock nor the customer's use is lost
// however the claim's and the hold's TTLs compare.
func (s *Service) keepDiscount(ctx context.Context, r *saga.Record) error {
	cctx, cancel := s.call(ctx)
	err := s.deps.Promotions.Confirm(cctx, r.CustomerID, r.PromoKey())
	cancel()
	switch bookshop.ErrorCode(err) {
	case "":
		fault.Point("checkout/after-confirm")
		// Not recorded on its own: the caller's next write of r (Committed,
		// Ordered, Done, or Undoing) records it. Until then the log says
		// Granted; taken up from there, after a crash or a stall that left
		// r unwritten, the checkout confirms again, which changes nothing.
		r.Claim = saga.Confirmed
		return nil
	case bookshop.Conflict, bookshop.NotFound, bookshop.Invalid:
		s.logger.WarnContext(ctx, "a paid checkout's claim of the promotion ended, and its discount cannot be kept: refunding, no order recorded",
			"checkout", r.ID, "err", err)
		why := "the promotion is for one order per customer, and another order of yours has it; your payment was refunded"
		return s.fail(ctx, r, totalChanged(r.Subtotal, r.Total, why), outcomeTotalChanged, true, r.ReservationID, true)
	}
	return fmt.Errorf("%w: confirm the promotion's claim: %w", errStalled, err)
}

// finish is the step of an Ordered checkout: it does what afterOrder has
// left to do (waiting for each service the call timeout), and then the
// checkout is done.
func (s *Service) finish(ctx context.Context, r *saga.Record) error {
	next := *r
	err := s.afterOrder(ctx, &next, false)
	if err == nil {
		next.State = saga.Done
	} else if next.Claim == r.Claim {
		// Nothing to record: the claim is as it was, and the removal, if
		// it was done, is done again next time, once, by its key.
		return err
	}
	if e := s.save(ctx, r, next); e != nil {
		return e
	}
	return err
}

// afterOrder does what follows the order of r, recorded: it confirms the
// claim of the promotion whose discount the order has (the customer's use
// is spent), or releases a claim that gave none; and it takes the lines
// bought out of the cart, if that is still safe (see cartWindow), whether
// Promotions answered or not. It records in r what it did of the claim
// (the removal, by its key, is done once however often it is asked), and
// returns errStalled when it could not do both. first is true for its
// first try, right after the order is recorded (see complete), which a
// shopper may be waiting for: see settleClaim.
func (s *Service) afterOrder(ctx context.Context, r *saga.Record, first bool) error {
	var claimErr error
	if r.Claim.Holds() {
		var claim saga.ClaimState
		claim, claimErr = s.settleClaim(ctx, r, first)
		r.Claim = claim
		fault.Point("checkout/after-confirm")
	}
	if s.opts.Now().Sub(r.Created) > cartWindow {
		s.logger.WarnContext(ctx, "a checkout's lines stay in the cart: it could not be reached in time", "checkout", r.ID, "cart", r.CartID)
	} else if err := s.removeLines(ctx, r); err != nil {
		return err
	}
	fault.Point("checkout/after-cart")
	return claimErr
}

// settleClaim ends the claim of r, a checkout whose order is recorded:
// it confirms a Granted one, whose discount the order has, and releases
// any other that may hold the customer's use; and it returns the claim's
// state then, Confirmed or Released. A refusal of Promotions (which
// should not happen) is logged, for an operator, and counts as done: the
// order stands as it was recorded.
//
// A release on its first try (first), which the shopper whose order is
// placed may be waiting for, waits for Promotions as a quote does
// (promotionsCall), not the call timeout: nothing of the order rests on
// it (the claim gave no discount), and a Promotions that does not answer
// in that time has it retried by the recoverer (see finish), with the
// call timeout, until it does. So a Promotions that takes calls and
// answers none costs a checkout whose claim it did not answer a second
// after its order, not the call timeout.
func (s *Service) settleClaim(ctx context.Context, r *saga.Record, first bool) (saga.ClaimState, error) {
	confirm := r.Claim == saga.Granted
	call := s.call
	if first && !confirm {
		call = s.promotionsCall
	}
	cctx, cancel := call(ctx)
	var err error
	if confirm {
		err = s.deps.Promotions.Confirm(cctx, r.CustomerID, r.PromoKey())
	} else {
		err = s.deps.Promotions.Release(cctx, r.CustomerID, r.PromoKey())
	}
	cancel()
	switch bookshop.ErrorCode(err) {
	case "":
	case bookshop.Invalid, bookshop.NotFound, bookshop.Conflict:
		// Conflict on Confirm: a claim confirmed before the order was
		// recorded (see keepDiscount) is not refused; only one of a
		// checkout recorded before that was, which may have expired.
		s.logger.ErrorContext(ctx, "Promotions refused to settle a placed order's claim: the order stands as recorded",
			"checkout", r.ID, "order", r.Order.ID, "confirm", confirm, "err", err)
	default:
		return r.Claim, fmt.Errorf("%w: settle the promotion's claim: %w", errStalled, err)
	}
	if confirm {
		return saga.Confirmed, nil
	}
	return saga.Released, nil
}

// removeLines takes r's lines out of its cart. A refusal (which should
// not happen) is logged and counts as done: the order is placed, and the
// shopper may remove the lines themselves.
func (s *Service) removeLines(ctx context.Context, r *saga.Record) error {
	cctx, cancel := s.call(ctx)
	_, err := s.deps.Carts.RemoveLines(cctx, r.CartID, r.StockLines(), r.CartKey())
	cancel()
	switch bookshop.ErrorCode(err) {
	case "":
		return nil
	case bookshop.Invalid, bookshop.Conflict, bookshop.NotFound:
		s.logger.ErrorContext(ctx, "the Cart refused to take out a checkout's lines: they stay in the cart", "checkout", r.ID, "err", err)
		return nil
	}
	return fmt.Errorf("%w: take the lines out of the cart: %w", errStalled, err)
}

// undo is the step of an Undoing checkout: it refunds the charge (by its
// key, which cancels a key that made none), if one was tried, releases
// the hold, if one may have been made (known by its key when its id is
// not), and releases the claim of the promotion, held or confirmed; then
// the checkout has failed.
func (s *Service) undo(ctx context.Context, r *saga.Record) error {
	if r.ChargeTried || r.ChargeID != "" {
		cctx, cancel := s.call(ctx)
		_, err := s.deps.Payments.RefundKey(cctx, r.PayKey())
		cancel()
		if err != nil && bookshop.ErrorCode(err) != bookshop.NotFound {
			return fmt.Errorf("%w: refund: %w", errStalled, err)
		}
		fault.Point("checkout/after-refund")
	}
	hold := r.ReservationID
	if hold == "" {
		// The hold's answer was lost, or the checkout was taken up: its
		// key returns it, if it was made (and if not, makes one, released
		// at once).
		cctx, cancel := s.call(ctx)
		res, err := s.deps.Inventory.Reserve(cctx, r.HoldKey(), r.StockLines(), s.opts.HoldTTL)
		cancel()
		switch bookshop.ErrorCode(err) {
		case "":
			hold = res.ID
		case bookshop.Conflict, bookshop.Invalid: // nothing held under the key
		default:
			return fmt.Errorf("%w: find the hold: %w", errStalled, err)
		}
	}
	if hold != "" {
		cctx, cancel := s.call(ctx)
		_, err := s.deps.Inventory.Release(cctx, hold)
		cancel()
		switch bookshop.ErrorCode(err) {
		case "", bookshop.NotFound:
		case bookshop.Conflict:
			s.logger.ErrorContext(ctx, "a checkout undone had its stock taken for good: it stays taken", "checkout", r.ID, "hold", hold)
		default:
			return fmt.Errorf("%w: release the hold: %w", errStalled, err)
		}
	}
	fault.Point("checkout/after-release")
	next := *r
	if r.Claim.Holds() || r.Claim == saga.Confirmed {
		// A confirmed claim too: an undone checkout recorded no order, and
		// the claim, confirmed before the stock was taken, gives the use
		// back (see keepDiscount).
		cctx, cancel := s.call(ctx)
		err := s.deps.Promotions.Release(cctx, r.CustomerID, r.PromoKey())
		cancel()
		switch bookshop.ErrorCode(err) {
		case "":
		case bookshop.Invalid, bookshop.Conflict:
			// Conflict: a Promotions from before it released confirmed
			// claims; the use stays spent, for an operator.
			s.logger.ErrorContext(ctx, "Promotions refused to release an undone checkout's claim", "checkout", r.ID, "claim", r.Claim, "err", err)
		default:
			return fmt.Errorf("%w: release the promotion's claim: %w", errStalled, err)
		}
		next.Claim = saga.Released
	}
	next.State = saga.Failed
	if err := s.save(ctx, r, next); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "checkout undone", "checkout", r.ID, "refunded", r.ChargeTried || r.ChargeID != "", "released", hold, "claim", next.Claim)
	return nil
}

// The errors of checkouts that failed, for the shopper.
var (
	errInterrupted = bookshop.Errorf(bookshop.Unavailable,
		"your checkout was interrupted before it was paid for: nothing was charged; please try again")
	errStockUnavailable = bookshop.Errorf(bookshop.Unavailable,
		"the stock service cannot be reached right now: nothing was charged; please try again in a moment")
	errPaymentUnavailable = bookshop.Errorf(bookshop.Unavailable,
		"the payment service could not take your payment: nothing was charged; please try again in a moment")
	errHoldEnded = bookshop.Errorf(bookshop.Unavailable,
		"your books could not be kept for you until your payment was confirmed: your payment was refunded; please try again")
	errInternal = bookshop.Errorf(bookshop.Internal,
		"your order could not be placed: anything charged was refunded")
)

// notPlaced returns err, the error of a checkout that failed (undone: no
// order, nothing charged or the charge refunded), with the reason that
// tells a caller so: an Unavailable one may then be said to the shopper
// as it is, rather than as an outcome not known (see
// checkoutclient.NotPlaced).
func notPlaced(err error) error {
	e, ok := errors.AsType[*bookshop.Error](err)
	if !ok {
		return err
	}
	withReason := *e
	withReason.Reason = checkoutclient.ReasonNotPlaced
	// Another attempt at once is not the caller's gRPC client's to make:
	// the checkout ended, its services' calls retried (see
	// bookshop.Error.Final).
	withReason.Final = e.Code == bookshop.Unavailable
	return &withReason
}

// domainError returns the *bookshop.Error of err, for a record.
func domainError(err error) *bookshop.Error {
	if e, ok := errors.AsType[*bookshop.Error](err); ok {
		return e
	}
	return errInternal
}

// call returns the context of one call to another service: ctx, with a
// deadline of CallTimeout at most.
func (s *Service) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.CallTimeout)
}

// promotionsWait is the most a quote waits for Promotions (see
// promotionsCall).
const promotionsWait = time.Second

// promotionsCall returns ctx bounded for what a quote asks of Promotions
// (the offer, when the Checkout must wait for it, and the cart's price),
// and its cancel: less than the call timeout, which bounds a call to the
// Cart, the Catalog or the Inventory. Without those, a quote fails;
// without Promotions, it is only at the full price, which the shopper
// sees and Place charges (its claim says whether the discount is theirs).
// So Promotions never gets all of a quote's time: one that takes calls and
// answers none (its database blackholed, say) would hold every quote of a
// cart that may earn the discount until its caller gave up, and the
// checkout page, which gives a quote 3 s (the call timeout's default),
// would fail rather than show the full price.
//
// The bound is the least of three:
//   - half of what is left of the caller's deadline: the other half is
//     the caller's, for the answer to reach it and for its own work on
//     it (the Marketplace renders the page within the same deadline),
//     which the Checkout cannot measure: a fixed margin would be too
//     little on a busy host, and too much of a short deadline. (The
//     stock, asked meanwhile, needs none of it.)
//   - promotionsWait, 1 s: a Promotions that answers prices a cart in
//     milliseconds (a read of the customer's claims), and while it hangs
//     every such quote waits all of the bound: with the Marketplace's
//     3 s, half would be a second and a half of every checkout page.
//   - the call timeout, which bounds every call.
//
// Place waits as long for Promotions when its shopper confirmed the full
// price (see claimCall), and so does the release, after the order, of a
// claim that gave no discount, on its first try (see settleClaim).
func (s *Service) promotionsCall(ctx context.Context) (context.Context, context.CancelFunc) {
	d := min(s.opts.CallTimeout, promotionsWait)
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(deadline)/2)
	}
	return context.WithTimeout(ctx, d)
}

// claimCall returns ctx bounded for what Place asks of Promotions, the
// offer (when the Checkout must wait for it) and the claim, for a
// shopper who confirmed total, of an order of subtotal, and its cancel.
//
// A shopper who confirmed the full price waits for Promotions as a quote
// does (promotionsCall), no longer: that total is the one a quote gives
// when Promotions does not answer in its time, and a claim granted
// against it is refused as a total changed ("the promotion now
// applies"; see changedSinceConfirmed), for a new quote. Were the claim
// to wait longer (the call timeout), a Promotions that answers later
// than a quote waits and sooner than the call timeout (in 1.5 s, say)
// would have every quote at the full price and every claim granted in
// time: each checkout refused, each new quote at the full price again,
// and the shopper could never check out. Bounded alike, a claim not
// answered in time is Unanswered: no discount, the full price they
// confirmed charged, and the claim (which Promotions may grant after the
// Checkout stopped waiting) released by its key after the order (see
// settleClaim), by the recoverer if need be. A Promotions that answers
// in time grants the claim: the shopper is told that the promotion now
// applies, and their next quote, in time too, shows it.
//
// The quote's time is also half of what was left of its caller's
// deadline: a caller that gives its quotes less than 2 s has them wait
// less than a second, less than Place waits, and a Promotions answering
// between the two may refuse its shopper's checkouts as above. The
// Marketplace gives a quote 3 s.
//
// A shopper who confirmed a discount waits the call timeout: the claim
// decides whether they get the discount they were shown, and a claim
// not answered fails the checkout, nothing charged.
func (s *Service) claimCall(ctx context.Context, total, subtotal bookshop.Money) (context.Context, context.CancelFunc) {
	if total == subtotal {
		return s.promotionsCall(ctx)
	}
	return s.call(ctx)
}

// dependency returns the error of a call to another service (what, for
// the shopper) that failed with err: ctx's own when ctx ended; otherwise
// Unavailable, the original kept in the chain for the log, unless err is
// one the caller may fix (Invalid, NotFound).
func (s *Service) dependency(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return errUnsure
	}
	switch bookshop.ErrorCode(err) {
	case bookshop.Invalid, bookshop.NotFound:
		return err
	}
	s.logger.WarnContext(ctx, "a service the checkout needs failed", "service", what, "err", err)
	return &dependencyError{domain: unreachable(what, true), what: what, cause: err}
}

// dependencyError is an Unavailable error for the caller, with the error
// of the service that failed kept for the log.
type dependencyError struct {
	domain *bookshop.Error
	what   string // the service, in the shopper's words: "the stock service"
	cause  error
}

// forQuote returns err as a quote's caller gets it: a service that
// cannot be reached is said so without the words of a checkout's, that
// nothing was charged, which a quote never does.
func forQuote(err error) error {
	if de, ok := errors.AsType[*dependencyError](err); ok {
		return &dependencyError{domain: unreachable(de.what, false), what: de.what, cause: de.cause}
	}
	return err
}

// unreachable is the Unavailable error of a service, what, that cannot be
// reached, saying that nothing was charged when a checkout asks.
// Final: the Checkout's client of that service retried the call (or the
// service answered what another attempt would answer too).
func unreachable(what string, checkout bool) *bookshop.Error {
	if checkout {
		e := bookshop.Errorf(bookshop.Unavailable, "%s cannot be reached right now: nothing was charged; please try again in a moment", what)
		e.Reason, e.Final = checkoutclient.ReasonNotPlaced, true
		return e
	}
	e := bookshop.Errorf(bookshop.Unavailable, "%s cannot be reached right now: please try again in a moment", what)
	e.Final = true
	return e
}

func (e *dependencyError) Error() string { return e.domain.Message + ": " + e.cause.Error() }

// Unwrap returns the domain error first, so that its code is the one
// found, and then the service's.
func (e *dependencyError) Unwrap() []error { return []error{e.domain, e.cause} }

// Recover finishes or undoes the checkouts left unfinished that are due
// and that no one is working on (their process died, or a service they
// need was down): no request or recoverer of this Service, and no other
// replica, whose lease it passes over (see Store.Lease). It returns how
// many it took up. It takes up at most a
// hundred, four at a time: those paid for and without an order first
// (Charged, Committed), then the longest due first. A checkout in its
// first state, whose charge only its request could make, is finished if
// its charge went through, and undone otherwise. A checkout that still
// cannot go on stays as it is, and is due again after a wait that doubles
// at each stall, from a second up to five minutes: so that checkouts
// stuck on a service that does not answer leave the others their turn.
// Recover also counts the unfinished checkouts, for the metrics, and
// warns in the log when the oldest has been waiting for a while.
func (s *Service) Recover(ctx context.Context) (int, error) {
	now := s.opts.Now()
	count, oldest, err := s.deps.Store.CountUnfinished(ctx)
	if err != nil {
		return 0, err
	}
	var age time.Duration
	if count > 0 {
		age = max(now.Sub(oldest), 0)
	}
	s.metrics.unfinished(count, age)
	if age > stuckAge {
		s.logger.WarnContext(ctx, "checkouts unfinished for long: a service they need may be down", "unfinished", count, "oldest_age", age.Round(time.Second))
	}
	recs, err := s.deps.Store.Unfinished(ctx, s.opts.Replica, now, recoverBatch)
	if err != nil {
		return 0, err
	}
	var (
		wg      sync.WaitGroup
		workers = make(chan struct{}, recoverWorkers)
		took    atomic.Int64
	)
	for _, stale := range recs {
		select {
		case workers <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		release, busy := s.tryClaim(claimKey{stale.CustomerID, stale.Key})
		if busy != nil {
			<-workers
			continue // a request is working on it
		}
		wg.Go(func() {
			defer func() { <-workers }()
			defer release()
			if s.recoverOne(ctx, stale) {
				took.Add(1)
			}
		})
	}
	wg.Wait()
	return int(took.Load()), ctx.Err()
}

// recoverOne takes up the checkout of stale, claimed, as it is recorded
// now, and reports whether it was still unfinished and no other replica
// works on it: it leases it first (see Store.Lease), and lets go when it
// stalls. A checkout that stalls is postponed (see Recover). A panic (a
// bug) is logged, and leaves the checkout as it is, so that one checkout
// cannot stop the recoverer for the others.
func (s *Service) recoverOne(ctx context.Context, stale *saga.Record) (took bool) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.ErrorContext(ctx, "taking up a checkout panicked", "checkout", stale.ID, "panic", p, "stack", string(debug.Stack()))
			took = false
		}
	}()
	// The timeout starts before the lease, which outlasts it.
	rctx, cancel := context.WithTimeout(ctx, s.opts.PlaceTimeout)
	defer cancel()
	r, leased, err := s.deps.Store.Lease(rctx, stale.CustomerID, stale.Key, s.lease())
	if err != nil || !leased {
		return false // ended, gone, or another replica's
	}
	defer func() {
		if !r.State.Ended() {
			s.letGo(ctx, claimKey{r.CustomerID, r.Key})
		}
	}()
	from := r.State
	s.advance(rctx, r, nil)
	switch {
	case r.State == saga.Done:
		s.metrics.recovered(recoveredFinished)
	case r.State == saga.Failed:
		s.metrics.recovered(recoveredUndone)
	case ctx.Err() != nil:
		// Cut off (the service stops): taken up again at the next start.
	default:
		s.metrics.recovered(recoveredStalled)
		s.postpone(ctx, r)
	}
	s.logger.InfoContext(ctx, "unfinished checkout taken up", "checkout", r.ID, "from", from, "to", r.State, "attempts", r.Attempts)
	return true
}

// postpone records that r stalled once more, and when the recoverer is to
// take it up again (see retryDelay). A failure is logged: r is then due
// again at once.
func (s *Service) postpone(ctx context.Context, r *saga.Record) {
	next := *r
	next.Attempts++
	next.NextTry = s.opts.Now().Add(retryDelay(next.Attempts)).UTC()
	if err := s.deps.Store.Postpone(ctx, &next, s.opts.Replica); err != nil {
		s.logger.ErrorContext(ctx, "record a checkout's next try", "checkout", r.ID, "err", err)
		return
	}
	*r = next
}

// SweepEnded deletes the records of the checkouts that ended more than
// KeyTTL before now, and returns how many: their keys are forgotten.
func (s *Service) SweepEnded(ctx context.Context, now time.Time) (int, error) {
	return s.deps.Store.DeleteEnded(ctx, now.Add(-KeyTTL))
}

// Wait waits until the checkouts running have ended, or ctx has; a
// checkout cut off is taken up by the recoverer at the next start.
func (s *Service) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
