package promotions

import (
	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// Promotion is one campaign of the shop: its code, its words, and its
// rule, all that changes from one campaign to the next. The shop's
// other services know none of it: they learn from this service, as data,
// which carts may earn a discount (the Offer's MinBooks), what a discount
// takes off and how to show it (its amount and Label), and the code an
// order records. The next campaign is a new Promotion, added last to
// Campaigns (and, for its orders to keep their name once it is over, its
// code and name in promotionsclient); its dates are settings (-starts,
// -ends).
type Promotion struct {
	// Code names the promotion in the orders that used it, for good.
	Code string
	// Name is the promotion's name for people, short, to head a line.
	Name string
	// Banner is the home page's banner: what the promotion gives, and its
	// limits.
	Banner string
	// MinBooks is the fewest copies a cart needs to earn a discount: no
	// cart of fewer earns one by Rule, and callers skip asking about them.
	// 0 gives no bound.
	MinBooks int
	// Rule returns the discount that lines earn, and true; false when they
	// earn none. The discount's amount is more than zero and less than the
	// subtotal of the lines with a price, in their currency (so lines in
	// more than one currency earn nothing); its Label is the line a page
	// shows; its BookID the book of a line a copy of which it makes free,
	// if any. The Service sets its Code, and gives no discount that
	// breaks this contract (it logs it as an error: a bug of the rule).
	// Rule is pure: the same lines earn the same discount, in whatever
	// order they come, and no line counts twice. Lines come checked by
	// CheckLines. FuzzCampaigns holds every rule of Campaigns to this.
	Rule func(lines []bookshop.PromoLine) (bookshop.Discount, bool)
}

// Campaigns returns every campaign the shop has run, oldest first; the
// last is the one it runs now (Current). The next campaign is added at
// the end: the service then runs it, and the tests hold it, as every
// campaign here, to what every rule must keep (FuzzCampaigns).
func Campaigns() []Promotion {
	return []Promotion{
		BuyTwoGetOneFree(),
	}
}

// Current returns the campaign the Promotions service runs unless told
// another (Options.Promotion, for tests): the last of Campaigns.
func Current() Promotion {
	all := Campaigns()
	return all[len(all)-1]
}

// Banner is the text of the banner of "buy two books, get the third
// free".
const Banner = "Buy two books, get the third free: with three or more books in your cart, the cheapest one is free. " +
	"One free book per order, on your first order with the offer."

// BuyTwoGetOneFree returns the shop's promotion, "buy two books, get the
// third free": a cart of three or more books, counting quantities (two
// copies of one book and one of another are three), gets one copy of its
// cheapest book free, labelled "Buy two, get one free: one <title>
// free".
//
// Only lines with a quantity of 1 or more and a price above zero count:
// a line without a price (the zero Money) is not a book that can be
// bought. The lines that count must all be in one currency; a cart of
// mixed currencies earns nothing, as their prices cannot be compared. Of
// books equally cheap, the one with the lowest id is made free, so that
// the same cart gets the same discount every time, whatever the order of
// its lines. One copy is free per cart, however many books it holds.
func BuyTwoGetOneFree() Promotion {
	const code = promotionsclient.BuyTwoGetOneFreeCode
	name := promotionsclient.Name(code)
	return Promotion{
		Code: code, Name: name, Banner: Banner, MinBooks: 3,
		Rule: func(lines []bookshop.PromoLine) (bookshop.Discount, bool) {
			return cheapestOfThreeFree(name, lines)
		},
	}
}

// cheapestOfThreeFree is the rule of BuyTwoGetOneFree, its discounts
// labelled with name.
func cheapestOfThreeFree(name string, lines []bookshop.PromoLine) (bookshop.Discount, bool) {
	var (
		cheapest bookshop.PromoLine
		found    bool
		books    int
	)
	for _, l := range lines {
		if l.Quantity < 1 || l.UnitPrice.Units <= 0 || l.UnitPrice.Currency == "" {
			continue
		}
		if found && l.UnitPrice.Currency != cheapest.UnitPrice.Currency {
			return bookshop.Discount{}, false
		}
		books = min(books+min(l.Quantity, 3), 3) // only "three or more" matters: no overflow
		if !found || l.UnitPrice.Units < cheapest.UnitPrice.Units ||
			l.UnitPrice.Units == cheapest.UnitPrice.Units && l.BookID < cheapest.BookID {
			cheapest, found = l, true
		}
	}
	if books < 3 {
		return bookshop.Discount{}, false
	}
	free := "one book"
	if cheapest.Title != "" {
		free = "one " + cheapest.Title
	}
	return bookshop.Discount{Amount: cheapest.UnitPrice, BookID: cheapest.BookID, Label: name + ": " + free + " free"}, true
}
