package bookshop

import (
	"context"
	"math"
	"time"
)

// The promotions: what a campaign of the shop gives, in the words every
// service speaks. What one campaign is, its code, its words, its rule and
// its dates, is the Promotions service's alone (internal/promotions):
// the kernel knows no campaign, so that the next one changes no package
// but that one. The others learn what they need of it from it, as data:
// which carts may earn a discount (Offer.MinBooks), what a discount takes
// off and how to show it (Discount), and why a claim was refused
// (ClaimOutcome).

// PromoLine is one line of a cart as a promotion reads it: a book, the
// price of one copy, and how many copies.
type PromoLine struct {
	BookID int32
	// UnitPrice is the price of one copy; the zero Money when the book
	// has none (it cannot be bought, and counts for nothing).
	UnitPrice Money
	Quantity  int
	// Title is the book's title, for the discount's label; "" when not
	// known.
	Title string
}

// PromoLinesOfCart returns the lines of a cart as a promotion reads them,
// in the same order.
func PromoLinesOfCart(lines []CartLine) []PromoLine {
	out := make([]PromoLine, len(lines))
	for i, l := range lines {
		out[i] = PromoLine{BookID: l.Book.ID, UnitPrice: l.Book.Price, Quantity: l.Quantity, Title: l.Book.Title}
	}
	return out
}

// PromoLinesOfOrder returns the lines of an order (or of a Quote) as a
// promotion reads them, in the same order.
func PromoLinesOfOrder(lines []OrderLine) []PromoLine {
	out := make([]PromoLine, len(lines))
	for i, l := range lines {
		out[i] = PromoLine{BookID: l.BookID, UnitPrice: l.UnitPrice, Quantity: l.Quantity, Title: l.Title}
	}
	return out
}

// Copies returns how many copies lines hold in all: what Offer.MinBooks
// bounds. A negative quantity counts for nothing, and a sum past
// math.MaxInt is math.MaxInt: it never wraps to a small or negative
// count, whatever quantities the lines claim.
func Copies(lines []PromoLine) int {
	n := 0
	for _, l := range lines {
		q := max(l.Quantity, 0)
		if q > math.MaxInt-n {
			return math.MaxInt
		}
		n += q
	}
	return n
}

// Discount is what a promotion takes off an order, and how to show it.
type Discount struct {
	// Amount is what is taken off the order's subtotal.
	Amount Money
	// BookID is the book of the order that the discount makes a copy of
	// free, for a page to point at it; 0 for a discount that makes no
	// book free.
	BookID int32
	// Code is the promotion's code: what the order records among its
	// Promotions.
	Code string
	// Label is the discount's line for people, in the promotion's words
	// ("Buy two, get one free: one Dune free"): what a page shows as it
	// is. "" when the promotion gave none (a record keeps no words).
	Label string
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
	// Code names the promotion, as orders record it.
	Code string
	// Name is the promotion's name, for people: what pages head the
	// promotion's lines with, on the orders of Code.
	Name string
	// Banner is the banner's text, for people: what the promotion gives,
	// and its limits.
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
	// MinBooks is the fewest copies (see Copies) that a cart needs to earn
	// a discount: a caller may skip asking about a cart of fewer, knowing
	// nothing more of the rule. 0 gives no bound: ask about every cart.
	MinBooks int
}

// MayEarn reports whether lines may earn the offer's discount, by its
// MinBooks alone: false only for a cart that cannot.
func (o Offer) MayEarn(lines []PromoLine) bool { return Copies(lines) >= o.MinBooks }

// ClaimOutcome is what a claim of a customer's use came to: granted, or
// why it was refused. None of the refusals is an error: the checkout
// goes on without the discount, and tells its shopper why.
type ClaimOutcome string

// The outcomes of a claim.
const (
	// ClaimGranted: the checkout holds the customer's use, with the
	// discount.
	ClaimGranted ClaimOutcome = "granted"
	// ClaimInactive: the campaign does not run now (not started, or
	// ended).
	ClaimInactive ClaimOutcome = "inactive"
	// ClaimNotEarned: the lines earn no discount.
	ClaimNotEarned ClaimOutcome = "not_earned"
	// ClaimUsed: the customer has used the promotion.
	ClaimUsed ClaimOutcome = "used"
	// ClaimHeld: another checkout of the customer holds their use now.
	ClaimHeld ClaimOutcome = "held"
	// ClaimRefused: refused, for a reason not given (a Promotions service
	// from before the reasons).
	ClaimRefused ClaimOutcome = "refused"
)

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
	// campaign runs, the lines earn it by the promotion's rule and the
	// customer may use it (has not used it, and no other checkout of
	// theirs holds it). A guest (0) is priced as a customer who may: the
	// caller shows that discount as one that applies once they sign in.
	// Errors: Invalid for a negative customer id or malformed lines.
	Price(ctx context.Context, customerID int32, lines []PromoLine) (Discount, bool, error)
	// Claim takes the customer's one use of the promotion for the
	// checkout named by key, with the discount that lines get, and
	// returns that discount and ClaimGranted; the use is held until
	// Confirm or Release, or until it expires by itself (a setting of the
	// service). It returns why not, and holds nothing, when the campaign
	// does not run (ClaimInactive), the lines earn no discount
	// (ClaimNotEarned), the customer has used the promotion (ClaimUsed),
	// or another of their checkouts holds it (ClaimHeld). Claiming again
	// with the same key is safe: a held claim is priced anew with lines
	// (and given up if they no longer earn it), a confirmed one returns
	// its discount, and a released or expired one claims again if it can.
	// The claim is on disk before Claim returns. Errors: Invalid for a
	// customer id under 1 (guests cannot claim), a malformed key or
	// malformed lines.
	Claim(ctx context.Context, customerID int32, key string, lines []PromoLine) (Discount, ClaimOutcome, error)
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
