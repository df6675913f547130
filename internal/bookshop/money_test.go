package bookshop_test

import (
	"math"
	"math/rand/v2"
	"strings"
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

// TestMoneyFormatGroups checks Format against its definition, on amounts
// of every length and sign in currencies of 0, 2 and 3 minor digits, with
// and without a symbol: Decimal's text, its whole units grouped by three,
// the sign before the symbol, or the code after.
func TestMoneyFormatGroups(t *testing.T) {
	want := func(m bookshop.Money) string {
		d := m.Decimal()
		sign := ""
		if strings.HasPrefix(d, "-") {
			sign, d = "-", d[1:]
		}
		whole, frac, point := strings.Cut(d, ".")
		var g []string
		for len(whole) > 3 {
			g, whole = append([]string{whole[len(whole)-3:]}, g...), whole[:len(whole)-3]
		}
		amount := strings.Join(append([]string{whole}, g...), ",")
		if point {
			amount += "." + frac
		}
		symbol := map[string]string{"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}[m.Currency]
		if symbol == "" {
			return sign + amount + " " + m.Currency
		}
		return sign + symbol + amount
	}
	r := rand.New(rand.NewPCG(18, 13))
	for i := range 20000 {
		units := r.Int64N(1 << uint(r.IntN(63)))
		if i%2 == 1 {
			units = -units
		}
		switch i {
		case 0:
			units = math.MinInt64
		case 1:
			units = math.MaxInt64
		}
		for _, c := range []string{"EUR", "JPY", "KWD", "CHF", "GBP"} {
			m := bookshop.Money{Units: units, Currency: c}
			if got, want := m.Format(), want(m); got != want {
				t.Fatalf("%#v.Format() = %q, want %q", m, got, want)
			}
		}
	}
}

// TestMoneyFormatAllocatesOnce checks that a price costs the pages one
// allocation, its text.
func TestMoneyFormatAllocatesOnce(t *testing.T) {
	m := bookshop.Money{Units: 123456789, Currency: "EUR"}
	var text string
	if n := testing.AllocsPerRun(100, func() { text = m.Format() }); n > 1 {
		t.Errorf("Format: %v allocations, want 1", n)
	}
	if text != "€1,234,567.89" {
		t.Errorf("Format() = %q", text)
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
