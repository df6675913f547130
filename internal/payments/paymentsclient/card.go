package paymentsclient

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The rules of a card, which Payments applies to every charge (see
// Client.Charge). They are Payments', here in the contract's client
// package so that a form can check a card before it is sent, with every
// problem at once beside its field, by the very rules the charge will
// meet (CheckCardFields). A change of them reaches such a form with its
// next build: deploy it with Payments. None of their messages repeats a
// card's number or CVC, or its holder's name: they say what is wrong, so
// that they may be shown, logged and traced.

// The brands of the cards the processor takes.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandAmex       = "amex"
)

// The limits of a card's fields.
const (
	// MaxNumberLen is the most characters of a card number, spaces
	// included: 19 digits and room for the spaces between groups.
	MaxNumberLen = 32
	// MaxNameLen is the most characters of a cardholder's name.
	MaxNameLen = 100
	// MaxYearsAhead is how far ahead an expiry may be.
	MaxYearsAhead = 20
)

// CardNumber is what a card's number that passed its checks tells: its
// digits (which Payments never keeps, nor logs), its brand and its last
// four digits.
type CardNumber struct {
	Digits string
	Brand  string
	Last4  string
}

// String hides the digits, so that a number printed by mistake shows
// only what may be shown.
func (n CardNumber) String() string { return n.Brand + " ending " + n.Last4 }

// problem returns a problem of field for a message: "field: text".
func problem(field, format string, args ...any) string {
	return field + ": " + fmt.Sprintf(format, args...)
}

// invalid returns an Invalid error whose message is problems, joined as
// CardErrors reads them.
func invalid(problems []string) error {
	return bookshop.Errorf(bookshop.Invalid, "%s", strings.Join(problems, Separator))
}

// CheckCard returns an Invalid error listing every problem of c, each
// naming its field (see CardErrors): the number (digits and spaces, 13 to
// 19 digits, the Luhn check, a brand taken: Visa, Mastercard or American
// Express, and the brand's length), the expiry's month (1 to 12) and year
// (four digits) and, unless now is zero, whether the card is good at now
// (see CheckExpiry), the CVC (3 digits, 4 for American Express) and the
// cardholder's name (optional, at most MaxNameLen characters, printable).
func CheckCard(c bookshop.Card, now time.Time) error {
	if _, problems := CardProblems(c, now); len(problems) > 0 {
		return invalid(problems)
	}
	return nil
}

// CheckCardFields is CheckCard without the date: every rule of c but
// whether it is good today, which only the charge judges (Payments does
// not refuse the retry of a charge whose card expired since the first
// try, which a form must let through).
func CheckCardFields(c bookshop.Card) error { return CheckCard(c, time.Time{}) }

// CardProblems returns what c's number tells, when it passes its checks,
// and the problems of CheckCard(c, now), in the order of the fields; a
// zero now leaves the date out, as CheckCardFields does.
func CardProblems(c bookshop.Card, now time.Time) (CardNumber, []string) {
	var problems []string
	number, p := checkNumber(c.Number)
	if p != "" {
		problems = append(problems, p)
	}
	p = checkExpiryFields(c.ExpMonth, c.ExpYear)
	if !now.IsZero() {
		p = checkExpiry(c.ExpMonth, c.ExpYear, now)
	}
	if p != "" {
		problems = append(problems, p)
	}
	if p := checkCVC(c.CVC, number.Brand); p != "" {
		problems = append(problems, p)
	}
	if p := checkName(c.Name); p != "" {
		problems = append(problems, p)
	}
	return number, problems
}

// checkNumber returns what number tells, or a problem.
func checkNumber(number string) (CardNumber, string) {
	const field = FieldNumber
	if strings.TrimLeft(number, " ") == "" {
		return CardNumber{}, problem(field, "required")
	}
	if len(number) > MaxNumberLen {
		return CardNumber{}, problem(field, "too long: a card number has at most 19 digits")
	}
	digits := make([]byte, 0, 19)
	for i := range len(number) {
		switch c := number[i]; {
		case c == ' ':
		case '0' <= c && c <= '9':
			digits = append(digits, c)
		default:
			return CardNumber{}, problem(field, "only digits and spaces, please")
		}
	}
	n := len(digits)
	if n < 13 || n > 19 {
		return CardNumber{}, problem(field, "want 13 to 19 digits, not %d", n)
	}
	if !Luhn(string(digits)) {
		return CardNumber{}, problem(field, "the number is not valid: check the digits")
	}
	brand := Brand(string(digits))
	switch {
	case brand == "":
		return CardNumber{}, problem(field, "only Visa, Mastercard and American Express cards are taken")
	case brand == BrandVisa && n != 13 && n != 16 && n != 19:
		return CardNumber{}, problem(field, "a Visa card number has 13, 16 or 19 digits, not %d", n)
	case brand == BrandMastercard && n != 16:
		return CardNumber{}, problem(field, "a Mastercard number has 16 digits, not %d", n)
	case brand == BrandAmex && n != 15:
		return CardNumber{}, problem(field, "an American Express card number has 15 digits, not %d", n)
	}
	return CardNumber{Digits: string(digits), Brand: brand, Last4: string(digits[n-4:])}, ""
}

// Luhn reports whether digits, a string of the digits 0 to 9 only, ends in
// the right check digit (ISO/IEC 7812's Luhn algorithm): from the right,
// every second digit is doubled (less 9 past 9), and the sum is a
// multiple of 10. It is false for anything but digits, and for "".
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i]) - '0'
		if d < 0 || d > 9 {
			return false
		}
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// Brand returns the brand of a card number (digits only) from its first
// digits: BrandVisa for 4; BrandMastercard for 51 to 55 and 2221 to 2720;
// BrandAmex for 34 and 37; "" for any other.
func Brand(digits string) string {
	prefix := func(n int) int {
		if len(digits) < n {
			return -1
		}
		v := 0
		for i := range n {
			v = v*10 + int(digits[i]-'0')
		}
		return v
	}
	switch p2, p4 := prefix(2), prefix(4); {
	case len(digits) > 0 && digits[0] == '4':
		return BrandVisa
	case p2 == 34 || p2 == 37:
		return BrandAmex
	case 51 <= p2 && p2 <= 55, 2221 <= p4 && p4 <= 2720:
		return BrandMastercard
	}
	return ""
}

// checkExpiryFields returns a problem with the month or the year of an
// expiry, or "".
func checkExpiryFields(month, year int) string {
	const field = FieldExpiry
	switch {
	case month < 1 || month > 12:
		return problem(field, "month %d: want 1 to 12", month)
	case year < 1000 || year > 9999:
		return problem(field, "year %d: want the year in four digits, such as 2031", year)
	}
	return ""
}

// CheckExpiry returns an Invalid error, naming the field "expiry", unless
// a card that expires in month of year is good at now: until the end of
// its month, in UTC, and for at most MaxYearsAhead years. It checks the
// fields too (see CheckCard). A zero now is a date like any other (the
// year 1), not none.
func CheckExpiry(month, year int, now time.Time) error {
	if p := checkExpiry(month, year, now); p != "" {
		return invalid([]string{p})
	}
	return nil
}

// checkExpiry returns the problem of CheckExpiry, or "".
func checkExpiry(month, year int, now time.Time) string {
	if p := checkExpiryFields(month, year); p != "" {
		return p
	}
	now = now.UTC()
	switch {
	case year < now.Year() || year == now.Year() && time.Month(month) < now.Month():
		// The messages name no month or year: they reach Checkout's log
		// and saga record, which keep nothing of a card but its brand and
		// last four digits.
		return problem(FieldExpiry, "the card has expired: check the month and year")
	case year > now.Year()+MaxYearsAhead:
		return problem(FieldExpiry, "more than %d years ahead: check the year", MaxYearsAhead)
	}
	return ""
}

// checkCVC returns a problem with a CVC for a card of brand (or "" when
// the number is bad), or "".
func checkCVC(cvc, brand string) string {
	const field = FieldCVC
	if cvc == "" {
		return problem(field, "required")
	}
	digits := len(cvc) <= 4 && strings.IndexFunc(cvc, func(r rune) bool { return r < '0' || r > '9' }) < 0
	switch {
	case brand == BrandAmex && (!digits || len(cvc) != 4):
		return problem(field, "want the 4 digits on the front of the card")
	case brand == BrandAmex:
	case brand != "" && (!digits || len(cvc) != 3):
		return problem(field, "want the 3 digits on the back of the card")
	case !digits || len(cvc) < 3:
		return problem(field, "want 3 digits (4 for American Express)")
	}
	return ""
}

// checkName returns a problem with a cardholder's name, or "".
func checkName(name string) string {
	const field = FieldName
	switch {
	case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return problem(field, "only letters, spaces and punctuation, please")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return problem(field, "at most %d characters", MaxNameLen)
	}
	return ""
}
