package bookshop

import (
	"context"
	"slices"
	"strings"
	"time"
)

// The shop, part 2: stock, payments, orders and the checkout that places
// an order with them. Each is a service of its own; these are the types
// and the interfaces they speak.

// StockLine is a quantity of one book, in a reservation.
type StockLine struct {
	BookID   int32
	Quantity int
}

// Reservation holds stock for a checkout until it is committed (the order
// is placed) or released (the checkout failed), or until Expires, when it
// releases itself.
type Reservation struct {
	// ID names the reservation: not guessable.
	ID      string
	Lines   []StockLine
	Expires time.Time
	// State is "held", "committed", "released" or "expired".
	State string
}

// SoldOut is a line a reservation could not hold: the book and how many
// copies are left.
type SoldOut struct {
	BookID    int32
	Available int
}

// Inventory keeps the stock of every book.
type Inventory interface {
	// Stock returns how many copies of each book can be bought now: on
	// hand, less what reservations hold. A book Inventory does not know
	// has 0.
	Stock(ctx context.Context, ids []int32) (map[int32]int, error)
	// Reserve holds lines for a checkout for ttl. key makes it idempotent:
	// the same key returns the same reservation. Errors: Conflict when a
	// line's book has fewer copies than asked (the message names the
	// books), and then nothing is held; Invalid for a bad line or key.
	Reserve(ctx context.Context, key string, lines []StockLine, ttl time.Duration) (Reservation, error)
	// Commit takes the reservation's copies out of the stock for good.
	// Committing again is not an error. Errors: NotFound; Conflict when
	// it was released or has expired.
	Commit(ctx context.Context, id string) (Reservation, error)
	// Release gives the reservation's copies back. Releasing again, or
	// releasing an expired reservation, is not an error. Errors: NotFound;
	// Conflict when it was committed.
	Release(ctx context.Context, id string) (Reservation, error)
	// SetStock sets the copies on hand of a book (admin). Errors: Invalid
	// for a negative quantity.
	SetStock(ctx context.Context, bookID int32, onHand int) error
}

// Card is a payment card as a shopper types it. Its number and CVC must
// never be logged or stored: only its brand and last four digits.
type Card struct {
	Number   string // digits, spaces allowed
	ExpMonth int    // 1 to 12
	ExpYear  int    // four digits
	CVC      string // 3 or 4 digits
	Name     string // as on the card
}

// Charge is money taken from a card.
type Charge struct {
	// ID names the charge: not guessable.
	ID string
	// Key is the idempotency key the charge was made with.
	Key    string
	Amount Money
	Brand  string // "visa", "mastercard", ...
	Last4  string
	// State is "approved" or "refunded"; or "declined" for a card the
	// processor refused, which took nothing (Charge answers a decline with
	// an error; a lookup or a refund by key returns the record of it).
	State string
	// DeclineReason says why a declined charge was declined, for the
	// shopper ("insufficient funds"); "" for the others.
	DeclineReason string
	Created       time.Time
	// Refunded is when a refunded charge was refunded; zero for the
	// others.
	Refunded time.Time
}

// Payments charges cards and refunds charges.
type Payments interface {
	// Charge takes amount from card. key makes it idempotent: the same key
	// returns the same charge and never charges again; the same key with
	// another amount is refused (Conflict). Errors: Invalid for a card that
	// fails its checks (Luhn, expiry, CVC), with a message for the shopper;
	// Conflict for a card the processor declines, with its reason
	// ("insufficient funds"); Unavailable when the processor cannot be
	// reached (nothing was charged).
	Charge(ctx context.Context, key string, amount Money, card Card) (Charge, error)
	// Refund gives a charge back, whole. Refunding again returns the same
	// refunded charge. Errors: NotFound.
	Refund(ctx context.Context, chargeID string) (Charge, error)
}

// Address is where an order is shipped.
type Address struct {
	Name       string
	Line1      string
	Line2      string
	City       string
	PostalCode string
	Country    string // ISO 3166-1 alpha-2, such as "DE"
}

// OrderLine is one book of an order, as it was when it was bought.
type OrderLine struct {
	BookID    int32
	Title     string
	UnitPrice Money
	Quantity  int
	Total     Money
}

// Order is a purchase, the record of the transaction.
type Order struct {
	// ID names the order: not guessable.
	ID         string
	CustomerID int32
	Lines      []OrderLine
	Subtotal   Money
	Discount   Money
	Total      Money
	// Promotions are the codes of the promotions that gave the
	// discount, in the order they were applied; none without one.
	Promotions []string
	PaymentID  string
	Shipping   Address
	// State is "placed" (paid, stock committed) or "cancelled".
	State   string
	Created time.Time
	Updated time.Time
}

// Used reports whether the order used the promotion code: for "buy two,
// get one free", the sale's buy_two_get_one_free_promo is
// order.Used("buy_two_get_one_free"). An order keeps the codes rather
// than a flag per campaign, so that the next campaign adds no field.
func (o Order) Used(code string) bool { return slices.Contains(o.Promotions, code) }

// OrderPage is a page of a customer's orders, newest first.
type OrderPage struct {
	Orders []Order
	// Next is the token of the next page, "" after the last.
	Next string
}

// Orders keeps the orders: the transaction database.
type Orders interface {
	// Create records order, with a new ID unless key was seen: the same
	// key returns the order it recorded, and records nothing.
	Create(ctx context.Context, key string, order Order) (Order, error)
	// Order returns a customer's order. Another customer's order, and an
	// unknown id, are NotFound alike.
	Order(ctx context.Context, customerID int32, id string) (Order, error)
	// List returns a page of a customer's orders, newest first: at most
	// limit (1 to 50), from the page token ("" for the first).
	List(ctx context.Context, customerID int32, page string, limit int) (OrderPage, error)
}

// Quote is what a checkout would charge for a cart now: its lines priced
// from the Catalog, the stock of each, and the total.
type Quote struct {
	Lines    []OrderLine
	Subtotal Money
	Discount Money
	Total    Money
	// Short are the lines with fewer copies left than the cart holds.
	Short []SoldOut
	// FreeBookID is the book one copy of which Discount makes free (one
	// of Lines' books), for the checkout page to point at it; 0 without a
	// discount, or one that makes no book free.
	FreeBookID int32
	// Promotions are the codes of the promotions that gave Discount, as
	// the order records them (Order.Promotions), for the checkout page
	// to name them; none without a discount.
	Promotions []string
	// DiscountLabel is Discount's line for people, as the promotion words
	// it (see Discount.Label), for the checkout page to show as it is; ""
	// without a discount, or when the promotion gave none.
	DiscountLabel string
	// LinesDigest tells Lines from others: a digest of their books and
	// quantities, the same in any order; "" without lines. A PlaceOrder
	// that carries it is refused when the cart's lines are others.
	LinesDigest string
}

// PlaceOrder is what a shopper confirms at checkout.
type PlaceOrder struct {
	// Key makes the checkout idempotent: the form carries it, and a
	// double click, a reload or a retry gives one order and one charge.
	Key        string
	CustomerID int32
	CartID     string
	// Total is the total the shopper was shown and confirmed: if the
	// total is now another, nothing is charged (Conflict; a new Quote
	// says what it is now).
	Total    Money
	Shipping Address
	Card     Card
	// LinesDigest, when set, is the Quote's of the lines the shopper was
	// shown and confirmed: if the cart's lines are others now, nothing is
	// charged (Conflict), even at the same total. See ValidLinesDigest.
	LinesDigest string
}

// ValidLinesDigest reports whether d has the form of a lines digest
// (Quote.LinesDigest): 64 lower-case hex digits. Whether it is the digest
// of any lines, only a comparison can tell.
func ValidLinesDigest(d string) bool {
	return len(d) == 64 && strings.Trim(d, "0123456789abcdef") == ""
}

// Checkout places orders: it reads the cart, prices it from the Catalog,
// reserves the stock, charges the card, records the order, commits the
// stock and empties the cart, and undoes what it did when a step fails.
type Checkout interface {
	// Quote prices a customer's cart for the checkout page.
	Quote(ctx context.Context, customerID int32, cartID string) (Quote, error)
	// Place places the order. Errors: Conflict when the total or the
	// cart's books changed (see PlaceOrder.LinesDigest), when a book sold
	// out, when the card was declined, or when another checkout of the
	// cart is under way (a cart is checked out once at a time), each with a
	// message for the shopper and the cart left as it was; Invalid for a
	// bad card or address; Unavailable when a service could not be reached
	// in time (nothing is charged without an order). The same Key returns
	// the order placed with it, or the error it failed with.
	Place(ctx context.Context, req PlaceOrder) (Order, error)
}
