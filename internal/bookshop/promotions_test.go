package bookshop_test

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func eur(units int64) bookshop.Money { return bookshop.Money{Units: units, Currency: "EUR"} }

func pl(id int32, price bookshop.Money, quantity int) bookshop.PromoLine {
	return bookshop.PromoLine{BookID: id, UnitPrice: price, Quantity: quantity}
}

func free(id int32, price bookshop.Money) bookshop.Discount {
	return bookshop.Discount{Amount: price, BookID: id, Code: bookshop.BuyTwoGetOneFreeCode}
}

func TestBuyTwoGetOneFree(t *testing.T) {
	tests := []struct {
		name  string
		lines []bookshop.PromoLine
		want  bookshop.Discount
		ok    bool
	}{
		{"empty cart", nil, bookshop.Discount{}, false},
		{"one book", []bookshop.PromoLine{pl(1, eur(1000), 1)}, bookshop.Discount{}, false},
		{"two books", []bookshop.PromoLine{pl(1, eur(1000), 1), pl(2, eur(500), 1)}, bookshop.Discount{}, false},
		{"two copies of one book", []bookshop.PromoLine{pl(1, eur(1000), 2)}, bookshop.Discount{}, false},
		{"exactly three books", []bookshop.PromoLine{pl(1, eur(1000), 1), pl(2, eur(500), 1), pl(3, eur(1200), 1)}, free(2, eur(500)), true},
		{"one book with quantity three", []bookshop.PromoLine{pl(7, eur(899), 3)}, free(7, eur(899)), true},
		{"two copies and one other", []bookshop.PromoLine{pl(4, eur(1500), 2), pl(9, eur(2000), 1)}, free(4, eur(1500)), true},
		{"the cheapest is the one of two copies", []bookshop.PromoLine{pl(9, eur(2000), 1), pl(4, eur(700), 2)}, free(4, eur(700)), true},
		{"mixed prices: the cheapest, wherever it is", []bookshop.PromoLine{pl(1, eur(1299), 1), pl(2, eur(999), 2), pl(3, eur(450), 1), pl(4, eur(3000), 1)}, free(3, eur(450)), true},
		{"ties: the lowest book id", []bookshop.PromoLine{pl(8, eur(500), 1), pl(3, eur(500), 1), pl(5, eur(500), 1)}, free(3, eur(500)), true},
		{"ties in another order: the same book", []bookshop.PromoLine{pl(5, eur(500), 1), pl(8, eur(500), 1), pl(3, eur(500), 1)}, free(3, eur(500)), true},
		{"one free book however large the cart", []bookshop.PromoLine{pl(1, eur(1000), 10), pl(2, eur(600), 10), pl(3, eur(800), 10)}, free(2, eur(600)), true},
		{"a line without a price does not count", []bookshop.PromoLine{pl(1, eur(1000), 1), pl(2, bookshop.Money{}, 1), pl(3, eur(500), 1)}, bookshop.Discount{}, false},
		{"a line without a price is never the free one", []bookshop.PromoLine{pl(1, eur(1000), 3), pl(2, bookshop.Money{}, 1)}, free(1, eur(1000)), true},
		{"a price of zero does not count", []bookshop.PromoLine{pl(1, eur(1000), 2), pl(2, eur(0), 1)}, bookshop.Discount{}, false},
		{"a negative price does not count", []bookshop.PromoLine{pl(1, eur(1000), 2), pl(2, eur(-100), 1)}, bookshop.Discount{}, false},
		{"a quantity of zero does not count", []bookshop.PromoLine{pl(1, eur(1000), 2), pl(2, eur(100), 0)}, bookshop.Discount{}, false},
		{"a negative quantity takes nothing away", []bookshop.PromoLine{pl(1, eur(1000), 3), pl(2, eur(100), -5)}, free(1, eur(1000)), true},
		{"mixed currencies: nothing", []bookshop.PromoLine{pl(1, eur(1000), 2), pl(2, bookshop.Money{Units: 100, Currency: "USD"}, 1)}, bookshop.Discount{}, false},
		{"mixed currencies, even with three of one", []bookshop.PromoLine{pl(1, eur(1000), 3), pl(2, bookshop.Money{Units: 100, Currency: "USD"}, 1)}, bookshop.Discount{}, false},
		{"another currency alone", []bookshop.PromoLine{pl(1, bookshop.Money{Units: 1500, Currency: "JPY"}, 3)}, free(1, bookshop.Money{Units: 1500, Currency: "JPY"}), true},
		{"huge quantities do not overflow", []bookshop.PromoLine{pl(1, eur(1000), math.MaxInt), pl(2, eur(900), math.MaxInt)}, free(2, eur(900)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := bookshop.BuyTwoGetOneFree(tt.lines)
			if got != tt.want || ok != tt.ok {
				t.Errorf("BuyTwoGetOneFree(%v) = %+v, %v; want %+v, %v", tt.lines, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCampaignActive(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    bookshop.Campaign
		at   time.Time
		want bool
	}{
		{"before the start", bookshop.Campaign{Starts: start, Ends: end}, start.Add(-time.Millisecond), false},
		{"at the start", bookshop.Campaign{Starts: start, Ends: end}, start, true},
		{"during", bookshop.Campaign{Starts: start, Ends: end}, start.Add(10 * 24 * time.Hour), true},
		{"just before the end", bookshop.Campaign{Starts: start, Ends: end}, end.Add(-time.Nanosecond), true},
		{"at the end", bookshop.Campaign{Starts: start, Ends: end}, end, false},
		{"after the end", bookshop.Campaign{Starts: start, Ends: end}, end.Add(time.Hour), false},
		{"no end, long after", bookshop.Campaign{Starts: start}, start.AddDate(10, 0, 0), true},
		{"no end, before the start", bookshop.Campaign{Starts: start}, start.Add(-time.Second), false},
		{"at the start in another zone", bookshop.Campaign{Starts: start, Ends: end}, start.In(time.FixedZone("CET", 3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Active(tt.at); got != tt.want {
				t.Errorf("%+v.Active(%v) = %v, want %v", tt.c, tt.at, got, tt.want)
			}
		})
	}
}

func TestPromoLinesOf(t *testing.T) {
	cart := []bookshop.CartLine{
		{Book: bookshop.Book{ID: 3, Price: eur(1299)}, Quantity: 2, Total: eur(2598)},
		{Book: bookshop.Book{ID: 1}, Quantity: 1},
	}
	want := []bookshop.PromoLine{pl(3, eur(1299), 2), pl(1, bookshop.Money{}, 1)}
	if got := bookshop.PromoLinesOfCart(cart); !slices.Equal(got, want) {
		t.Errorf("PromoLinesOfCart(%v) = %v, want %v", cart, got, want)
	}
	order := []bookshop.OrderLine{
		{BookID: 3, Title: "Dune", UnitPrice: eur(1299), Quantity: 2, Total: eur(2598)},
		{BookID: 1, Title: "Emma", Quantity: 1},
	}
	if got := bookshop.PromoLinesOfOrder(order); !slices.Equal(got, want) {
		t.Errorf("PromoLinesOfOrder(%v) = %v, want %v", order, got, want)
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
			UnitPrice: eur(int64(binary.BigEndian.Uint16(data[1:3])%1024) - 10),
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
// carts of three books or more in one currency; the order of the lines
// does not change it; and a cart twice as large still gets one free copy,
// not two.
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
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := cartOf(data)
		got, ok := bookshop.BuyTwoGetOneFree(lines)

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
			t.Fatalf("BuyTwoGetOneFree(%v) = %v, %v; the cart has %d books in %d currencies", lines, got, ok, books, len(currencies))
		}
		if !ok {
			if got != (bookshop.Discount{}) {
				t.Fatalf("BuyTwoGetOneFree(%v) = %+v, false; want the zero Discount", lines, got)
			}
			return
		}
		if got.Code != bookshop.BuyTwoGetOneFreeCode || got.Amount.Units <= 0 {
			t.Fatalf("BuyTwoGetOneFree(%v) = %+v: want a positive amount and the promotion's code", lines, got)
		}
		freed := false
		for _, l := range counted {
			if got.Amount.Currency != l.UnitPrice.Currency || got.Amount.Units > l.UnitPrice.Units {
				t.Fatalf("BuyTwoGetOneFree(%v) = %+v: more than the cheapest copy, %v of book %d", lines, got, l.UnitPrice, l.BookID)
			}
			if l.BookID == got.BookID && l.UnitPrice == got.Amount {
				freed = true
			}
			if l.UnitPrice == got.Amount && l.BookID < got.BookID {
				t.Fatalf("BuyTwoGetOneFree(%v) = %+v: book %d is as cheap and has a lower id", lines, got, l.BookID)
			}
		}
		if !freed {
			t.Fatalf("BuyTwoGetOneFree(%v) = %+v: no line of the cart is that book at that price", lines, got)
		}

		reversed := slices.Clone(lines)
		slices.Reverse(reversed)
		if again, ok := bookshop.BuyTwoGetOneFree(reversed); again != got || !ok {
			t.Fatalf("BuyTwoGetOneFree of the lines reversed = %+v, %v; want %+v, true, as in order", again, ok, got)
		}
		if twice, ok := bookshop.BuyTwoGetOneFree(slices.Concat(lines, lines)); twice != got || !ok {
			t.Fatalf("BuyTwoGetOneFree of the cart twice over = %+v, %v; want one free copy, %+v, as once", twice, ok, got)
		}
	})
}
