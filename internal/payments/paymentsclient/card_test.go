package paymentsclient_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentstest"
)

// visa is a good card, with an expiry that is good at any date the tests
// use; each test changes what it checks.
func visa() bookshop.Card {
	return bookshop.Card{Number: paymentsclient.TestCardApproved, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123", Name: "Ada Lovelace"}
}

func TestLuhn(t *testing.T) {
	for _, tt := range []struct {
		digits string
		want   bool
	}{
		{"4242424242424242", true},
		{"4000000000009995", true},
		{"4000000000000119", true},
		{"378282246310005", true},
		{"5555555555554444", true},
		{"2223003122003222", true},
		{"4222222222222", true},
		{"4000000000000000006", true},
		{"79927398713", true}, // the example of ISO/IEC 7812
		{"0", true},
		{"4242424242424241", false}, // the check digit off by one
		{"4242424242424224", false}, // two digits swapped
		{"79927398710", false},
		{"1", false},
		{"", false},
		{"4242 4242 4242 4242", false}, // digits only: spaces are taken out before
		{"42a2", false},
	} {
		if got := paymentsclient.Luhn(tt.digits); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.digits, got, tt.want)
		}
	}
}

func TestBrand(t *testing.T) {
	for _, tt := range []struct {
		digits, want string
	}{
		{"4242424242424242", paymentsclient.BrandVisa},
		{"4", paymentsclient.BrandVisa},
		{"340000000000009", paymentsclient.BrandAmex},
		{"378282246310005", paymentsclient.BrandAmex},
		{"5105105105105100", paymentsclient.BrandMastercard},
		{"5555555555554444", paymentsclient.BrandMastercard},
		{"2221000000000009", paymentsclient.BrandMastercard},
		{"2720999999999996", paymentsclient.BrandMastercard},
		{"2220000000000000", ""}, // just below the 2-series
		{"2721000000000004", ""}, // just above
		{"5000000000000009", ""},
		{"5600000000000000", ""},
		{"6011111111111117", ""}, // Discover: not taken
		{"3530111333300000", ""}, // JCB: not taken
		{"35", ""},
		{"3", ""},
		{"", ""},
	} {
		if got := paymentsclient.Brand(tt.digits); got != tt.want {
			t.Errorf("Brand(%q) = %q, want %q", tt.digits, got, tt.want)
		}
	}
}

func TestCheckCard(t *testing.T) {
	with := func(change func(*bookshop.Card)) bookshop.Card {
		c := visa()
		change(&c)
		return c
	}
	for _, tt := range []struct {
		name string
		card bookshop.Card
		want string // the whole message; "" for none
	}{
		{"a good Visa", visa(), ""},
		{"without spaces", with(func(c *bookshop.Card) { c.Number = "4242424242424242" }), ""},
		{"spaces anywhere", with(func(c *bookshop.Card) { c.Number = " 42 424242 4242424 2 " }), ""},
		{"a 13-digit Visa", with(func(c *bookshop.Card) { c.Number = "4222222222222" }), ""},
		{"a 19-digit Visa", with(func(c *bookshop.Card) { c.Number = "4000 0000 0000 0000 006" }), ""},
		{"a Mastercard", with(func(c *bookshop.Card) { c.Number = "5555 5555 5555 4444" }), ""},
		{"a 2-series Mastercard", with(func(c *bookshop.Card) { c.Number = "2223 0031 2200 3222" }), ""},
		{"an Amex with 4 digits of CVC", with(func(c *bookshop.Card) { c.Number, c.CVC = "3782 822463 10005", "1234" }), ""},
		{"no name", with(func(c *bookshop.Card) { c.Name = "" }), ""},
		{"a name with accents", with(func(c *bookshop.Card) { c.Name = "Peter Høeg-Ñúñez" }), ""},

		{"no number", with(func(c *bookshop.Card) { c.Number = "" }), "card number: required"},
		{"spaces only", with(func(c *bookshop.Card) { c.Number = "    " }), "card number: required"},
		{"dashes", with(func(c *bookshop.Card) { c.Number = "4242-4242-4242-4242" }), "card number: only digits and spaces, please"},
		{"a letter", with(func(c *bookshop.Card) { c.Number = "4242 4242 4242 424O" }), "card number: only digits and spaces, please"},
		{"Arabic-Indic digits", with(func(c *bookshop.Card) { c.Number = "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢" }), "card number: only digits and spaces, please"},
		{"too long to read", with(func(c *bookshop.Card) { c.Number = strings.Repeat("4", 33) }), "card number: too long: a card number has at most 19 digits"},
		{"12 digits", with(func(c *bookshop.Card) { c.Number = "4242 4242 4242" }), "card number: want 13 to 19 digits, not 12"},
		{"20 digits", with(func(c *bookshop.Card) { c.Number = "4242 4242 4242 4242 4242" }), "card number: want 13 to 19 digits, not 20"},
		{"a wrong digit", with(func(c *bookshop.Card) { c.Number = "4242 4242 4242 4241" }), "card number: the number is not valid: check the digits"},
		{"two digits swapped", with(func(c *bookshop.Card) { c.Number = "4242 4242 4242 2442" }), "card number: the number is not valid: check the digits"},
		{"Discover", with(func(c *bookshop.Card) { c.Number = "6011 1111 1111 1117" }), "card number: only Visa, Mastercard and American Express cards are taken"},
		{"a 14-digit Mastercard", with(func(c *bookshop.Card) { c.Number = "55000000000004" }), "card number: a Mastercard number has 16 digits, not 14"},
		{"a 16-digit Amex", with(func(c *bookshop.Card) { c.Number, c.CVC = "3400 0000 0000 0000", "1234" }), "card number: an American Express card number has 15 digits, not 16"},
		{"a 19-digit Mastercard", with(func(c *bookshop.Card) { c.Number = "2221 0000 0000 0000 000" }), "card number: a Mastercard number has 16 digits, not 19"},
		{"a 15-digit Visa", with(func(c *bookshop.Card) { c.Number = "400000000000006" }), "card number: a Visa card number has 13, 16 or 19 digits, not 15"},

		{"month 0", with(func(c *bookshop.Card) { c.ExpMonth = 0 }), "expiry: month 0: want 1 to 12"},
		{"month 13", with(func(c *bookshop.Card) { c.ExpMonth = 13 }), "expiry: month 13: want 1 to 12"},
		{"a two-digit year", with(func(c *bookshop.Card) { c.ExpYear = 31 }), "expiry: year 31: want the year in four digits, such as 2031"},
		{"a five-digit year", with(func(c *bookshop.Card) { c.ExpYear = 20310 }), "expiry: year 20310: want the year in four digits, such as 2031"},

		{"no CVC", with(func(c *bookshop.Card) { c.CVC = "" }), "cvc: required"},
		{"a 4-digit CVC on a Visa", with(func(c *bookshop.Card) { c.CVC = "1234" }), "cvc: want the 3 digits on the back of the card"},
		{"a 2-digit CVC", with(func(c *bookshop.Card) { c.CVC = "12" }), "cvc: want the 3 digits on the back of the card"},
		{"a CVC with a letter", with(func(c *bookshop.Card) { c.CVC = "12a" }), "cvc: want the 3 digits on the back of the card"},
		{"a 3-digit CVC on an Amex", with(func(c *bookshop.Card) { c.Number, c.CVC = "378282246310005", "123" }), "cvc: want the 4 digits on the front of the card"},
		{"a long CVC on a bad number", with(func(c *bookshop.Card) { c.Number, c.CVC = "1", "12345" }),
			"card number: want 13 to 19 digits, not 1; cvc: want 3 digits (4 for American Express)"},
		{"a 4-digit CVC on a bad number", with(func(c *bookshop.Card) { c.Number, c.CVC = "1", "1234" }), "card number: want 13 to 19 digits, not 1"},

		{"a name too long", with(func(c *bookshop.Card) { c.Name = strings.Repeat("é", 101) }), "cardholder name: at most 100 characters"},
		{"a name of 100 characters", with(func(c *bookshop.Card) { c.Name = strings.Repeat("é", 100) }), ""},
		{"a control character", with(func(c *bookshop.Card) { c.Name = "Ada\nLovelace" }), "cardholder name: only letters, spaces and punctuation, please"},
		{"a name not UTF-8", with(func(c *bookshop.Card) { c.Name = "Ada \xff" }), "cardholder name: only letters, spaces and punctuation, please"},

		{"everything wrong", bookshop.Card{Number: "4242 4242 4242 4241", ExpMonth: 13, ExpYear: 2031, CVC: "", Name: "\x00"},
			"card number: the number is not valid: check the digits; expiry: month 13: want 1 to 12; cvc: required; cardholder name: only letters, spaces and punctuation, please"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := paymentsclient.CheckCard(tt.card, time.Time{})
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckCard = %v, want nil", err)
				}
				return
			}
			if bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.ErrorMessage(err) != tt.want {
				t.Errorf("CheckCard = %v, want Invalid %q", err, tt.want)
			}
			paymentstest.CheckNoCardData(t, bookshop.ErrorMessage(err), tt.card)
		})
	}
}

func TestCheckExpiry(t *testing.T) {
	// The 31st of March 2031, late in the day in UTC, early in Tokyo's 1st
	// of April: UTC decides.
	now := time.Date(2031, 3, 31, 23, 30, 0, 0, time.UTC).In(time.FixedZone("JST", 9*3600))
	for _, tt := range []struct {
		month, year int
		want        string
	}{
		{3, 2031, ""}, // good until the end of its month
		{4, 2031, ""},
		{1, 2032, ""},
		{12, 2051, ""}, // 20 years ahead
		{2, 2031, "expiry: the card has expired: check the month and year"},
		{12, 2030, "expiry: the card has expired: check the month and year"},
		{1, 1999, "expiry: the card has expired: check the month and year"},
		{1, 2052, "expiry: more than 20 years ahead: check the year"},
		{0, 2032, "expiry: month 0: want 1 to 12"},
		{3, 31, "expiry: year 31: want the year in four digits, such as 2031"},
	} {
		err := paymentsclient.CheckExpiry(tt.month, tt.year, now)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckExpiry(%d, %d) = %v, want nil", tt.month, tt.year, err)
		case tt.want != "" && (bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.ErrorMessage(err) != tt.want):
			t.Errorf("CheckExpiry(%d, %d) = %v, want Invalid %q", tt.month, tt.year, err, tt.want)
		}
	}
}

// FuzzCheckCard checks, for any card, that CheckCard does not panic, and
// that what it says is for a shopper: Invalid, each problem naming a field
// of the card that paymentsclient.CardErrors finds, none repeating the
// number or the CVC, all valid UTF-8; or nil, and then the card's number
// passes the Luhn check.
func FuzzCheckCard(f *testing.F) {
	f.Add(paymentsclient.TestCardApproved, 12, 2031, "123", "Ada")
	f.Add("3782 822463 10005", 1, 2040, "1234", "")
	f.Add("4242 4242 4242 4241", 13, 31, "", "\x00")
	f.Add("6011111111111117", 6, 2030, "12a", "Ñ")
	f.Add("", 0, 0, "", "")
	f.Add("٤٢٤٢", -1, 99999, "1; cvc: 2", "x; expiry: y")
	f.Fuzz(func(t *testing.T, number string, month, year int, cvc, name string) {
		c := bookshop.Card{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc, Name: name}
		err := paymentsclient.CheckCard(c, time.Time{})
		if err == nil {
			if !paymentsclient.Luhn(strings.ReplaceAll(number, " ", "")) {
				t.Fatalf("CheckCard(%+v) = nil for a number that fails the Luhn check", c)
			}
			return
		}
		msg := bookshop.ErrorMessage(err)
		if bookshop.ErrorCode(err) != bookshop.Invalid || !utf8.ValidString(msg) {
			t.Fatalf("CheckCard(%+v) = %v, want Invalid in UTF-8", c, err)
		}
		fields := paymentsclient.CardErrors(err)
		if len(fields) != len(strings.Split(msg, paymentsclient.Separator)) {
			t.Fatalf("CheckCard(%+v) = %q: CardErrors finds %v, not every problem", c, msg, fields)
		}
		// The month and the year may be echoed, and may hold the number.
		rest := strings.NewReplacer(strconv.Itoa(month), "", strconv.Itoa(year), "").Replace(msg)
		if strings.Contains(rest, number) && len(strings.ReplaceAll(number, " ", "")) >= 8 {
			t.Fatalf("CheckCard(%+v) = %q repeats the number", c, msg)
		}
		// A message may echo the month or the year, and a CVC of "123"
		// may be in "-123": the CVC leaks only if the message changes
		// with it. Shifting each digit keeps the CVC exactly as valid.
		if other := shiftDigits(cvc); other != cvc {
			c.CVC = other
			if again := bookshop.ErrorMessage(paymentsclient.CheckCard(c, time.Time{})); again != msg {
				t.Fatalf("CheckCard(%+v) = %q, and %q with CVC %q: the message repeats the CVC", c, again, msg, cvc)
			}
		}
	})
}

// shiftDigits returns s with each ASCII digit d replaced by d+1 (9 by 0).
func shiftDigits(s string) string {
	b := []byte(s)
	for i, c := range b {
		if '0' <= c && c <= '9' {
			b[i] = '0' + (c-'0'+1)%10
		}
	}
	return string(b)
}
