package payments_test

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments"
)

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
