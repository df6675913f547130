package promotions_test

import (
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

func TestCheckLines(t *testing.T) {
	eur := func(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "EUR"} }
	many := make([]bookshop.PromoLine, promotions.MaxLines+1)
	for i := range many {
		many[i] = bookshop.PromoLine{BookID: int32(i + 1), UnitPrice: eur(100), Quantity: 1}
	}
	for _, tc := range []struct {
		name  string
		lines []bookshop.PromoLine
		want  string // a part of the message; "" for none
	}{
		{"none", nil, ""},
		{"as many as a cart holds", many[:promotions.MaxLines], ""},
		{"a free book", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(0), Quantity: 1}}, ""},
		{"a book without a price", []bookshop.PromoLine{{BookID: 1, Quantity: 10}}, ""},
		{"more than a cart holds", many, "51 lines"},
		{"book 0", []bookshop.PromoLine{{BookID: 0, UnitPrice: eur(100), Quantity: 1}}, "book id 0"},
		{"no copies", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(100), Quantity: 0}}, "book 1: quantity 0: want 1 to 10"},
		{"too many copies", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(100), Quantity: 11}}, "quantity 11"},
		{"a negative price", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(-1), Quantity: 1}}, "want 0 or more"},
		{"a currency in lower case", []bookshop.PromoLine{{BookID: 1, UnitPrice: bookshop.Money{Units: 1, Currency: "eur"}, Quantity: 1}}, `currency "eur"`},
		{"a book twice", []bookshop.PromoLine{{BookID: 4, UnitPrice: eur(1), Quantity: 1}, {BookID: 4, UnitPrice: eur(1), Quantity: 2}}, "book 4 is on two lines"},
		{"a title as long as a book's", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(1), Quantity: 1, Title: strings.Repeat("é", bookshop.MaxTitleLen)}}, ""},
		{"a title too long", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(1), Quantity: 1, Title: strings.Repeat("é", bookshop.MaxTitleLen+1)}}, "book 1: a title of 301 characters: want at most 300"},
		{"a control character in a title", []bookshop.PromoLine{{BookID: 1, UnitPrice: eur(1), Quantity: 1, Title: "a\x00b"}}, "book 1: the title holds the control character U+0000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := promotions.CheckLines(tc.lines)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckLines = %v, want nil", err)
			case tc.want != "" && (bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tc.want)):
				t.Errorf("CheckLines = %v, want Invalid saying %q", err, tc.want)
			}
		})
	}
}

func TestCheckIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"a guest shops", promotions.CheckShopper(0), ""},
		{"a customer shops", promotions.CheckShopper(1), ""},
		{"a negative shopper", promotions.CheckShopper(-1), "customer id -1"},
		{"a customer claims", promotions.CheckCustomer(1), ""},
		{"a guest claims", promotions.CheckCustomer(0), "sign in first"},
		{"a key", promotions.CheckKey("checkout-7Hq2_x"), ""},
		{"a key of 64", promotions.CheckKey(strings.Repeat("k", 64)), ""},
		{"a key of 65", promotions.CheckKey(strings.Repeat("k", 65)), "want 1 to 64 characters"},
		{"no key", promotions.CheckKey(""), "want 1 to 64 characters"},
		{"a key with a dot", promotions.CheckKey("a.b"), "only letters"},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v, want nil", tc.name, tc.err)
		case tc.want != "" && (bookshop.ErrorCode(tc.err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(tc.err), tc.want)):
			t.Errorf("%s: %v, want Invalid saying %q", tc.name, tc.err, tc.want)
		}
	}
}
