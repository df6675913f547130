package orders

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The rules of an order and of the requests about orders. Each Check
// function returns nil or an Invalid error whose message says which field
// is wrong and why, in words for the caller.

// IDPrefix starts every order's id.
const IDPrefix = "o_"

// The limits of an order and of the requests.
const (
	// MaxLines is the most lines an order has: a cart's most.
	MaxLines = bookshop.MaxCartLines
	// MaxQuantity is the most copies of a book on a line: a cart's most.
	MaxQuantity = bookshop.MaxQuantity
	// MaxPaymentIDLen is the longest payment id.
	MaxPaymentIDLen = 64
	// MaxPromotions is the most promotions an order has.
	MaxPromotions = 10
	// MaxPromotionLen is the longest promotion code.
	MaxPromotionLen = 64
	// DefaultPageSize and MaxPageSize bound a page of a customer's orders
	// (List); DefaultAllPageSize and MaxAllPageSize a page of everyone's
	// (ListAll).
	DefaultPageSize    = 20
	MaxPageSize        = 50
	DefaultAllPageSize = 50
	MaxAllPageSize     = 100
)

// The lengths, in characters, of the fields of a shipping address.
const (
	MaxNameLen       = 100
	MaxAddressLen    = 200 // Line1 and Line2
	MaxCityLen       = 100
	MaxPostalCodeLen = 20
)

// NewOrderID returns a new order id: IDPrefix and 26 characters of
// bookshop.NewID, 128 random bits.
func NewOrderID() string { return IDPrefix + bookshop.NewID() }

// CheckOrderID returns an Invalid error unless id could be an order id
// NewOrderID returned.
func CheckOrderID(id string) error {
	rest, ok := strings.CutPrefix(id, IDPrefix)
	if !ok || !bookshop.ValidID(rest) {
		return bookshop.Errorf(bookshop.Invalid, "order id %q: want %s and 26 characters of a to z and 2 to 7", truncate(id), IDPrefix)
	}
	return nil
}

// CheckCustomerID returns an Invalid error for a customer id under 1.
func CheckCustomerID(id int32) error {
	if id < 1 {
		return bookshop.Errorf(bookshop.Invalid, "customer id %d: want 1 or more", id)
	}
	return nil
}

// CheckKey returns an Invalid error unless key is an idempotency key (see
// bookshop.CheckKey).
func CheckKey(key string) error { return bookshop.CheckKey("idempotency key", key) }

// CheckPageSize returns an Invalid error unless size is 0 (the default) or
// from 1 to most.
func CheckPageSize(size, most int) error {
	if size < 0 || size > most {
		return bookshop.Errorf(bookshop.Invalid, "page size %d: want 1 to %d, or 0 for the default", size, most)
	}
	return nil
}

// Checked returns order as the Orders service records it, or an Invalid
// error for the first rule it breaks:
//
//   - a customer id of 1 or more;
//   - 1 to MaxLines lines, each of another book (an id of 1 or more), with
//     a title (see checkText, bookshop.MaxTitleLen), a quantity from 1 to
//     MaxQuantity, a unit price of 0 or more and a total that is the unit
//     price times the quantity;
//   - every amount in the currency of the total;
//   - a subtotal that is the sum of the lines' totals, a discount from 0
//     to the subtotal, and a total that is the subtotal less the discount;
//   - at most MaxPromotions promotion codes, each of 1 to MaxPromotionLen
//     characters of A-Z, a-z, 0-9, '-' and '_', none twice;
//   - a payment id (1 to MaxPaymentIDLen such characters) unless the total
//     is 0;
//   - a shipping address with a name, a first line, a city, a postal code
//     and a country (two capital letters), and a second line or none.
//
// What the service sets is cleared: the ID, State, Created and Updated
// given are ignored. A zero Discount (none) becomes 0 in the order's
// currency, and empty Promotions nil. Checked does not trim: what is
// given is recorded as it is.
func Checked(o bookshop.Order) (bookshop.Order, error) {
	o.ID, o.State, o.Created, o.Updated = "", "", time.Time{}, time.Time{}
	if err := CheckCustomerID(o.CustomerID); err != nil {
		return bookshop.Order{}, err
	}
	if len(o.Lines) == 0 || len(o.Lines) > MaxLines {
		return bookshop.Order{}, invalid("lines", "%d lines: want 1 to %d", len(o.Lines), MaxLines)
	}
	if o.Total == (bookshop.Money{}) {
		return bookshop.Order{}, invalid("total", "missing")
	}
	currency := o.Total.Currency
	if err := bookshop.CheckCurrency(currency); err != nil {
		return bookshop.Order{}, invalid("total", "%s", bookshop.ErrorMessage(err))
	}
	sum := bookshop.Money{Currency: currency}
	o.Lines = slices.Clone(o.Lines)
	for i, l := range o.Lines {
		field := fmt.Sprintf("line %d (book %d)", i+1, l.BookID)
		if l.BookID < 1 {
			return bookshop.Order{}, invalid(field, "book id: want 1 or more")
		}
		if slices.ContainsFunc(o.Lines[:i], func(m bookshop.OrderLine) bool { return m.BookID == l.BookID }) {
			return bookshop.Order{}, invalid(field, "the book is on another line too: one line for each book")
		}
		if msg := checkText(l.Title, bookshop.MaxTitleLen); msg != "" {
			return bookshop.Order{}, invalid(field, "title %s", msg)
		}
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return bookshop.Order{}, invalid(field, "quantity %d: want 1 to %d", l.Quantity, MaxQuantity)
		}
		if msg := checkAmount(l.UnitPrice, currency); msg != "" {
			return bookshop.Order{}, invalid(field, "unit price %s", msg)
		}
		want, err := l.UnitPrice.Mul(int64(l.Quantity))
		if err != nil {
			return bookshop.Order{}, invalid(field, "%s", bookshop.ErrorMessage(err))
		}
		if l.Total != want {
			return bookshop.Order{}, invalid(field, "total %s: want %d × %s = %s", l.Total, l.Quantity, l.UnitPrice, want)
		}
		if sum, err = sum.Add(l.Total); err != nil {
			return bookshop.Order{}, invalid("subtotal", "%s", bookshop.ErrorMessage(err))
		}
	}
	if o.Subtotal != sum {
		return bookshop.Order{}, invalid("subtotal", "%s: want the sum of the lines' totals, %s", o.Subtotal, sum)
	}
	if o.Discount == (bookshop.Money{}) {
		o.Discount = bookshop.Money{Currency: currency}
	}
	if msg := checkAmount(o.Discount, currency); msg != "" {
		return bookshop.Order{}, invalid("discount", "%s", msg)
	}
	if o.Discount.Units > o.Subtotal.Units {
		return bookshop.Order{}, invalid("discount", "%s is more than the subtotal, %s", o.Discount, o.Subtotal)
	}
	if want := (bookshop.Money{Units: o.Subtotal.Units - o.Discount.Units, Currency: currency}); o.Total != want {
		return bookshop.Order{}, invalid("total", "%s: want the subtotal less the discount, %s", o.Total, want)
	}
	if len(o.Promotions) > MaxPromotions {
		return bookshop.Order{}, invalid("promotions", "%d: want at most %d", len(o.Promotions), MaxPromotions)
	}
	for i, p := range o.Promotions {
		if p == "" || len(p) > MaxPromotionLen || !allOf(p, "-_") {
			return bookshop.Order{}, invalid("promotions", "code %q: want 1 to %d characters of A to Z, a to z, 0 to 9, '-' and '_'", truncate(p), MaxPromotionLen)
		}
		if slices.Contains(o.Promotions[:i], p) {
			return bookshop.Order{}, invalid("promotions", "code %q is there twice", p)
		}
	}
	if len(o.Promotions) == 0 {
		o.Promotions = nil
	} else {
		o.Promotions = slices.Clone(o.Promotions)
	}
	switch {
	case o.PaymentID == "" && o.Total.Units > 0:
		return bookshop.Order{}, invalid("payment id", "missing: an order with a total to pay names its charge")
	case o.PaymentID != "" && (len(o.PaymentID) > MaxPaymentIDLen || !allOf(o.PaymentID, "-_")):
		return bookshop.Order{}, invalid("payment id", "%q: want 1 to %d characters of A to Z, a to z, 0 to 9, '-' and '_'", truncate(o.PaymentID), MaxPaymentIDLen)
	}
	if err := checkAddress(o.Shipping); err != nil {
		return bookshop.Order{}, err
	}
	return o, nil
}

// checkAddress returns an Invalid error for the first field of a that is
// wrong.
func checkAddress(a bookshop.Address) error {
	for _, f := range []struct {
		name, value string
		maxLen      int
		optional    bool
	}{
		{"name", a.Name, MaxNameLen, false},
		{"line 1", a.Line1, MaxAddressLen, false},
		{"line 2", a.Line2, MaxAddressLen, true},
		{"city", a.City, MaxCityLen, false},
		{"postal code", a.PostalCode, MaxPostalCodeLen, false},
	} {
		if f.optional && f.value == "" {
			continue
		}
		if msg := checkText(f.value, f.maxLen); msg != "" {
			return invalid("shipping address", "%s %s", f.name, msg)
		}
	}
	if len(a.Country) != 2 || strings.IndexFunc(a.Country, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return invalid("shipping address", "country %q: want an ISO 3166-1 code of two capital letters, such as DE", truncate(a.Country))
	}
	return nil
}

// checkText says what is wrong with a text of an order, or "": it must be
// valid UTF-8, show something (bookshop.Visible: not only spaces or
// invisible characters), of at most maxLen characters, without control
// characters.
func checkText(s string, maxLen int) string {
	switch {
	case !bookshop.Visible(s):
		return "is missing"
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
	return ""
}

// checkAmount says what is wrong with an amount of an order in currency,
// or "".
func checkAmount(m bookshop.Money, currency string) string {
	switch {
	case m.Currency != currency:
		return fmt.Sprintf("%s: want %s, the currency of the total", m, currency)
	case m.Units < 0:
		return fmt.Sprintf("%s is negative", m)
	}
	return ""
}

// invalid returns an Invalid error about field of an order.
func invalid(field, format string, args ...any) error {
	return bookshop.Errorf(bookshop.Invalid, "order: %s: %s", field, fmt.Sprintf(format, args...))
}

// allOf reports whether s has only ASCII letters, digits and the bytes of
// extra.
func allOf(s, extra string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// truncate shortens s, a field too long to be valid, for an error
// message: to its first 64 bytes and "...".
func truncate(s string) string {
	const most = 64
	if len(s) > most+8 {
		return s[:most] + "..."
	}
	return s
}

// Fingerprint returns the SHA-256 of what a checked order (see Checked)
// records: two orders have the same fingerprint exactly when they record
// the same purchase. It is kept with the idempotency key, to tell a retry
// from a key used for another order. It is written field by field, each
// with its length, rather than from the struct as a whole, so that a field
// added to bookshop.Order later changes no fingerprint already recorded.
func Fingerprint(o bookshop.Order) [sha256.Size]byte {
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.BigEndian.AppendUint64(buf[:0], uint64(len(s)))
		h.Write(buf)
		h.Write([]byte(s))
	}
	num := func(n int64) {
		buf = binary.BigEndian.AppendUint64(buf[:0], uint64(n))
		h.Write(buf)
	}
	money := func(m bookshop.Money) { num(m.Units); str(m.Currency) }
	str("bookshop.orders.v1") // the encoding's version
	num(int64(o.CustomerID))
	num(int64(len(o.Lines)))
	for _, l := range o.Lines {
		num(int64(l.BookID))
		str(l.Title)
		money(l.UnitPrice)
		num(int64(l.Quantity))
		money(l.Total)
	}
	money(o.Subtotal)
	money(o.Discount)
	money(o.Total)
	num(int64(len(o.Promotions)))
	for _, p := range o.Promotions {
		str(p)
	}
	str(o.PaymentID)
	a := o.Shipping
	for _, s := range []string{a.Name, a.Line1, a.Line2, a.City, a.PostalCode, a.Country} {
		str(s)
	}
	return [sha256.Size]byte(h.Sum(nil))
}
