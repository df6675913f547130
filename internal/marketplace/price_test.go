package marketplace_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/marketplace"
)

// A book the Catalog has no price for (from a database of an earlier
// version), and one it has.
var (
	unpriced = bookshop.Book{ID: 1, Category: bookshop.Mystery, Title: "Old Stock", Author: "A. Writer", Year: 1990}
	priced   = bookshop.Book{ID: 2, Category: bookshop.Mystery, Title: "New Stock", Author: "B. Writer", Year: 2020,
		Price: bookshop.Money{Units: 1250, Currency: "EUR"}}
)

// twoBooks is a hand-written Catalog and Recommender of unpriced and
// priced.
type twoBooks struct{}

func (twoBooks) Book(_ context.Context, id int32) (bookshop.Book, error) {
	for _, b := range []bookshop.Book{unpriced, priced} {
		if b.ID == id {
			return b, nil
		}
	}
	return bookshop.Book{}, bookshop.Errorf(bookshop.NotFound, "no book %d", id)
}

func (twoBooks) ExportBooks(_ context.Context, c bookshop.Category, _ int, yield func([]bookshop.Book) error) error {
	if c != bookshop.Mystery && c != bookshop.AllCategories {
		return nil
	}
	return yield([]bookshop.Book{unpriced, priced})
}

func (twoBooks) Recommend(_ context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	if req.Category != bookshop.Mystery {
		return nil, bookshop.Errorf(bookshop.NotFound, "no books")
	}
	return []bookshop.Book{unpriced, priced}[:min(2, req.MaxResults)], nil
}

// TestPrices checks that every page that shows a book shows its price,
// formatted for the shop ("€12.50"), and that a book without a price shows
// none: no "€0.00", no empty price.
func TestPrices(t *testing.T) {
	srv := startSite(t, marketplace.Options{Recommender: twoBooks{}, Catalog: twoBooks{}})
	for _, target := range []string{"/", "/categories/mystery"} {
		r := get(t, srv, target)
		wantHTML(t, "GET", target, r, http.StatusOK)
		p := parsePage(t, r.body)
		prices := make(map[string]string)
		for _, b := range p.Books {
			prices[b.Title] = b.Price
		}
		if prices["New Stock"] != "€12.50" || prices["Old Stock"] != "" || len(prices) != 2 {
			t.Errorf("GET %s prices = %q, want €12.50 for New Stock and none for Old Stock", target, prices)
		}
		if strings.Count(r.body, `class="book-price"`) != 1 || strings.Contains(r.body, "€0.00") {
			t.Errorf("GET %s shows %d prices, want 1 and no zero:\n%s", target, strings.Count(r.body, `class="book-price"`), r.body)
		}
	}

	for _, tt := range []struct {
		book bookshop.Book
		want string // the price shown; "" for none
	}{{priced, "€12.50"}, {unpriced, ""}} {
		target := "/books/" + strconv.Itoa(int(tt.book.ID))
		r := get(t, srv, target)
		wantHTML(t, "GET", target, r, http.StatusOK)
		doc := parseHTML(t, r.body)
		price, label := byID(doc, "book-price"), byID(doc, "book-price-label")
		if price == nil || label == nil {
			t.Fatalf("GET %s has no #book-price and #book-price-label, which live.js fills in", target)
		}
		priceHidden, labelHidden := hasAttr(price, "hidden"), hasAttr(label, "hidden")
		if text(price) != tt.want || priceHidden != (tt.want == "") || labelHidden != (tt.want == "") {
			t.Errorf("GET %s #book-price = %q (hidden %v, label hidden %v), want %q, hidden when empty", target, text(price), priceHidden, labelHidden, tt.want)
		}
		if strings.Contains(r.body, "€0.00") {
			t.Errorf("GET %s shows €0.00", target)
		}

		r = get(t, srv, "/api/books/"+strconv.Itoa(int(tt.book.ID)))
		var got struct {
			Price *struct {
				Units     int64
				Currency  string
				Formatted string
			}
		}
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != http.StatusOK {
			t.Fatalf("GET /api/books/%d = %d %q (%v)", tt.book.ID, r.status, r.body, err)
		}
		switch {
		case tt.want == "" && (got.Price != nil || !strings.Contains(r.body, `"price":null`)):
			t.Errorf("GET /api/books/%d = %s, want price null", tt.book.ID, r.body)
		case tt.want != "" && (got.Price == nil || got.Price.Units != tt.book.Price.Units || got.Price.Currency != "EUR" || got.Price.Formatted != tt.want):
			t.Errorf("GET /api/books/%d = %s, want price {units %d, currency EUR, formatted %s}", tt.book.ID, r.body, tt.book.Price.Units, tt.want)
		}
	}
}

// hasAttr reports whether n has the attribute key, such as hidden.
func hasAttr(n *html.Node, key string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Namespace == "" && a.Key == key })
}
