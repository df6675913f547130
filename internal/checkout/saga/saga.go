// Package saga holds the records of the Checkout's saga log: a
// checkout's [Record], its [State], the idempotency keys of its calls to
// the other services, and the [Lease] of the replica that works on it,
// shared by the Service (package checkout) and the log's two stores
// (packages sqlite and postgres). See package checkout for the steps.
package saga

import (
	"errors"
	"slices"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// ErrKeyTaken is the error of a log whose record of a key is not the one
// the caller expected.
var ErrKeyTaken = errors.New("the checkout's key has another record")

// ErrCartBusy is the error of a Begin while another checkout of the cart,
// under another key, has not ended, or placed its order after the Mark
// the Begin was given: a cart is checked out once at a time, so that two
// checkout forms of one cart, sent at once, do not both buy it.
var ErrCartBusy = errors.New("another checkout of the cart has not ended, or placed its order since the cart was read")

// Mark is a point in the order in which a log's checkouts placed their
// orders (reached Done), as its PlacedMark returns it. A checkout reads
// the log's mark before it reads its cart, and gives it to Begin, which
// refuses it when another checkout of the cart placed its order after
// the mark: that one may have taken books out of the cart after it was
// read. With the mark, the checkout needs no second reading of the cart
// once it has begun.
type Mark int64

// NoMark is the Mark of a log that keeps none: Begin then looks only for
// the checkouts of the cart that have not ended, and the checkout reads
// its cart again once it has begun.
const NoMark Mark = -1

// Refusal returns why a log's Begin of a record recorded nothing, given
// prior, the record of its key now (nil when there is none): ErrKeyTaken
// when the key has a record a new attempt may not replace, and
// ErrCartBusy otherwise (another key's checkout of the cart has not
// ended, or placed its order after the mark).
func Refusal(prior *Record) error {
	if prior != nil && !prior.Retryable() {
		return ErrKeyTaken
	}
	return ErrCartBusy
}

// ErrNotHeld is the error of a write to a record that is not the
// writer's: there is no record of its attempt (another replaced it), or
// another replica holds its lease (see Lease).
var ErrNotHeld = errors.New("the checkout's record is not this replica's to write: another attempt replaced it, or another replica took it over")

// Lease is a replica's hold on a checkout, recorded in the saga log with
// it: while a lease runs, only its owner works on the checkout (takes
// its steps, writes its record), and other replicas leave it alone, their
// requests of its key waiting for its outcome and their recoverers
// passing it over. A lease ends when its owner lets go of the checkout,
// with the checkout's end, or when TTL has passed since it was taken, by
// the database's clock (a replica that died lets go of nothing). Its TTL
// outlasts everything its owner does under it, so that no two replicas
// ever work on a checkout at once; and were one still at work past it,
// its writes would be refused (ErrNotHeld), and its calls, made with the
// checkout's idempotency keys, would do nothing twice.
type Lease struct {
	// Owner names the replica, unique among those that share a log; ""
	// for no lease (a record begun by a tool or a test, for any replica
	// to take up).
	Owner string
	// TTL is how long the lease runs from when it is taken.
	TTL time.Duration
}

// State is where a checkout is; see package checkout.
type State string

// The states of a checkout.
const (
	Reserving State = "reserving"
	Charged   State = "charged"
	Committed State = "committed"
	Ordered   State = "ordered"
	Undoing   State = "undoing"
	Done      State = "done"
	Failed    State = "failed"
)

// Ended reports whether s is a state a checkout ends in: Done or Failed.
func (s State) Ended() bool { return s == Done || s == Failed }

// ClaimState is where a checkout's claim of the promotion is: the
// customer's one use of it, claimed at Promotions under the checkout's
// PromoKey. See package checkout.
type ClaimState string

// The states of a checkout's claim.
const (
	// NoClaim: the checkout claims nothing (its lines earn no discount,
	// or it was recorded before the promotion).
	NoClaim ClaimState = ""
	// Claiming: the checkout is to claim the promotion, or has, and its
	// answer is not recorded: a claim may be held under the key.
	Claiming ClaimState = "claiming"
	// Granted: the claim holds the customer's use for the checkout, and
	// its discount is in the record's Discount and Total. It is
	// confirmed once the charge went through, before the stock is taken,
	// and released if the checkout fails before.
	Granted ClaimState = "granted"
	// Refused: Promotions refused the claim (the campaign is over, the
	// customer has used it, or another of their checkouts holds it): no
	// discount, and nothing held.
	Refused ClaimState = "refused"
	// Unanswered: Promotions did not answer the claim: no discount, and
	// a claim may be held all the same, released before the checkout
	// ends.
	Unanswered ClaimState = "unanswered"
	// Confirmed: the use is spent, for the checkout's order with the
	// discount: recorded, or to be. Confirmed before the stock is taken,
	// it is released if the checkout is undone before its order is
	// recorded (the hold ended first); spent for good once it is.
	Confirmed ClaimState = "confirmed"
	// Released: whatever the key held was given back.
	Released ClaimState = "released"
)

// Holds reports whether a claim in state c may hold the customer's use,
// and so must be confirmed or released before its checkout ends:
// Claiming, Granted and Unanswered. (A Confirmed claim spent the use: it
// is released only if its checkout is undone.)
func (c ClaimState) Holds() bool { return c == Claiming || c == Granted || c == Unanswered }

// Record is a checkout as the saga log keeps it: what the shopper
// confirmed and how far the checkout has gone. It holds nothing of the
// card.
type Record struct {
	// CustomerID and Key name the checkout: the request's customer and
	// idempotency key.
	CustomerID int32
	Key        string
	// ID is the attempt's own random id, from which the idempotency keys
	// of its calls to the other services are made; a new attempt under
	// the same key (after one that failed with Unavailable) has a new ID.
	ID string
	// Request is the fingerprint of the request and of the cart's lines
	// it was for (see checkout.Fingerprint).
	Request string
	State   State
	CartID  string
	// Lines, Subtotal, Discount and Total are the cart as it was priced:
	// the lines at the Catalog's prices, and the discount of the
	// promotion once its claim is granted (0 until then, and without
	// one). Total is what the card is charged.
	Lines                     []bookshop.OrderLine
	Subtotal, Discount, Total bookshop.Money
	// Confirmed is the total the shopper confirmed. Total must be it
	// before the card is charged. The zero Money in the records of
	// checkouts recorded before it was, whose Total was checked before
	// they were recorded.
	Confirmed bookshop.Money
	// Promotions are the codes of the promotions that gave Discount, for
	// the order: none without a discount.
	Promotions []string
	// Claim is where the checkout's claim of the promotion is (see
	// ClaimState), under PromoKey.
	Claim    ClaimState
	Shipping bookshop.Address
	// ReservationID is the Inventory's hold, and ChargeID the Payments
	// charge, once known (Charged on; the hold taken for good from
	// Committed on).
	ReservationID string
	ChargeID      string
	// ChargeTried is set when the card may have been charged: an Undoing
	// checkout with it set refunds (by the charge's key) before it ends.
	ChargeTried bool
	// Order is the order recorded (Ordered and Done).
	Order bookshop.Order
	// ErrCode and ErrMessage are the error the checkout failed with
	// (Undoing and Failed): the shopper's answer.
	ErrCode    bookshop.Code
	ErrMessage string
	// Created is when the checkout was recorded, Updated when it last
	// changed.
	Created, Updated time.Time
	// Attempts is how many times in a row the recoverer took the
	// checkout up and found it could not go on (a service it needs did
	// not answer), and NextTry when it is to take it up again (zero: at
	// once). Both are reset when the checkout moves on.
	Attempts int
	NextTry  time.Time
}

// The idempotency keys of a checkout's calls: the hold (Inventory), the
// claim of the promotion (Promotions), the charge (Payments), the order
// (Orders) and the removal of the lines bought (Cart). Each is "co-", the
// checkout's ID, and the step.
func (r *Record) HoldKey() string  { return "co-" + r.ID + "-hold" }
func (r *Record) PromoKey() string { return "co-" + r.ID + "-promo" }
func (r *Record) PayKey() string   { return "co-" + r.ID + "-pay" }
func (r *Record) OrderKey() string { return "co-" + r.ID + "-order" }
func (r *Record) CartKey() string  { return "co-" + r.ID + "-cart" }

// StockLines returns the books and quantities of r's lines, for the hold
// and for the Cart's removal.
func (r *Record) StockLines() []bookshop.StockLine {
	lines := make([]bookshop.StockLine, len(r.Lines))
	for i, l := range r.Lines {
		lines[i] = bookshop.StockLine{BookID: l.BookID, Quantity: l.Quantity}
	}
	return lines
}

// Err returns the error r failed with (Undoing, Failed), or nil.
func (r *Record) Err() error {
	if r.ErrCode == "" {
		return nil
	}
	return &bookshop.Error{Code: r.ErrCode, Message: r.ErrMessage}
}

// Retryable reports whether a request with r's key may try again: r
// failed with Unavailable, which undid everything.
func (r *Record) Retryable() bool { return r.State == Failed && r.ErrCode == bookshop.Unavailable }

// NewOrder returns the order of r, to record: its customer, lines,
// amounts, promotions, charge and shipping address.
func (r *Record) NewOrder() bookshop.Order {
	return bookshop.Order{
		CustomerID: r.CustomerID,
		Lines:      slices.Clone(r.Lines),
		Subtotal:   r.Subtotal,
		Discount:   r.Discount,
		Total:      r.Total,
		Promotions: slices.Clone(r.Promotions),
		PaymentID:  r.ChargeID,
		Shipping:   r.Shipping,
	}
}
