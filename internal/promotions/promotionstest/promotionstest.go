// Package promotionstest holds a campaign for tests: one of another shape
// than any the shop ran, given to a Promotions service
// (promotions.Config.Promotion, promotions.Options.Promotion) to show
// that the other services know no campaign, and held by the Promotions
// tests to what every rule must keep, as the shop's own are; and a
// Promotions that can be made to hang, or to answer late (see Hangable),
// for the tests of its callers.
package promotionstest

import (
	"math"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

// The words of TenPercentOff.
const (
	TenPercentOffCode   = "ten_percent_off"
	TenPercentOffName   = "Ten percent off"
	TenPercentOffBanner = "Ten percent off: 10% off any order of three books or more."
	TenPercentOffLabel  = "Ten percent off: 10% off your order"
)

// TenPercentOff returns a campaign of another shape than the shop's
// "buy two, get one free": 10% off (rounded down to the minor unit) an
// order of three books or more, counting copies, which makes no book
// free, labelled TenPercentOffLabel. Only lines with a quantity of 1 or
// more and a price above zero count; lines in more than one currency earn
// nothing, as does a subtotal whose tenth is less than one minor unit.
func TenPercentOff() promotions.Promotion {
	return promotions.Promotion{
		Code: TenPercentOffCode, Name: TenPercentOffName, Banner: TenPercentOffBanner, MinBooks: 3,
		Rule: tenPercentOff,
	}
}

// tenPercentOff is the rule of TenPercentOff.
func tenPercentOff(lines []bookshop.PromoLine) (bookshop.Discount, bool) {
	var (
		sub   bookshop.Money
		books int
	)
	for _, l := range lines {
		if l.Quantity < 1 || l.UnitPrice.Units <= 0 || l.UnitPrice.Currency == "" {
			continue
		}
		if sub.Currency != "" && l.UnitPrice.Currency != sub.Currency {
			return bookshop.Discount{}, false
		}
		if l.UnitPrice.Units > (math.MaxInt64-sub.Units)/int64(l.Quantity) {
			return bookshop.Discount{}, false // no cart of books comes near: none
		}
		sub = bookshop.Money{Units: sub.Units + l.UnitPrice.Units*int64(l.Quantity), Currency: l.UnitPrice.Currency}
		books = min(books+min(l.Quantity, 3), 3) // only "three or more" matters: no overflow
	}
	if books < 3 || sub.Units < 10 {
		return bookshop.Discount{}, false
	}
	return bookshop.Discount{Amount: bookshop.Money{Units: sub.Units / 10, Currency: sub.Currency}, Label: TenPercentOffLabel}, true
}
