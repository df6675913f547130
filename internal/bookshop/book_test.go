package bookshop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

func TestBookValidate(t *testing.T) {
	good := bookshop.Book{ID: 1, Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction,
		Price: bookshop.Money{Units: 1299, Currency: "EUR"}}
	price := func(units int64, currency string) func(*bookshop.Book) {
		return func(b *bookshop.Book) { b.Price = bookshop.Money{Units: units, Currency: currency} }
	}
	tests := []struct {
		name  string
		edit  func(*bookshop.Book)
		field string // "" for valid
	}{
		{"good", func(*bookshop.Book) {}, ""},
		{"id 0 asks for a new id", func(b *bookshop.Book) { b.ID = 0 }, ""},
		{"negative id", func(b *bookshop.Book) { b.ID = -1 }, "id"},
		{"unknown category", func(b *bookshop.Book) { b.Category = 7 }, "category"},
		{"empty title", func(b *bookshop.Book) { b.Title = "" }, "title"},
		{"a title that shows nothing", func(b *bookshop.Book) { b.Title = "\u200b" }, "title"},
		{"long title", func(b *bookshop.Book) { b.Title = strings.Repeat("é", bookshop.MaxTitleLen+1) }, "title"},
		{"control character", func(b *bookshop.Book) { b.Author = "Frank\x07Herbert" }, "author"},
		{"invalid UTF-8", func(b *bookshop.Book) { b.Author = "\xff" }, "author"},
		{"year 0", func(b *bookshop.Book) { b.Year = 0 }, "year"},
		{"year 10000", func(b *bookshop.Book) { b.Year = 10000 }, "year"},
		{"no price", price(0, ""), "price"},
		{"price 0", price(0, "EUR"), "price"},
		{"negative price", price(-1, "EUR"), "price"},
		{"price of one cent", price(1, "EUR"), ""},
		{"price of 10,000", price(1_000_000, "EUR"), ""},
		{"price over 10,000", price(1_000_001, "EUR"), "price"},
		{"price of 10,000 yen", price(10_000, "JPY"), ""},
		{"price over 10,000 yen", price(10_001, "JPY"), "price"},
		{"price of 10,000 dinars", price(10_000_000, "KWD"), ""},
		{"price without currency", price(1299, ""), "price"},
		{"price in lower-case currency", price(1299, "eur"), "price"},
		{"price in another valid currency", price(1299, "USD"), ""},
	}
	for _, tt := range tests {
		b := good
		tt.edit(&b)
		err := b.Validate()
		var fe *bookshop.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate(%+v) = %v, want nil", tt.name, b, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("%s: Validate(%+v) = %v, want a FieldError of %s", tt.name, b, err, tt.field)
		}
	}
}

func TestMaxPriceUnits(t *testing.T) {
	for currency, want := range map[string]int64{"EUR": 1_000_000, "JPY": 10_000, "KWD": 10_000_000} {
		if got := bookshop.MaxPriceUnits(currency); got != want {
			t.Errorf("MaxPriceUnits(%q) = %d, want %d", currency, got, want)
		}
	}
}

func TestMatchKeyFoldsCase(t *testing.T) {
	a := bookshop.Book{Title: "ΣΊΣΥΦΟΣ", Author: "Camus"}
	b := bookshop.Book{Title: "σίσυφος", Author: "CAMUS"}
	if a.MatchKey() != b.MatchKey() {
		t.Errorf("MatchKey(%q) != MatchKey(%q); want equal, as strings.EqualFold finds them", a.Title, b.Title)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := bookshop.NewID()
		if !bookshop.ValidID(id) || seen[id] {
			t.Fatalf("NewID() = %q: valid %v, seen before %v", id, bookshop.ValidID(id), seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 26), strings.Repeat("a", 27)} {
		if bookshop.ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}
