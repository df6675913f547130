package bookshop_test

import (
	"math"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in, currency string
		want         int64
		wantErr      bool
	}{
		{"12.99", "EUR", 1299, false},
		{"12", "EUR", 1200, false},
		{"12.5", "EUR", 1250, false},
		{"0.01", "EUR", 1, false},
		{"1000", "JPY", 1000, false},
		{"1.234", "KWD", 1234, false},
		{"12.999", "EUR", 0, true},
		{"12.", "EUR", 0, true},
		{".5", "EUR", 0, true},
		{"-1.00", "EUR", 0, true},
		{"1e3", "EUR", 0, true},
		{" 1.00", "EUR", 0, true},
		{"1.5", "JPY", 0, true},
		{"99999999999999999999", "EUR", 0, true},
		{"1.00", "eur", 0, true},
		{"1.00", "", 0, true},
	}
	for _, tt := range tests {
		got, err := bookshop.ParseMoney(tt.in, tt.currency)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMoney(%q, %q) error = %v, want error %v", tt.in, tt.currency, err, tt.wantErr)
			continue
		}
		if err != nil {
			if bookshop.ErrorCode(err) != bookshop.Invalid {
				t.Errorf("ParseMoney(%q, %q) error code = %s, want invalid", tt.in, tt.currency, bookshop.ErrorCode(err))
			}
			continue
		}
		if got != (bookshop.Money{Units: tt.want, Currency: tt.currency}) {
			t.Errorf("ParseMoney(%q, %q) = %v, want %d minor units", tt.in, tt.currency, got, tt.want)
		}
		if back := got.Decimal(); back != tt.in && tt.in != "12" && tt.in != "12.5" {
			t.Errorf("ParseMoney(%q).Decimal() = %q, want it back", tt.in, back)
		}
	}
}

func TestMoneyDecimalAndFormat(t *testing.T) {
	tests := []struct {
		m             bookshop.Money
		decimal, text string
	}{
		{bookshop.Money{Units: 1299, Currency: "EUR"}, "12.99", "€12.99"},
		{bookshop.Money{Units: 5, Currency: "EUR"}, "0.05", "€0.05"},
		{bookshop.Money{Units: -50, Currency: "GBP"}, "-0.50", "-£0.50"},
		{bookshop.Money{Units: 99999, Currency: "EUR"}, "999.99", "€999.99"},
		{bookshop.Money{Units: 130000, Currency: "EUR"}, "1300.00", "€1,300.00"},
		{bookshop.Money{Units: 123456789, Currency: "USD"}, "1234567.89", "$1,234,567.89"},
		{bookshop.Money{Units: -100000, Currency: "GBP"}, "-1000.00", "-£1,000.00"},
		{bookshop.Money{Units: 1000, Currency: "JPY"}, "1000", "¥1,000"},
		{bookshop.Money{Units: 100000, Currency: "JPY"}, "100000", "¥100,000"},
		{bookshop.Money{Units: 250, Currency: "CHF"}, "2.50", "2.50 CHF"},
		{bookshop.Money{Units: 123450, Currency: "CHF"}, "1234.50", "1,234.50 CHF"},
		{bookshop.Money{Units: 1234567, Currency: "KWD"}, "1234.567", "1,234.567 KWD"},
		{bookshop.Money{Units: math.MinInt64, Currency: "EUR"}, "-92233720368547758.08", "-€92,233,720,368,547,758.08"},
	}
	for _, tt := range tests {
		if got := tt.m.Decimal(); got != tt.decimal {
			t.Errorf("%#v.Decimal() = %q, want %q", tt.m, got, tt.decimal)
		}
		if got := tt.m.Format(); got != tt.text {
			t.Errorf("%#v.Format() = %q, want %q", tt.m, got, tt.text)
		}
	}
}

func TestMoneyArithmetic(t *testing.T) {
	eur := func(u int64) bookshop.Money { return bookshop.Money{Units: u, Currency: "EUR"} }
	if got, err := eur(1299).Add(eur(1)); err != nil || got != eur(1300) {
		t.Errorf("Add = %v, %v; want 13.00 EUR", got, err)
	}
	if _, err := eur(1).Add(bookshop.Money{Units: 1, Currency: "USD"}); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Add of another currency: error %v, want invalid", err)
	}
	if _, err := eur(math.MaxInt64).Add(eur(1)); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Add past MaxInt64: error %v, want invalid", err)
	}
	if got, err := eur(1299).Mul(3); err != nil || got != eur(3897) {
		t.Errorf("Mul = %v, %v; want 38.97 EUR", got, err)
	}
	if _, err := eur(math.MaxInt64 / 2).Mul(3); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Mul past MaxInt64: error %v, want invalid", err)
	}
}
