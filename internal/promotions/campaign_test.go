package promotions_test

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/promotions"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionstest"
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

// TestCampaigns checks the list of the shop's campaigns: the one the
// service runs is the last (Current), whose code is the one tools report
// on by default (promotionsclient.LatestCode); each has a code of its own,
// a name that promotionsclient.Name gives for its code (so that its
// orders keep their name once it is over), a banner, a rule and a
// MinBooks of 0 or more; and a Service made without a Promotion runs the
// current one.
func TestCampaigns(t *testing.T) {
	all := promotions.Campaigns()
	if len(all) == 0 {
		t.Fatal("Campaigns() is empty")
	}
	current := promotions.Current()
	if last := all[len(all)-1]; current.Code != last.Code {
		t.Errorf("Current() = %q, want the last of Campaigns, %q", current.Code, last.Code)
	}
	if current.Code != promotionsclient.LatestCode {
		t.Errorf("Current() = %q, but promotionsclient.LatestCode = %q: name the new campaign there too", current.Code, promotionsclient.LatestCode)
	}
	codes := map[string]bool{}
	for _, p := range all {
		if codes[p.Code] {
			t.Errorf("code %q is given to two campaigns", p.Code)
		}
		codes[p.Code] = true
		if p.Code == "" || p.Banner == "" || p.Rule == nil || p.MinBooks < 0 {
			t.Errorf("campaign %+v: want a code, a banner, a rule and a MinBooks of 0 or more", p)
		}
		if got := promotionsclient.Name(p.Code); p.Name == "" || got != p.Name {
			t.Errorf("campaign %q is named %q, but promotionsclient.Name gives %q: name it there", p.Code, p.Name, got)
		}
	}
	svc, err := promotions.NewService(testContext(t), open(t, ":memory:"), promotions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Promotion().Code; got != current.Code {
		t.Errorf("a Service made without a Promotion runs %q, want the current one, %q", got, current.Code)
	}
}

// TestCheckDiscount checks the contract of a rule's discount, as the
// Service enforces it, on what the Service's own test of a broken rule
// cannot reach: lines in two currencies, lines without a price, and
// subtotals too large to add up.
func TestCheckDiscount(t *testing.T) {
	huge := []bookshop.PromoLine{pl(1, euros(math.MaxInt64/2), 10), pl(2, euros(math.MaxInt64/2), 10)}
	for _, tc := range []struct {
		name  string
		d     bookshop.Discount
		lines []bookshop.PromoLine
		want  string // "" for none
	}{
		{"one copy of three", free(2, euros(500)), []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, euros(500), 1)}, ""},
		{"all but a cent", bookshop.Discount{Amount: euros(2499)}, []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, euros(500), 1)}, ""},
		{"lines without a price do not count", bookshop.Discount{Amount: euros(1000)}, []bookshop.PromoLine{pl(1, euros(1000), 1), pl(2, bookshop.Money{}, 5)}, "less than their subtotal"},
		{"a free copy of a book without a price", free(2, euros(100)), []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, bookshop.Money{}, 1)}, "book 2"},
		{"two currencies", bookshop.Discount{Amount: euros(100)}, []bookshop.PromoLine{pl(1, euros(1000), 2), pl(2, bookshop.Money{Units: 500, Currency: "USD"}, 1)}, "more than one currency"},
		{"no price at all", bookshop.Discount{Amount: euros(100)}, []bookshop.PromoLine{pl(1, bookshop.Money{}, 3)}, "without a price"},
		{"a subtotal past int64", bookshop.Discount{Amount: euros(math.MaxInt64 - 1)}, huge, ""},
	} {
		err := promotions.CheckDiscount(tc.d, tc.lines)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: CheckDiscount = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: CheckDiscount = %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// checkedCart reads a cart from fuzz data, as CheckLines lets it reach a
// rule: 5 bytes a line, a book id from 1 to 20 (a book given again is
// left out), a price from 0 to 1023 cents, now and then none or in
// dollars, and 1 to 10 copies; at most MaxLines lines.
func checkedCart(data []byte) []bookshop.PromoLine {
	var lines []bookshop.PromoLine
	for ; len(data) >= 5 && len(lines) < promotions.MaxLines; data = data[5:] {
		l := bookshop.PromoLine{
			BookID:    int32(data[0]%20) + 1,
			UnitPrice: euros(int64(binary.BigEndian.Uint16(data[1:3]) % 1024)),
			Quantity:  int(data[4]%promotions.MaxLineQuantity) + 1,
			Title:     "Book " + strconv.Itoa(int(data[0]%20)+1),
		}
		switch data[3] {
		case 0:
			l.UnitPrice = bookshop.Money{}
		case 1:
			l.UnitPrice.Currency = "USD"
		}
		if !slices.ContainsFunc(lines, func(o bookshop.PromoLine) bool { return o.BookID == l.BookID }) {
			lines = append(lines, l)
		}
	}
	return lines
}

// campaignChecks are the checks of a campaign's own rule, by its code,
// that FuzzCampaigns makes besides those of every rule: what the
// campaign promises its shoppers. got and ok are the rule's answer for
// lines.
var campaignChecks = map[string]func(t *testing.T, p promotions.Promotion, lines []bookshop.PromoLine, got bookshop.Discount, ok bool){
	promotionsclient.BuyTwoGetOneFreeCode: checkBuyTwoGetOneFree,
}

// checkBuyTwoGetOneFree checks the rule of "buy two books, get the third
// free": a discount is one copy of the cheapest book that counts, the
// one with the lowest id among the equally cheap, given to carts of
// three books or more in one currency and to no other, labelled with the
// promotion's name; and a cart of ten copies of each of its books still
// gets one free copy, the same.
func checkBuyTwoGetOneFree(t *testing.T, p promotions.Promotion, lines []bookshop.PromoLine, got bookshop.Discount, ok bool) {
	var (
		counted    []bookshop.PromoLine
		books      int
		currencies = map[string]bool{}
	)
	for _, l := range lines {
		if l.UnitPrice.Units > 0 {
			counted = append(counted, l)
			books += l.Quantity
			currencies[l.UnitPrice.Currency] = true
		}
	}
	if earns := books >= 3 && len(currencies) == 1; ok != earns {
		t.Fatalf("rule(%v) = %v, %v; the cart has %d books in %d currencies", lines, got, ok, books, len(currencies))
	}
	if !ok {
		return
	}
	if !strings.HasPrefix(got.Label, p.Name+": ") {
		t.Fatalf("rule(%v) = %+v: want a label that starts with the promotion's name", lines, got)
	}
	freed := false
	for _, l := range counted {
		if got.Amount.Units > l.UnitPrice.Units {
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
	more := slices.Clone(lines)
	for i := range more {
		more[i].Quantity = promotions.MaxLineQuantity
	}
	if again, ok := p.Rule(more); again != got || !ok {
		t.Fatalf("rule of the cart with %d copies of each book = %+v, %v; want one free copy, %+v, as before", promotions.MaxLineQuantity, again, ok, got)
	}
}

// FuzzCampaigns checks every campaign the shop ran (Campaigns), and a
// campaign of another shape (promotionstest.TenPercentOff), over random
// carts as CheckLines lets them reach a rule, for what every rule must
// keep (see Promotion.Rule): no discount is the zero Discount; a discount
// is more than zero, less than the subtotal of the lines with a price,
// in their one currency, and makes free, if any, a copy of a book of
// those lines (CheckDiscount agreeing); no cart of fewer copies than the
// campaign's MinBooks earns one (callers skip those carts); and the
// order of the lines changes nothing. A campaign's own promises are
// checked too (campaignChecks). A campaign added to Campaigns is fuzzed
// here without another target.
func FuzzCampaigns(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 100, 2, 0})                                                   // one book
	f.Add([]byte{1, 0, 100, 2, 2})                                                   // three copies of one book
	f.Add([]byte{1, 3, 232, 2, 0, 2, 1, 244, 2, 0, 3, 4, 176, 2, 0})                 // three books
	f.Add([]byte{8, 1, 244, 2, 0, 3, 1, 244, 2, 0, 5, 1, 244, 2, 0})                 // a tie
	f.Add([]byte{1, 3, 232, 2, 1, 2, 0, 100, 1, 0})                                  // two currencies
	f.Add([]byte{1, 3, 232, 2, 1, 2, 0, 100, 0, 0})                                  // a line without a price
	f.Add([]byte{1, 0, 0, 2, 1, 2, 0, 0, 2, 0, 3, 0, 1, 2, 0})                       // prices of zero, and a cent
	f.Add([]byte{1, 0, 5, 2, 9, 2, 0, 5, 2, 9, 1, 0, 9, 2, 9, 3, 3, 255, 2, 9, 255}) // a book again, ten copies, a stray byte
	campaigns := append(promotions.Campaigns(), promotionstest.TenPercentOff())
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := checkedCart(data)
		if err := promotions.CheckLines(lines); err != nil {
			t.Fatalf("checkedCart(%v) = %v, which CheckLines refuses: %v", data, lines, err)
		}
		// The subtotal of the lines with a price, and their currencies.
		var (
			subtotal   int64
			currencies = map[string]bool{}
		)
		for _, l := range lines {
			if l.UnitPrice.Units > 0 {
				subtotal += l.UnitPrice.Units * int64(l.Quantity)
				currencies[l.UnitPrice.Currency] = true
			}
		}
		for _, p := range campaigns {
			got, ok := p.Rule(lines)
			if !ok && got != (bookshop.Discount{}) {
				t.Fatalf("%s: rule(%v) = %+v, false; want the zero Discount", p.Code, lines, got)
			}
			if ok {
				if len(currencies) != 1 || !currencies[got.Amount.Currency] {
					t.Fatalf("%s: rule(%v) = %+v: want a discount in the lines' one currency, of %v", p.Code, lines, got, currencies)
				}
				if got.Amount.Units <= 0 || got.Amount.Units >= subtotal {
					t.Fatalf("%s: rule(%v) = %+v: want more than zero and less than the subtotal, %d", p.Code, lines, got, subtotal)
				}
				if got.BookID != 0 && !slices.ContainsFunc(lines, func(l bookshop.PromoLine) bool { return l.BookID == got.BookID && l.UnitPrice.Units > 0 }) {
					t.Fatalf("%s: rule(%v) = %+v: book %d is not a line with a price", p.Code, lines, got, got.BookID)
				}
				if err := promotions.CheckDiscount(got, lines); err != nil {
					t.Fatalf("%s: rule(%v) = %+v, which the Service would refuse: %v", p.Code, lines, got, err)
				}
				if !(bookshop.Offer{MinBooks: p.MinBooks}).MayEarn(lines) {
					t.Fatalf("%s: rule(%v) = %+v: a discount for a cart of %d copies, fewer than the MinBooks (%d) callers skip", p.Code, lines, got, bookshop.Copies(lines), p.MinBooks)
				}
			}
			reversed := slices.Clone(lines)
			slices.Reverse(reversed)
			if again, againOK := p.Rule(reversed); again != got || againOK != ok {
				t.Fatalf("%s: rule of the lines reversed = %+v, %v; want %+v, %v, as in order", p.Code, again, againOK, got, ok)
			}
			if check := campaignChecks[p.Code]; check != nil {
				check(t, p, lines, got, ok)
			}
		}
	})
}
