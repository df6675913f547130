package orders_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders"
)

// TestChecked is the table of the rules of an order: each case changes a
// valid order, and the order is recorded or refused with Invalid, the
// message naming the field and the fault.
func TestChecked(t *testing.T) {
	long := strings.Repeat("x", 301)
	tests := []struct {
		name   string
		change func(o *bookshop.Order)
		want   string // a part of the Invalid message; "" for a valid order
	}{
		{"valid", func(o *bookshop.Order) {}, ""},
		{"a discount", func(o *bookshop.Order) {
			o.Discount, o.Total, o.Promotions = eur(850), eur(2598), []string{"buy_two_get_one_free"}
		}, ""},
		{"a discount of everything, no payment", func(o *bookshop.Order) {
			o.Discount, o.Total, o.PaymentID = eur(3448), eur(0), ""
		}, ""},
		{"a free book", func(o *bookshop.Order) { o.Lines = append(o.Lines, line(3, 0, 1)) }, ""},
		{"50 lines", func(o *bookshop.Order) { *o = newOrder(7, lines(50)...) }, ""},
		{"a second address line", func(o *bookshop.Order) { o.Shipping.Line2 = "Flat 2" }, ""},
		{"accents in the texts", func(o *bookshop.Order) {
			o.Shipping.City, o.Lines[0].Title = "Zürich", "Frøken Smillas fornemmelse for sne"
		}, ""},
		{"the fields the service sets are ignored", func(o *bookshop.Order) {
			o.ID, o.State, o.Created = "o_whatever", "cancelled", time.Unix(5, 0)
		}, ""},

		{"no customer", func(o *bookshop.Order) { o.CustomerID = 0 }, "customer id 0: want 1 or more"},
		{"no lines", func(o *bookshop.Order) { o.Lines = nil }, "order: lines: 0 lines: want 1 to 50"},
		{"51 lines", func(o *bookshop.Order) { *o = newOrder(7, lines(51)...) }, "51 lines: want 1 to 50"},
		{"no total", func(o *bookshop.Order) { o.Total = bookshop.Money{} }, "order: total: missing"},
		{"a bad currency", func(o *bookshop.Order) { o.Total.Currency = "eur" }, `order: total: currency "eur"`},
		{"a book id of 0", func(o *bookshop.Order) { o.Lines[1].BookID = 0 }, "line 2 (book 0): book id: want 1 or more"},
		{"a book twice", func(o *bookshop.Order) { o.Lines[1].BookID = 1 }, "line 2 (book 1): the book is on another line too"},
		{"no title", func(o *bookshop.Order) { o.Lines[0].Title = " " }, "line 1 (book 1): title is missing"},
		{"a title too long", func(o *bookshop.Order) { o.Lines[0].Title = long }, "title is longer than 300 characters"},
		{"a title with a newline", func(o *bookshop.Order) { o.Lines[0].Title = "a\nb" }, "title contains the control character U+000A"},
		{"a title not UTF-8", func(o *bookshop.Order) { o.Lines[0].Title = "a\xffb" }, "title is not valid UTF-8"},
		{"no copies", func(o *bookshop.Order) { o.Lines[0].Quantity = 0 }, "line 1 (book 1): quantity 0: want 1 to 10"},
		{"11 copies", func(o *bookshop.Order) { o.Lines[0].Quantity = 11 }, "quantity 11: want 1 to 10"},
		{"a negative price", func(o *bookshop.Order) {
			o.Lines[0].UnitPrice, o.Lines[0].Total = eur(-1), eur(-2)
		}, "line 1 (book 1): unit price -0.01 EUR is negative"},
		{"a line in another currency", func(o *bookshop.Order) {
			o.Lines[1].UnitPrice.Currency, o.Lines[1].Total.Currency = "USD", "USD"
		}, "line 2 (book 2): unit price 8.50 USD: want EUR, the currency of the total"},
		{"a line total wrong", func(o *bookshop.Order) { o.Lines[0].Total = eur(2500) }, "line 1 (book 1): total 25.00 EUR: want 2 × 12.99 EUR = 25.98 EUR"},
		{"a line total that overflows", func(o *bookshop.Order) {
			o.Lines[0].UnitPrice = eur(1 << 62)
		}, "does not fit"},
		{"a subtotal wrong", func(o *bookshop.Order) { o.Subtotal = eur(3000) }, "order: subtotal: 30.00 EUR: want the sum of the lines' totals, 34.48 EUR"},
		{"a subtotal in another currency", func(o *bookshop.Order) { o.Subtotal.Currency = "USD" }, "want the sum of the lines' totals"},
		{"a negative discount", func(o *bookshop.Order) { o.Discount = eur(-100); o.Total = eur(3548) }, "order: discount: -1.00 EUR is negative"},
		{"a discount in another currency", func(o *bookshop.Order) { o.Discount = bookshop.Money{Units: 1, Currency: "USD"} }, "order: discount: 0.01 USD: want EUR"},
		{"a discount over the subtotal", func(o *bookshop.Order) { o.Discount, o.Total = eur(4000), eur(-552) }, "order: discount: 40.00 EUR is more than the subtotal, 34.48 EUR"},
		{"a total that ignores the discount", func(o *bookshop.Order) { o.Discount = eur(850) }, "order: total: 34.48 EUR: want the subtotal less the discount, 25.98 EUR"},
		{"a total wrong", func(o *bookshop.Order) { o.Total = eur(1) }, "want the subtotal less the discount, 34.48 EUR"},
		{"11 promotions", func(o *bookshop.Order) { o.Promotions = strings.Split("a b c d e f g h i j k", " ") }, "order: promotions: 11: want at most 10"},
		{"an empty promotion", func(o *bookshop.Order) { o.Promotions = []string{""} }, `order: promotions: code "": want 1 to 64 characters`},
		{"a promotion with a space", func(o *bookshop.Order) { o.Promotions = []string{"two for one"} }, `code "two for one"`},
		{"a promotion twice", func(o *bookshop.Order) { o.Promotions = []string{"x", "x"} }, `code "x" is there twice`},
		{"no payment", func(o *bookshop.Order) { o.PaymentID = "" }, "order: payment id: missing"},
		{"a payment id with a slash", func(o *bookshop.Order) { o.PaymentID = "ch/1" }, `order: payment id: "ch/1": want 1 to 64 characters`},
		{"a payment id too long", func(o *bookshop.Order) { o.PaymentID = strings.Repeat("c", 65) }, "want 1 to 64 characters"},
		{"no name", func(o *bookshop.Order) { o.Shipping.Name = "" }, "order: shipping address: name is missing"},
		{"a name that shows nothing", func(o *bookshop.Order) { o.Shipping.Name = "\u200b" }, "order: shipping address: name is missing"},
		{"no street", func(o *bookshop.Order) { o.Shipping.Line1 = "  " }, "shipping address: line 1 is missing"},
		{"a second line of spaces", func(o *bookshop.Order) { o.Shipping.Line2 = "  " }, "shipping address: line 2 is missing"},
		{"a city with a tab", func(o *bookshop.Order) { o.Shipping.City = "Lon\tdon" }, "shipping address: city contains the control character U+0009"},
		{"a postal code too long", func(o *bookshop.Order) { o.Shipping.PostalCode = strings.Repeat("9", 21) }, "postal code is longer than 20 characters"},
		{"no country", func(o *bookshop.Order) { o.Shipping.Country = "" }, `shipping address: country "": want an ISO 3166-1 code of two capital letters`},
		{"a country in lower case", func(o *bookshop.Order) { o.Shipping.Country = "gb" }, `country "gb"`},
		{"a country of three letters", func(o *bookshop.Order) { o.Shipping.Country = "GBR" }, `country "GBR"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrder(7)
			tt.change(&o)
			got, err := orders.Checked(o)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Checked(%+v) = %v, want no error", o, err)
				}
				if got.ID != "" || got.State != "" || !got.Created.IsZero() || got.Discount.Currency != "EUR" {
					t.Errorf("Checked(%+v) = %+v: want no id, state or time, and a discount in EUR", o, got)
				}
				return
			}
			if bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.want) {
				t.Errorf("Checked = %v, want Invalid with %q", err, tt.want)
			}
		})
	}
}

// lines returns n lines of one copy each, of books 1 to n.
func lines(n int) []bookshop.OrderLine {
	ls := make([]bookshop.OrderLine, n)
	for i := range ls {
		ls[i] = line(int32(i+1), 100, 1)
	}
	return ls
}

func TestCheckedDoesNotChangeItsArgument(t *testing.T) {
	o := newOrder(7)
	o.Promotions = []string{"p"}
	got, err := orders.Checked(o)
	if err != nil {
		t.Fatal(err)
	}
	got.Lines[0].Title, got.Promotions[0] = "changed", "changed"
	if o.Lines[0].Title == "changed" || o.Promotions[0] == "changed" {
		t.Error("Checked returned an order that shares its lines or promotions with its argument")
	}
}

func TestCheckIDsAndKeys(t *testing.T) {
	id := orders.NewOrderID()
	if !strings.HasPrefix(id, "o_") || len(id) != 28 {
		t.Errorf("NewOrderID() = %q, want o_ and 26 characters", id)
	}
	if id == orders.NewOrderID() {
		t.Error("NewOrderID returned the same id twice")
	}
	for _, tt := range []struct {
		name string
		err  error
		want string // a part of the Invalid message; "" for none
	}{
		{"a new id", orders.CheckOrderID(id), ""},
		{"an id without its prefix", orders.CheckOrderID(id[2:]), "want o_ and 26 characters"},
		{"an id with another prefix", orders.CheckOrderID("x_" + id[2:]), "want o_"},
		{"an id in capitals", orders.CheckOrderID(strings.ToUpper(id)), "want o_"},
		{"an id too short", orders.CheckOrderID(id[:27]), "want o_"},
		{"an empty id", orders.CheckOrderID(""), `order id ""`},
		{"an id with 0, 1, 8 or 9", orders.CheckOrderID("o_" + strings.Repeat("1", 26)), "want o_"},
		{"customer 1", orders.CheckCustomerID(1), ""},
		{"customer 0", orders.CheckCustomerID(0), "customer id 0: want 1 or more"},
		{"customer -5", orders.CheckCustomerID(-5), "customer id -5"},
		{"a key", orders.CheckKey("co-7f3a_order-1"), ""},
		{"a key of 64", orders.CheckKey(strings.Repeat("k", 64)), ""},
		{"no key", orders.CheckKey(""), `idempotency key "": want 1 to 64 characters`},
		{"a key of 65", orders.CheckKey(strings.Repeat("k", 65)), "want 1 to 64 characters"},
		{"a key with a space", orders.CheckKey("k 1"), "only letters A to Z, digits, '-' and '_' are allowed"},
		{"a key with a slash", orders.CheckKey("k/1"), "only letters"},
		{"a key with a dot or a colon", orders.CheckKey("k.1:2"), "only letters"},
		{"page size 0", orders.CheckPageSize(0, 50), ""},
		{"page size 50", orders.CheckPageSize(50, 50), ""},
		{"page size 51", orders.CheckPageSize(51, 50), "page size 51: want 1 to 50, or 0 for the default"},
		{"page size -1", orders.CheckPageSize(-1, 50), "page size -1"},
	} {
		if bookshop.ErrorCode(tt.err) != map[bool]bookshop.Code{true: "", false: bookshop.Invalid}[tt.want == ""] ||
			!strings.Contains(bookshop.ErrorMessage(tt.err), tt.want) {
			t.Errorf("%s: %v, want Invalid with %q", tt.name, tt.err, tt.want)
		}
	}
}

// TestFingerprint checks that the fingerprint of an order changes with
// each field that it records, and with nothing the service sets.
func TestFingerprint(t *testing.T) {
	base, err := orders.Checked(newOrder(7))
	if err != nil {
		t.Fatal(err)
	}
	fp := orders.Fingerprint(base)
	same := base
	same.ID, same.State, same.Created, same.Updated = "o_x", "placed", time.Now(), time.Now()
	if orders.Fingerprint(same) != fp {
		t.Error("the fingerprint changed with the id, state or times")
	}
	for name, change := range map[string]func(o *bookshop.Order){
		"customer":    func(o *bookshop.Order) { o.CustomerID = 8 },
		"book":        func(o *bookshop.Order) { o.Lines[0].BookID = 9 },
		"title":       func(o *bookshop.Order) { o.Lines[0].Title += "!" },
		"price":       func(o *bookshop.Order) { o.Lines[0].UnitPrice.Units++ },
		"quantity":    func(o *bookshop.Order) { o.Lines[0].Quantity++ },
		"line total":  func(o *bookshop.Order) { o.Lines[0].Total.Units++ },
		"line order":  func(o *bookshop.Order) { o.Lines[0], o.Lines[1] = o.Lines[1], o.Lines[0] },
		"subtotal":    func(o *bookshop.Order) { o.Subtotal.Units++ },
		"discount":    func(o *bookshop.Order) { o.Discount.Units++ },
		"total":       func(o *bookshop.Order) { o.Total.Units++ },
		"currency":    func(o *bookshop.Order) { o.Total.Currency = "USD" },
		"promotion":   func(o *bookshop.Order) { o.Promotions = []string{"p"} },
		"payment":     func(o *bookshop.Order) { o.PaymentID = "ch_other" },
		"name":        func(o *bookshop.Order) { o.Shipping.Name = "B" },
		"line 2":      func(o *bookshop.Order) { o.Shipping.Line2 = "Flat 2" },
		"city":        func(o *bookshop.Order) { o.Shipping.City = "Paris" },
		"postal code": func(o *bookshop.Order) { o.Shipping.PostalCode = "1" },
		"country":     func(o *bookshop.Order) { o.Shipping.Country = "FR" },
		// The texts are written with their lengths: moving a character
		// from one field to the next is another order.
		"a character moved": func(o *bookshop.Order) { o.Shipping.Name, o.Shipping.Line1 = "Ada Lovelace1", "2 St James's Square" },
	} {
		o := base
		o.Lines = append([]bookshop.OrderLine(nil), base.Lines...)
		change(&o)
		if orders.Fingerprint(o) == fp {
			t.Errorf("changing the %s left the fingerprint as it was", name)
		}
	}
}
