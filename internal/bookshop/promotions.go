package bookshop

import (
	"context"
	"time"
)

// The promotions: "buy two books, get the third free", once per customer.
// The rule is a pure function here, so that every service that shows or
// applies it agrees; the Promotions service (internal/promotions) runs
// the campaign: when it is on, who has used it, and the claims of the
// checkouts in progress.

// BuyTwoGetOneFreeCode is the code of the promotion "buy two books, get
// the third free", as offers, discounts and orders name it.
const BuyTwoGetOneFreeCode = "buy_two_get_one_free"

// PromotionName returns the name of the promotion of code, for people,
// short enough to head a line of a cart or an order ("Buy two, get one
// free"); "Special offer" for a code it does not know. It is the one
// place that names the shop's promotions, every one that ran, as orders
// keep their codes for good: the Promotions service gives the running
// campaign's name from here in its Offer, and pages, which name a
// promotion as the offer does when its code is the offer's, fall back on
// it for the orders of a campaign that is over, or while Promotions
// cannot answer.
func PromotionName(code string) string {
	switch code {
	case BuyTwoGetOneFreeCode:
		return "Buy two, get one free"
	}
	return "Special offer"
}

// PromoLine is one line of a cart as a promotion reads it: a book, the
// price of one copy, and how many copies.
type PromoLine struct {
	BookID int32
	// UnitPrice is the price of one copy; the zero Money when the book
	// has none (it cannot be bought, and counts for nothing).
	UnitPrice Money
	Quantity  int
}

// PromoLinesOfCart returns the lines of a cart as a promotion reads them,
// in the same order.
func PromoLinesOfCart(lines []CartLine) []PromoLine {
	out := make([]PromoLine, len(lines))
	for i, l := range lines {
		out[i] = PromoLine{BookID: l.Book.ID, UnitPrice: l.Book.Price, Quantity: l.Quantity}
	}
	return out
}

// PromoLinesOfOrder returns the lines of an order (or of a Quote) as a
// promotion reads them, in the same order.
func PromoLinesOfOrder(lines []OrderLine) []PromoLine {
	out := make([]PromoLine, len(lines))
	for i, l := range lines {
		out[i] = PromoLine{BookID: l.BookID, UnitPrice: l.UnitPrice, Quantity: l.Quantity}
	}
	return out
}

// Discount is what a promotion takes off an order: one copy of a book
// made free.
type Discount struct {
	// Amount is what is taken off the order's subtotal: the price of the
	// copy made free.
	Amount Money
	// BookID is the book one copy of which is free.
	BookID int32
	// Code is the promotion's code, such as BuyTwoGetOneFreeCode: what
	// the order records among its Promotions.
	Code string
}

// BuyTwoGetOneFree is the rule of the promotion: a cart of three or more
// books, counting quantities (two copies of one book and one of another
// are three), gets one copy of its cheapest book free. It returns that
// discount, and true; or false when the cart does not earn it.
//
// Only lines with a quantity of 1 or more and a price above zero count:
// a line without a price (the zero Money) or with a negative quantity is
// not a book that can be bought. The lines that count must all be in one
// currency; a cart of mixed currencies earns nothing, as their prices
// cannot be compared. Of books equally cheap, the one with the lowest id
// is made free, so that the same cart gets the same discount every time,
// whatever the order of its lines. One copy is free per cart, however
// many books it holds.
func BuyTwoGetOneFree(lines []PromoLine) (Discount, bool) {
	var (
		cheapest PromoLine
		found    bool
		books    int
	)
	for _, l := range lines {
		if l.Quantity < 1 || l.UnitPrice.Units <= 0 || l.UnitPrice.Currency == "" {
			continue
		}
		if found && l.UnitPrice.Currency != cheapest.UnitPrice.Currency {
			return Discount{}, false
		}
		books = min(books+min(l.Quantity, 3), 3) // only "three or more" matters: no overflow
		if !found || l.UnitPrice.Units < cheapest.UnitPrice.Units ||
			l.UnitPrice.Units == cheapest.UnitPrice.Units && l.BookID < cheapest.BookID {
			cheapest, found = l, true
		}
	}
	if books < 3 {
		return Discount{}, false
	}
	return Discount{Amount: cheapest.UnitPrice, BookID: cheapest.BookID, Code: BuyTwoGetOneFreeCode}, true
}

// Campaign is when a promotion runs: from Starts, included, until Ends,
// excluded. A zero Ends never ends.
type Campaign struct {
	Starts, Ends time.Time
}

// Active reports whether the campaign runs at t.
func (c Campaign) Active(t time.Time) bool {
	return !t.Before(c.Starts) && (c.Ends.IsZero() || t.Before(c.Ends))
}

// Offer is a promotion as a shopper is shown it, on the home page's
// banner.
type Offer struct {
	// Code names the promotion: BuyTwoGetOneFreeCode.
	Code string
	// Name is the promotion's name, for people (see PromotionName): what
	// pages head the promotion's lines with, on carts, checkouts and the
	// orders of Code.
	Name string
	// Banner is the banner's text, for people: what the promotion gives,
	// and its limits (one free book per order, once per customer).
	Banner string
	// Active is whether the campaign runs now. Outside it, no banner is
	// shown and no discount is given.
	Active bool
	// Eligible is whether the shopper may still use the promotion: true
	// for a guest and for a customer who has placed no order with it;
	// false once they have. The banner is shown when Active and Eligible.
	Eligible bool
	// Starts and Ends bound the campaign (see Campaign); a zero Ends never
	// ends.
	Starts, Ends time.Time
}

// Promotions runs the shop's promotion: it shows its offer, prices carts
// with it, and lets each customer use it once, with the checkouts
// claiming the customer's use while they place an order. A customer id
// of 0 is a guest.
//
// The claims of a checkout are named by the customer and a key of the
// checkout's own: the same key names the same claim, so that each call
// may be retried, and one customer's key never touches another's claim.
type Promotions interface {
	// Offer returns the offer as customerID (0 for a guest) is shown it
	// now. Errors: Invalid for a negative customer id.
	Offer(ctx context.Context, customerID int32) (Offer, error)
	// Price returns the discount that lines would get now: true when the
	// campaign runs, the lines earn it (BuyTwoGetOneFree) and the
	// customer may use it (has not used it, and no other checkout of
	// theirs holds it). A guest (0) is priced as a customer who may: the
	// caller shows that discount as one that applies once they sign in.
	// Errors: Invalid for a negative customer id or malformed lines.
	Price(ctx context.Context, customerID int32, lines []PromoLine) (Discount, bool, error)
	// Claim takes the customer's one use of the promotion for the
	// checkout named by key, with the discount that lines get, and
	// returns that discount and true; the use is held until Confirm or
	// Release, or until it expires by itself (a setting of the service).
	// It returns false, and holds nothing, when the campaign does not run,
	// the lines earn no discount, the customer has used the promotion, or
	// another of their checkouts holds it. Claiming again with the same
	// key is safe: a held claim is priced anew with lines (and given up
	// if they no longer earn it), a confirmed one returns its discount,
	// and a released or expired one claims again if it can. The claim is
	// on disk before Claim returns. Errors: Invalid for a customer id
	// under 1 (guests cannot claim), a malformed key or malformed lines.
	Claim(ctx context.Context, customerID int32, key string, lines []PromoLine) (Discount, bool, error)
	// Confirm records that the checkout of key was paid with the
	// discount: the customer's use is spent, for good once its order is
	// recorded (the checkout releases it if it is undone before that).
	// Confirming again is not an error;
	// a claim that was released or expired is confirmed all the same if
	// no other checkout of the customer holds or spent the use since.
	// Errors: Invalid for a malformed id or key; NotFound when key never
	// claimed; Conflict when another checkout of the customer holds or
	// spent the use.
	Confirm(ctx context.Context, customerID int32, key string) error
	// Release gives the use held or spent by the checkout of key back:
	// its order was not recorded. A confirmed claim is released too, so
	// that a checkout undone after its confirmation (its stock could not
	// be taken) frees the use; the checkout releases only before it
	// records its order. Releasing again, releasing an expired claim, and
	// releasing a key that holds nothing are not errors. Errors: Invalid
	// for a malformed id or key.
	Release(ctx context.Context, customerID int32, key string) error
}
