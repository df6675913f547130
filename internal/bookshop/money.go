package bookshop

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in the integer minor units of a currency (cents of
// a euro), never a float: sums are exact and nothing rounds by itself.
// The zero Money has no currency; arithmetic refuses to mix currencies.
type Money struct {
	// Units is the amount in minor units: 1299 is €12.99.
	Units int64
	// Currency is the ISO 4217 code, such as "EUR".
	Currency string
}

// minorDigits are the digits of the minor unit of currencies that do not
// have two (ISO 4217); every other currency has two.
var minorDigits = map[string]int{
	"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0,
	"BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}

// MinorDigits returns how many digits the minor unit of currency has: 2
// for EUR (cents), 0 for JPY.
func MinorDigits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// CheckCurrency returns an Invalid error unless code looks like an ISO
// 4217 code: three letters A to Z.
func CheckCurrency(code string) error {
	if len(code) != 3 || strings.IndexFunc(code, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return Errorf(Invalid, "currency %q: want an ISO 4217 code of three capital letters, such as EUR", code)
	}
	return nil
}

// ParseMoney reads a decimal amount such as "12.99" (or "12", "12.5") in
// currency: at most the currency's minor digits after the point, no sign,
// no exponent, no spaces. Errors: Invalid, saying what is wrong.
func ParseMoney(s, currency string) (Money, error) {
	if err := CheckCurrency(currency); err != nil {
		return Money{}, err
	}
	digits := MinorDigits(currency)
	whole, frac, hasPoint := strings.Cut(s, ".")
	switch {
	case whole == "" || !allDigits(whole) || !allDigits(frac) || hasPoint && frac == "":
		return Money{}, Errorf(Invalid, "amount %q: want a decimal number such as 12.99", s)
	case len(frac) > digits:
		return Money{}, Errorf(Invalid, "amount %q: %s has %d digits after the point, not %d", s, currency, digits, len(frac))
	}
	units, err := strconv.ParseInt(whole+frac+strings.Repeat("0", digits-len(frac)), 10, 64)
	if err != nil {
		return Money{}, Errorf(Invalid, "amount %q is too large", s)
	}
	return Money{Units: units, Currency: currency}, nil
}

func allDigits(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// Decimal returns m's amount as a decimal string without the currency:
// "12.99", "-0.50", "1000" for JPY. ParseMoney reads it back (when it is
// not negative).
func (m Money) Decimal() string {
	digits := MinorDigits(m.Currency)
	sign, u := "", m.Units
	if u < 0 {
		sign = "-"
	}
	abs := strconv.FormatUint(absUnits(u), 10)
	if digits == 0 {
		return sign + abs
	}
	if len(abs) <= digits {
		abs = strings.Repeat("0", digits-len(abs)+1) + abs
	}
	return sign + abs[:len(abs)-digits] + "." + abs[len(abs)-digits:]
}

// absUnits is |u| as a uint64, which holds even math.MinInt64's.
func absUnits(u int64) uint64 {
	if u < 0 {
		return uint64(-(u + 1)) + 1
	}
	return uint64(u)
}

// String returns m as "12.99 EUR".
func (m Money) String() string { return m.Decimal() + " " + m.Currency }

// Add returns m + n. Errors: Invalid for different currencies or a sum
// that does not fit.
func (m Money) Add(n Money) (Money, error) {
	if m.Currency != n.Currency {
		return Money{}, Errorf(Invalid, "cannot add %s to %s: different currencies", n, m)
	}
	if n.Units > 0 && m.Units > math.MaxInt64-n.Units || n.Units < 0 && m.Units < math.MinInt64-n.Units {
		return Money{}, Errorf(Invalid, "%s + %s does not fit", m, n)
	}
	return Money{Units: m.Units + n.Units, Currency: m.Currency}, nil
}

// Mul returns m times quantity. Errors: Invalid for a product that does
// not fit.
func (m Money) Mul(quantity int64) (Money, error) {
	if quantity != 0 && (m.Units*quantity/quantity != m.Units || m.Units == math.MinInt64 && quantity == -1) {
		return Money{}, Errorf(Invalid, "%s × %d does not fit", m, quantity)
	}
	return Money{Units: m.Units * quantity, Currency: m.Currency}, nil
}

// Format returns m for a shopper, with the currency's symbol where it has
// a common one, and the whole units in groups of three: "€12.99",
// "€1,300.00", "£3.50", "$5.00", else "1,300.00 CHF". (Decimal, which
// ParseMoney reads back, has no grouping.) It makes its text in one
// allocation: the pages show a price for every book they list.
func (m Money) Format() string {
	var buf [48]byte // the longest: "-¥9,223,372,036,854,775,808", or a minor unit's point more
	return string(m.appendFormat(buf[:0]))
}

// appendFormat appends Format's text to b.
func (m Money) appendFormat(b []byte) []byte {
	symbol := currencySymbol(m.Currency)
	if m.Units < 0 {
		b = append(b, '-')
	}
	b = append(b, symbol...)
	b = appendGrouped(b, absUnits(m.Units), MinorDigits(m.Currency))
	if symbol == "" {
		b = append(b, ' ')
		b = append(b, m.Currency...)
	}
	return b
}

// currencySymbol is the common symbol of currency, or "" when it has
// none that Format writes.
func currencySymbol(currency string) string {
	switch currency {
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	case "USD":
		return "$"
	case "JPY":
		return "¥"
	}
	return ""
}

// appendGrouped appends u minor units, of a currency whose minor unit has
// digits digits, as Decimal writes them but with a comma between each
// group of three digits of the whole part: 130000 with 2 digits is
// "1,300.00".
func appendGrouped(b []byte, u uint64, digits int) []byte {
	var d [24]byte
	abs := strconv.AppendUint(d[:0], u, 10)
	whole, frac := abs, abs[len(abs):]
	if digits > 0 {
		if len(abs) <= digits { // less than one whole unit: "0.05"
			whole, frac = []byte{'0'}, abs
		} else {
			whole, frac = abs[:len(abs)-digits], abs[len(abs)-digits:]
		}
	}
	first := len(whole) % 3
	if first == 0 {
		first = 3
	}
	b = append(b, whole[:min(first, len(whole))]...)
	for i := first; i < len(whole); i += 3 {
		b = append(b, ',')
		b = append(b, whole[i:i+3]...)
	}
	if digits > 0 {
		b = append(b, '.')
		for range digits - len(frac) {
			b = append(b, '0')
		}
		b = append(b, frac...)
	}
	return b
}

var _ fmt.Stringer = Money{}
