package payments_test

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments"
)

// checkNoCardData fails the test if s holds c's number (as typed, or its
// digits alone) or its CVC (of 3 or more characters) as a value of its
// own: not inside a longer run of digits, where a timestamp or an id
// holds any three digits by chance (1796178265534 holds "826").
func checkNoCardData(tb testing.TB, s string, c bookshop.Card) {
	tb.Helper()
	digits := strings.ReplaceAll(c.Number, " ", "")
	if len(digits) >= 8 && (strings.Contains(s, digits) || strings.Contains(s, c.Number)) {
		tb.Errorf("%q holds the card number", s)
	}
	if len(c.CVC) >= 3 && holdsValue(s, c.CVC) {
		tb.Errorf("%q holds the CVC", s)
	}
}

// holdsValue reports whether s holds v as a value of its own: with no
// digit or decimal point just before or just after it (so not in
// "1796178265534", nor in a duration of "826.4µs").
func holdsValue(s, v string) bool {
	isDigit := func(b byte) bool { return '0' <= b && b <= '9' || b == '.' }
	for i := 0; ; {
		j := strings.Index(s[i:], v)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(v)
		if (start == 0 || !isDigit(s[start-1])) && (end == len(s) || !isDigit(s[end])) {
			return true
		}
		i = start + 1
	}
}

func TestHoldsValue(t *testing.T) {
	for _, tt := range []struct {
		s, v string
		want bool
	}{
		{"826", "826", true},
		{"cvc=826,", "826", true},
		{`{"cvc":"826"}`, "826", true},
		{"1796178265534", "826", false},
		{"1796178265534 and 826", "826", true},
		{"8264", "826", false},
		{"duration=826.4µs", "826", false},
		{"0.826", "826", false},
		{"", "826", false},
	} {
		if got := holdsValue(tt.s, tt.v); got != tt.want {
			t.Errorf("holdsValue(%q, %q) = %v, want %v", tt.s, tt.v, got, tt.want)
		}
	}
}

func TestCheckAmount(t *testing.T) {
	for _, tt := range []struct {
		amount bookshop.Money
		want   string
	}{
		{eur(1), ""},
		{eur(1299), ""},
		{eur(payments.MaxAmountUnits), ""},
		{bookshop.Money{Units: 500, Currency: "JPY"}, ""},
		{bookshop.Money{}, "amount: required"},
		{eur(0), "amount: want more than zero, not 0.00 EUR"},
		{eur(-100), "amount: want more than zero, not -1.00 EUR"},
		{eur(payments.MaxAmountUnits + 1), "amount: at most 999999.99 EUR in one charge, not 1000000.00 EUR"},
		{bookshop.Money{Units: 100, Currency: "eur"}, `amount: currency "eur": want an ISO 4217 code of three capital letters, such as EUR`},
		{bookshop.Money{Units: 100}, `amount: currency "": want an ISO 4217 code of three capital letters, such as EUR`},
	} {
		err := payments.CheckAmount(tt.amount)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckAmount(%v) = %v, want nil", tt.amount, err)
		case tt.want != "" && (bookshop.ErrorCode(err) != bookshop.Invalid || bookshop.ErrorMessage(err) != tt.want):
			t.Errorf("CheckAmount(%v) = %v, want Invalid %q", tt.amount, err, tt.want)
		}
	}
}

func TestCheckKeyAndChargeID(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"a key", payments.CheckKey("checkout-42_pay-1"), ""},
		{"a key of 64", payments.CheckKey(strings.Repeat("k", 64)), ""},
		{"no key", payments.CheckKey(""), `idempotency key "": want 1 to 64 characters`},
		{"a key of 65", payments.CheckKey(strings.Repeat("k", 65)), `idempotency key "` + strings.Repeat("k", 65) + `": want 1 to 64 characters`},
		{"a key with a slash", payments.CheckKey("a/b"), `idempotency key "a/b": only letters A to Z, digits, '-' and '_' are allowed`},
		{"an id", payments.CheckChargeID("ch_" + strings.Repeat("A", 22)), ""},
		{"an id of 21", payments.CheckChargeID("ch_" + strings.Repeat("A", 21)), `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
		{"an id without its prefix", payments.CheckChargeID(strings.Repeat("A", 25)), `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
		{"an id with a dot", payments.CheckChargeID("ch_" + strings.Repeat("A", 21) + "."), `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
		{"no id", payments.CheckChargeID(""), `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
	} {
		switch {
		case tt.want == "" && tt.err != nil:
			t.Errorf("%s: %v, want nil", tt.name, tt.err)
		case tt.want != "" && (bookshop.ErrorCode(tt.err) != bookshop.Invalid || bookshop.ErrorMessage(tt.err) != tt.want):
			t.Errorf("%s: %v, want Invalid %q", tt.name, tt.err, tt.want)
		}
	}
}

