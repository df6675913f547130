package checkout_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/checkout"
	"github.com/bookshop-go/bookshop/internal/checkout/saga"
)

func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*bookshop.Address)
		want   string // a part of the message; "" for none
	}{
		{"complete", func(*bookshop.Address) {}, ""},
		{"a second line", func(a *bookshop.Address) { a.Line2 = "Flat 3" }, ""},
		{"accents", func(a *bookshop.Address) { a.Name, a.City = "Jo Nesbø", "Kraków" }, ""},
		{"no name", func(a *bookshop.Address) { a.Name = "" }, "shipping address: name: required"},
		{"a name of spaces", func(a *bookshop.Address) { a.Name = "   " }, "shipping address: name: required"},
		{"no first line", func(a *bookshop.Address) { a.Line1 = "" }, "shipping address: address: required"},
		{"no city", func(a *bookshop.Address) { a.City = "" }, "shipping address: city: required"},
		{"no postal code", func(a *bookshop.Address) { a.PostalCode = "" }, "shipping address: postal code: required"},
		{"a long name", func(a *bookshop.Address) { a.Name = strings.Repeat("é", 101) }, "shipping address: name: at most 100 characters, not 101"},
		{"a long postal code", func(a *bookshop.Address) { a.PostalCode = strings.Repeat("1", 21) }, "postal code: at most 20"},
		{"a control character", func(a *bookshop.Address) { a.Line2 = "a\nb" }, "second address line: only printable characters"},
		{"not UTF-8", func(a *bookshop.Address) { a.City = "\xff" }, "city: only printable characters"},
		{"no country", func(a *bookshop.Address) { a.Country = "" }, "country: want a code of two capital letters"},
		{"a country in lower case", func(a *bookshop.Address) { a.Country = "gb" }, "country: want a code of two capital letters"},
		{"a country's name", func(a *bookshop.Address) { a.Country = "GBR" }, "country: want a code of two capital letters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := address
			tc.change(&a)
			checkError(t, "CheckAddress", checkout.CheckAddress(a), tc.want)
		})
	}
}

func TestCheckCard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*bookshop.Card)
		want   string
	}{
		{"a card", func(*bookshop.Card) {}, ""},
		{"a bad number, for Payments to find", func(c *bookshop.Card) { c.Number = "1234" }, ""},
		{"no number", func(c *bookshop.Card) { c.Number = "" }, "card number: required"},
		{"a long number", func(c *bookshop.Card) { c.Number = strings.Repeat("4", 33) }, "card number: at most 32"},
		{"month 0", func(c *bookshop.Card) { c.ExpMonth = 0 }, "expiry: the month is 1 to 12"},
		{"month 13", func(c *bookshop.Card) { c.ExpMonth = 13 }, "expiry: the month is 1 to 12"},
		{"a two-digit year", func(c *bookshop.Card) { c.ExpYear = 30 }, "expiry: the year has four digits"},
		{"no CVC", func(c *bookshop.Card) { c.CVC = "" }, "cvc: required"},
		{"a long CVC", func(c *bookshop.Card) { c.CVC = "12345" }, "cvc: at most 4"},
		{"a long name", func(c *bookshop.Card) { c.Name = strings.Repeat("a", 101) }, "cardholder name: at most 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := card("4242 4242 4242 4242")
			tc.change(&c)
			err := checkout.CheckCard(c)
			checkError(t, "CheckCard", err, tc.want)
			if err != nil && strings.Contains(err.Error(), c.Number) && c.Number != "" {
				t.Errorf("CheckCard's error %q holds the card's number", err)
			}
		})
	}
}

func TestCheckPlace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*bookshop.PlaceOrder)
		want   string
	}{
		{"a request", func(*bookshop.PlaceOrder) {}, ""},
		{"no key", func(p *bookshop.PlaceOrder) { p.Key = "" }, "idempotency key \"\": want 1 to 64 characters"},
		{"a long key", func(p *bookshop.PlaceOrder) { p.Key = strings.Repeat("k", 65) }, "want 1 to 64 characters"},
		{"a key with a dot", func(p *bookshop.PlaceOrder) { p.Key = "k.1" }, "only letters A to Z, digits"},
		{"customer 0", func(p *bookshop.PlaceOrder) { p.CustomerID = 0 }, "customer id 0: want 1 or more"},
		{"no cart", func(p *bookshop.PlaceOrder) { p.CartID = "" }, "cart id"},
		{"a total of 0", func(p *bookshop.PlaceOrder) { p.Total = eur(0) }, "want more than zero"},
		{"a negative total", func(p *bookshop.PlaceOrder) { p.Total = eur(-1) }, "want more than zero"},
		{"a total without a currency", func(p *bookshop.PlaceOrder) { p.Total.Currency = "" }, "total: currency"},
		{"no total", func(p *bookshop.PlaceOrder) { p.Total = bookshop.Money{} }, "total: required"},
		{"a bad address", func(p *bookshop.PlaceOrder) { p.Shipping.City = "" }, "shipping address: city"},
		{"a bad card", func(p *bookshop.PlaceOrder) { p.Card.CVC = "" }, "cvc: required"},
		{"a lines digest", func(p *bookshop.PlaceOrder) { p.LinesDigest = strings.Repeat("0f", 32) }, ""},
		{"a short lines digest", func(p *bookshop.PlaceOrder) { p.LinesDigest = "0f" }, "lines digest: want 64 lower-case hex digits"},
		{"an upper-case lines digest", func(p *bookshop.PlaceOrder) { p.LinesDigest = strings.Repeat("0F", 32) }, "lines digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := order(1, "k-1", eur(100), "4242 4242 4242 4242")
			tc.change(&req)
			checkError(t, "CheckPlace", checkout.CheckPlace(req), tc.want)
		})
	}
}

// stockLines returns the books and quantities of lines.
func stockLines(lines []bookshop.OrderLine) []bookshop.StockLine {
	out := make([]bookshop.StockLine, len(lines))
	for i, l := range lines {
		out[i] = bookshop.StockLine{BookID: l.BookID, Quantity: l.Quantity}
	}
	return out
}

// TestLinesDigest checks that a digest of lines tells their books and
// quantities, whatever their order and however a book's copies are split
// among lines, and nothing else.
func TestLinesDigest(t *testing.T) {
	d := checkout.LinesDigest([]bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 3, Quantity: 1}})
	if !bookshop.ValidLinesDigest(d) {
		t.Fatalf("LinesDigest = %q, want 64 lower-case hex digits", d)
	}
	if same := checkout.LinesDigest([]bookshop.StockLine{{BookID: 3, Quantity: 1}, {BookID: 1, Quantity: 1}, {BookID: 1, Quantity: 1}}); same != d {
		t.Errorf("the same books and quantities, in another order: %q, want %q", same, d)
	}
	for _, other := range [][]bookshop.StockLine{
		{{BookID: 1, Quantity: 1}, {BookID: 3, Quantity: 2}},
		{{BookID: 1, Quantity: 2}},
		{{BookID: 1, Quantity: 2}, {BookID: 3, Quantity: 1}, {BookID: 4, Quantity: 1}},
		{{BookID: 12, Quantity: 1}, {BookID: 3, Quantity: 1}},
	} {
		if got := checkout.LinesDigest(other); got == d {
			t.Errorf("LinesDigest(%v) = the digest of other lines", other)
		}
	}
}

// checkError fails the test unless err is nil for want "", or an Invalid
// error whose message holds want.
func checkError(tb testing.TB, what string, err error, want string) {
	tb.Helper()
	switch {
	case want == "" && err != nil:
		tb.Errorf("%s = %v, want nil", what, err)
	case want != "" && (bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), want)):
		tb.Errorf("%s = %v, want Invalid with %q", what, err, want)
	}
}

func TestFingerprint(t *testing.T) {
	base := order(1, "k-1", eur(100), "4242 4242 4242 4242")
	lines := []bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 3, Quantity: 1}}
	same := base
	same.Card = card("5555 5555 5555 4444") // the card is not in it
	same.Key = "k-2"                        // nor the key
	for _, sameLines := range [][]bookshop.StockLine{
		lines,
		{{BookID: 3, Quantity: 1}, {BookID: 1, Quantity: 2}},                           // in another order
		{{BookID: 1, Quantity: 1}, {BookID: 3, Quantity: 1}, {BookID: 1, Quantity: 1}}, // a book in two lines
	} {
		if checkout.Fingerprint(base, lines) != checkout.Fingerprint(same, sameLines) {
			t.Errorf("Fingerprint differs for another card or key, and lines %v, want the same", sameLines)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*bookshop.PlaceOrder)
		lines  []bookshop.StockLine
	}{
		{name: "another cart", change: func(p *bookshop.PlaceOrder) { p.CartID = "c-2" }},
		{name: "another total", change: func(p *bookshop.PlaceOrder) { p.Total = eur(101) }},
		{name: "another currency", change: func(p *bookshop.PlaceOrder) { p.Total.Currency = "GBP" }},
		{name: "another address", change: func(p *bookshop.PlaceOrder) { p.Shipping.Line2 = "Flat 3" }},
		// The fields' bounds count: "ab"+"c" is not "a"+"bc".
		{name: "the address's fields shifted", change: func(p *bookshop.PlaceOrder) {
			p.Shipping.Name, p.Shipping.Line1 = p.Shipping.Name+"1", p.Shipping.Line1[1:]
		}},
		{name: "other books", lines: []bookshop.StockLine{{BookID: 2, Quantity: 2}, {BookID: 3, Quantity: 1}}},
		{name: "another quantity", lines: []bookshop.StockLine{{BookID: 1, Quantity: 1}, {BookID: 3, Quantity: 1}}},
		{name: "a book more", lines: []bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 3, Quantity: 1}, {BookID: 4, Quantity: 1}}},
		{name: "no lines", lines: []bookshop.StockLine{}},
	} {
		other, otherLines := base, lines
		if tc.change != nil {
			tc.change(&other)
		}
		if tc.lines != nil {
			otherLines = tc.lines
		}
		if checkout.Fingerprint(base, lines) == checkout.Fingerprint(other, otherLines) {
			t.Errorf("%s: Fingerprint(%+v, %v) = Fingerprint(%+v, %v), want them different", tc.name, other, otherLines, base, lines)
		}
	}
}

func TestPriced(t *testing.T) {
	byID := map[int32]bookshop.Book{1: books[0], 2: books[1], 7: {ID: 7, Title: "Unpriced"}}
	line := func(id int32, title string, quantity int) bookshop.CartLine {
		return bookshop.CartLine{Book: bookshop.Book{ID: id, Title: title}, Quantity: quantity}
	}
	for _, tc := range []struct {
		name   string
		lines  []bookshop.CartLine
		want   bookshop.Quote
		unsold []int32
	}{
		{name: "an empty cart", want: bookshop.Quote{Lines: []bookshop.OrderLine{}}},
		{
			name:  "priced from the books, not the cart",
			lines: []bookshop.CartLine{{Book: bookshop.Book{ID: 2, Title: "Old title", Price: eur(1)}, Quantity: 3}, line(1, "", 1)},
			want: bookshop.Quote{
				Lines: []bookshop.OrderLine{
					{BookID: 2, Title: "Dune", UnitPrice: eur(1099), Quantity: 3, Total: eur(3297)},
					{BookID: 1, Title: "The Maltese Falcon", UnitPrice: eur(1250), Quantity: 1, Total: eur(1250)},
				},
				Subtotal: eur(4547), Discount: eur(0), Total: eur(4547),
			},
		},
		{
			name:  "books no longer sold",
			lines: []bookshop.CartLine{line(9, "Gone", 1), line(1, "", 2), line(7, "", 1)},
			want: bookshop.Quote{
				Lines: []bookshop.OrderLine{
					{BookID: 9, Title: "Gone", Quantity: 1},
					{BookID: 1, Title: "The Maltese Falcon", UnitPrice: eur(1250), Quantity: 2, Total: eur(2500)},
					{BookID: 7, Title: "Unpriced", Quantity: 1},
				},
				Subtotal: eur(2500), Discount: eur(0), Total: eur(2500),
			},
			unsold: []int32{9, 7},
		},
		{
			name:   "nothing sold",
			lines:  []bookshop.CartLine{line(9, "Gone", 1)},
			want:   bookshop.Quote{Lines: []bookshop.OrderLine{{BookID: 9, Title: "Gone", Quantity: 1}}},
			unsold: []int32{9},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want.Lines) > 0 {
				tc.want.LinesDigest = checkout.LinesDigest(stockLines(tc.want.Lines))
			}
			q, unsold, err := checkout.Priced(tc.lines, byID)
			if err != nil || !reflect.DeepEqual(q, tc.want) || !reflect.DeepEqual(unsold, tc.unsold) {
				t.Errorf("Priced = %+v, %v, %v; want %+v, %v", q, unsold, err, tc.want, tc.unsold)
			}
		})
	}
	// Prices in two currencies cannot be summed: an internal error, not
	// the shopper's.
	_, _, err := checkout.Priced([]bookshop.CartLine{line(1, "", 1), line(3, "", 1)},
		map[int32]bookshop.Book{1: books[0], 3: {ID: 3, Price: bookshop.Money{Units: 100, Currency: "GBP"}}})
	if err == nil || bookshop.ErrorCode(err) != bookshop.Internal {
		t.Errorf("Priced(two currencies) = %v, want an internal error", err)
	}
}

func TestShortAndSoldOutMessage(t *testing.T) {
	q := bookshop.Quote{Lines: []bookshop.OrderLine{
		{BookID: 1, Title: "The Maltese Falcon", Quantity: 2},
		{BookID: 2, Title: "Dune", Quantity: 1},
		{BookID: 3, Title: "Solaris", Quantity: 5},
		{BookID: 9, Quantity: 1},
	}}
	short := checkout.Short(q, []int32{9}, map[int32]int{1: 1, 2: 7, 3: 2, 9: 4})
	want := []bookshop.SoldOut{{BookID: 1, Available: 1}, {BookID: 3, Available: 2}, {BookID: 9, Available: 0}}
	if !reflect.DeepEqual(short, want) {
		t.Errorf("Short = %v, want %v", short, want)
	}
	msg := checkout.SoldOutMessage(q.Lines, append(want, bookshop.SoldOut{BookID: 2}))
	if wantMsg := `sold out: “The Maltese Falcon” has only 1 copy left, “Solaris” has only 2 copies left, book 9 has no copy left, “Dune” has no copy left; change your cart to check out`; msg != wantMsg {
		t.Errorf("SoldOutMessage = %q, want %q", msg, wantMsg)
	}
	if msg := checkout.SoldOutMessage(q.Lines, nil); !strings.HasPrefix(msg, "sold out: ") {
		t.Errorf("SoldOutMessage(none) = %q, want it to start with \"sold out: \"", msg)
	}
}

func TestRecordKeys(t *testing.T) {
	r := saga.Record{ID: "abcdefghijklmnopqrstuvwxyz"}
	keys := []string{r.HoldKey(), r.PromoKey(), r.PayKey(), r.OrderKey(), r.CartKey()}
	seen := make(map[string]bool)
	for _, k := range keys {
		// Every service takes keys of 1 to 64 characters of A-Z, a-z, 0-9,
		// '-' and '_'.
		if err := checkout.CheckKey(k); err != nil || seen[k] {
			t.Errorf("key %q: %v, or used twice: want a key of its own that every service takes", k, err)
		}
		seen[k] = true
	}
	other := saga.Record{ID: "bbcdefghijklmnopqrstuvwxyz"}
	if other.PayKey() == r.PayKey() {
		t.Error("two checkouts' charges have the same key")
	}
}
