package bookshop

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The limits of a book's fields.
const (
	MaxTitleLen  = 300
	MaxAuthorLen = 200
	MinYear      = 1
	MaxYear      = 9999
	// MaxPrice is the most a book may cost, in major units of the shop's
	// currency (euros, not cents): 10,000, which is 1,000,000 minor units
	// in EUR and 10,000 in JPY (see MaxPriceUnits).
	MaxPrice = 10_000
)

// MaxChargeUnits is the most one payment may take, in the minor units of
// its currency: 999,999.99 EUR, as card processors cap a charge at eight
// digits. Payments refuses a charge above it, and the Checkout an order
// whose total is above it, before anything is held or charged: a cart may
// hold more (its caps are of books and copies, at up to MaxPrice each).
const MaxChargeUnits = 99_999_999

// DefaultCurrency is the shop's currency unless it is set otherwise.
const DefaultCurrency = "EUR"

// MaxPriceUnits returns MaxPrice in the minor units of currency:
// 1,000,000 for EUR.
func MaxPriceUnits(currency string) int64 {
	units := int64(MaxPrice)
	for range MinorDigits(currency) {
		units *= 10
	}
	return units
}

// FieldError is a rule of a book that it breaks.
type FieldError struct {
	Field   string // "id", "category", "title", "author", "year" or "price"
	Message string // what is wrong
}

// Error returns "field: what is wrong".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate returns a *FieldError for the first rule b breaks, or nil:
// title and author present, not too long, without control characters; a
// year from 1 to 9999; a known category; an id that is not negative; a
// price, more than zero and at most MaxPrice, in a valid currency. An id
// of 0 passes: in an import it asks for a new id. A book without a price
// (the zero Money) fails: Validate is the rule of what the shop takes in,
// and it sells every book it takes. Validate does not trim: callers trim
// first, and check that the price is in the shop's currency.
func (b Book) Validate() error {
	if b.ID < 0 {
		return &FieldError{"id", fmt.Sprintf("%d is negative: use a whole number from 1 to 2147483647", b.ID)}
	}
	if !b.Category.Valid() {
		return &FieldError{"category", "missing or unknown: use " + CategoryNames()}
	}
	if msg := checkText(b.Title, MaxTitleLen); msg != "" {
		return &FieldError{"title", msg}
	}
	if msg := checkText(b.Author, MaxAuthorLen); msg != "" {
		return &FieldError{"author", msg}
	}
	if b.Year < MinYear || b.Year > MaxYear {
		return &FieldError{"year", fmt.Sprintf("%d is not a year from %d to %d", b.Year, MinYear, MaxYear)}
	}
	if msg := checkPrice(b.Price); msg != "" {
		return &FieldError{"price", msg}
	}
	return nil
}

// checkPrice says what is wrong with a book's price, or "".
func checkPrice(p Money) string {
	switch {
	case p == Money{}:
		return "missing: every book needs a price, such as 12.99"
	case CheckCurrency(p.Currency) != nil:
		return ErrorMessage(CheckCurrency(p.Currency))
	case p.Units <= 0:
		return fmt.Sprintf("%s is not more than zero", p.Decimal())
	case p.Units > MaxPriceUnits(p.Currency):
		return fmt.Sprintf("%s is more than %d, the most a book may cost", p.Decimal(), MaxPrice)
	}
	return ""
}

// checkText says what is wrong with a title or author, or "".
func checkText(s string, maxLen int) string {
	switch {
	case s == "":
		return "must not be empty"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(s) > maxLen:
		return fmt.Sprintf("is longer than %d characters", maxLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	if !Visible(s) {
		return "shows nothing: it needs a letter, a digit or a sign"
	}
	return ""
}

// MatchKey returns the key under which two books count as the same book: their
// title and author, with case ignored as strings.EqualFold ignores it.
func (b Book) MatchKey() string {
	return fold(b.Title) + "\x00" + fold(b.Author)
}

// fold maps s to a key that is the same for two strings exactly when
// strings.EqualFold finds them equal: each letter becomes the smallest of
// its Unicode simple case folding orbit (so Σ, σ and ς are one letter).
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
