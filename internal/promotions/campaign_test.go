package promotions_test

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

func euros(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "EUR"} }

func pl(id int32, price bookshop.Money, quantity int) bookshop.PromoLine {
	return bookshop.PromoLine{BookID: id, UnitPrice: price, Quantity: quantity}
}

// free is the discount of BuyTwoGetOneFree's rule that makes a copy of
// book id, untitled, free.
func free(id int32, price bookshop.Money) bookshop.Discount {
	return bookshop.Discount{Amount: price, BookID: id, Label: "Buy two, get one free: one book free"}
}

func TestBuyTwoGetOneFree(t *testing.T) {
	p := promotions.BuyTwoGetOneFree()
	if p.Code != promotionsclient.BuyTwoGetOneFreeCode || p.Name != "Buy two, get one free" || p.Banner != promotions.Banner || p.MinBooks != 3 {
		t.Errorf("BuyTwoGetOneFree() = %+v, want its code, name, banner and MinBooks 3", p)
	}
	tests := []struct {
		name  string
		lines []bookshop.PromoLine
		want  bookshop.Discount
		ok    bool
	}{
		{"empty cart", nil, bookshop.Discount{}, false},
		{"one book", []bookshop.PromoLine{pl(1, euros(1000), 1)}, bookshop.Discount{}, false},
		{"two books", []bookshop.PromoLine{pl(1, euros(1000), 1), pl(2, euros(500), 1)}, bookshop.Discount{}, false},
		{"two copies of one book", []bookshop.PromoLine{pl(1, euros(1000), 2)}, bookshop.Discount{}, false},
		{"exactly three books", []bookshop.PromoLine{pl(1, euros(1000), 1), pl(2, euros(500), 1), pl(3, euros(1200), 1)}, free(2, euros(500)), true},
		{"one book with quantity three", []bookshop.PromoLine{pl(7, euros(899), 3)}, free(7, euros(899)), true},
		{"two copies and one other", []bookshop.PromoLine{pl(4, euros(1500), 2), pl(9, euros(2000), 1)}, free(4, euros(1500)), true},
		{"the cheapest is the one of two copies", []bookshop.PromoLine{pl(9, euros(2000), 1), pl(4, euros(700), 2)}, free(4, euros(700)), true},
		{"mixed prices: the cheapest, wherever it is", []bookshop.PromoLine{pl(1, euros(1299), 1), pl(2, euros(999), 2), pl(3, euros(450), 1), pl(4, euros(3000), 1)}, free(3, euros(450)), true},
		{"ties: the lowest book id", []bookshop.PromoLine{pl(8, euros(500), 1), pl(3, euros(500), 1), pl(5, euros(500), 1)}, free(3, euros(500)), true},
		{"ties in another order: the same book", []bookshop.PromoLine{pl(5, euros(500), 1), pl(8, euros(500), 1), pl(3, euros(500), 1)}, free(3, euros(500)), true},
		{"one free book however large the cart", []bookshop.PromoLine{pl(1, euros(1000), 10), pl(2, euros(600), 10), pl(3, euros(800), 10)}, free(2, euros(600)), true},
		{"a line without a price does not count", []bookshop.PromoLine{pl(1, euros(1000), 1), pl(2, bookshop.Money{}, 1), pl(3, euros(500), 1)}, bookshop.Discount{}, false},
		{"a line without a price is never the free one", []bookshop.PromoLine{pl(1, euros(1000), 3), pl(2, bookshop.Money{}, 1)}, free(1, euros(1000)), true},
		{"a price of zero does not count", []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, euros(0), 1)}, bookshop.Discount{}, false},
		{"a negative price does not count", []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, euros(-100), 1)}, bookshop.Discount{}, false},
		{"a quantity of zero does not count", []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, euros(100), 0)}, bookshop.Discount{}, false},
		{"a negative quantity takes nothing away", []bookshop.PromoLine{pl(1, euros(1000), 3), pl(2, euros(100), -5)}, free(1, euros(1000)), true},
		{"mixed currencies: nothing", []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, bookshop.Money{Units: 100, Currency: "USD"}, 1)}, bookshop.Discount{}, false},
		{"mixed currencies, even with three of one", []bookshop.PromoLine{pl(1, euros(1000), 3), pl(2, bookshop.Money{Units: 100, Currency: "USD"}, 1)}, bookshop.Discount{}, false},
		{"another currency alone", []bookshop.PromoLine{pl(1, bookshop.Money{Units: 1500, Currency: "JPY"}, 3)}, free(1, bookshop.Money{Units: 1500, Currency: "JPY"}), true},
		{"huge quantities do not overflow", []bookshop.PromoLine{pl(1, euros(1000), math.MaxInt), pl(2, euros(900), math.MaxInt)}, free(2, euros(900)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.Rule(tt.lines)
			if got != tt.want || ok != tt.ok {
				t.Errorf("BuyTwoGetOneFree's rule(%v) = %+v, %v; want %+v, %v", tt.lines, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestBuyTwoGetOneFreeLabel checks the discount's line for people: the
// promotion's name and the free book's title, as the lines give it.
func TestBuyTwoGetOneFreeLabel(t *testing.T) {
	p := promotions.BuyTwoGetOneFree()
	lines := []bookshop.PromoLine{
		{BookID: 1, UnitPrice: euros(1250), Quantity: 2, Title: "The Maltese Falcon"},
		{BookID: 2, UnitPrice: euros(1099), Quantity: 1, Title: "Dune"},
	}
	if d, ok := p.Rule(lines); !ok || d.Label != "Buy two, get one free: one Dune free" || d.BookID != 2 {
		t.Errorf("rule(%v) = %+v, %v; want Dune free, labelled so", lines, d, ok)
	}
}

// cartOf reads a cart from fuzz data, 6 bytes a line: a book id from 1
// to 16 (so that ids repeat), a price from -10 to 1013 cents (some
// without a price at all), a quantity from -2 to 13, and, now and then,
// another currency.
func cartOf(data []byte) []bookshop.PromoLine {
	var lines []bookshop.PromoLine
	for ; len(data) >= 6; data = data[6:] {
		l := bookshop.PromoLine{
			BookID:    int32(data[0]%16) + 1,
			UnitPrice: euros(int64(binary.BigEndian.Uint16(data[1:3])%1024) - 10),
			Quantity:  int(data[3]%16) - 2,
		}
		switch {
		case data[4] == 0:
			l.UnitPrice = bookshop.Money{}
		case data[4] == 1:
			l.UnitPrice.Currency = "USD"
		}
		if data[5]&1 == 1 { // a cart's quantities are small; a few are not
			l.Quantity *= 1 << 20
		}
		lines = append(lines, l)
	}
	return lines
}

// FuzzBuyTwoGetOneFree checks the rule over random carts: a discount is
// one copy of the cheapest book that counts, never more, given only to
// carts of three books or more in one currency, and never to a cart of
// fewer copies than the promotion's MinBooks (which callers rely on to
// skip asking); the order of the lines does not change it; and a cart
// twice as large still gets one free copy, not two.
func FuzzBuyTwoGetOneFree(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 100, 1, 2, 0})                                           // one book
	f.Add([]byte{1, 0, 100, 5, 2, 0})                                           // three copies of one book
	f.Add([]byte{1, 3, 232, 3, 2, 0, 2, 1, 244, 3, 2, 0, 3, 4, 176, 3, 2, 0})   // three books
	f.Add([]byte{8, 1, 244, 3, 2, 0, 3, 1, 244, 3, 2, 0, 5, 1, 244, 3, 2, 0})   // a tie
	f.Add([]byte{1, 3, 232, 4, 2, 0, 2, 0, 100, 3, 1, 0})                       // two currencies
	f.Add([]byte{1, 3, 232, 4, 2, 0, 2, 0, 100, 3, 0, 0})                       // a line without a price
	f.Add([]byte{1, 3, 232, 15, 2, 1, 2, 0, 5, 15, 2, 1, 3, 0, 0, 1, 2, 0})     // huge quantities, a negative price
	f.Add([]byte{1, 3, 232, 0, 2, 0, 2, 0, 5, 1, 2, 0, 3, 0, 20, 1, 2, 0, 255}) // a negative quantity, a stray byte
	p := promotions.BuyTwoGetOneFree()
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := cartOf(data)
		got, ok := p.Rule(lines)

		// What counts: lines that can be bought, at a price above zero.
		var (
			counted    []bookshop.PromoLine
			books      int64
			currencies = map[string]bool{}
		)
		for _, l := range lines {
			if l.Quantity >= 1 && l.UnitPrice.Units > 0 && l.UnitPrice.Currency != "" {
				counted = append(counted, l)
				books += int64(l.Quantity)
				currencies[l.UnitPrice.Currency] = true
			}
		}
		earns := books >= 3 && len(currencies) == 1
		if ok != earns {
			t.Fatalf("rule(%v) = %v, %v; the cart has %d books in %d currencies", lines, got, ok, books, len(currencies))
		}
		if ok && !(bookshop.Offer{MinBooks: p.MinBooks}).MayEarn(lines) {
			t.Fatalf("rule(%v) = %+v: a discount for a cart of %d copies, fewer than the MinBooks (%d) callers skip", lines, got, bookshop.Copies(lines), p.MinBooks)
		}
		if !ok {
			if got != (bookshop.Discount{}) {
				t.Fatalf("rule(%v) = %+v, false; want the zero Discount", lines, got)
			}
			return
		}
		if got.Amount.Units <= 0 || !strings.HasPrefix(got.Label, p.Name+": ") {
			t.Fatalf("rule(%v) = %+v: want a positive amount and a label of the promotion's name", lines, got)
		}
		freed := false
		for _, l := range counted {
			if got.Amount.Currency != l.UnitPrice.Currency || got.Amount.Units > l.UnitPrice.Units {
				t.Fatalf("rule(%v) = %+v: more than the cheapest copy, %v of book %d", lines, got, l.UnitPrice, l.BookID)
			}
			if l.BookID == got.BookID && l.UnitPrice == got.Amount {
				freed = true
			}
			if l.UnitPrice == got.Amount && l.BookID < got.BookID {
				t.Fatalf("rule(%v) = %+v: book %d is as cheap and has a lower id", lines, got, l.BookID)
			}
		}
		if !freed {
			t.Fatalf("rule(%v) = %+v: no line of the cart is that book at that price", lines, got)
		}

		reversed := slices.Clone(lines)
		slices.Reverse(reversed)
		if again, ok := p.Rule(reversed); again != got || !ok {
			t.Fatalf("rule of the lines reversed = %+v, %v; want %+v, true, as in order", again, ok, got)
		}
		if twice, ok := p.Rule(slices.Concat(lines, lines)); twice != got || !ok {
			t.Fatalf("rule of the cart twice over = %+v, %v; want one free copy, %+v, as once", twice, ok, got)
		}
	})
}
