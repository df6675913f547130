package marketplace_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// The cart's refusals, in words for shoppers: a change past the cart's
// limits says what the cart holds and what may still be added, and a
// quantity set for a book that is not in the cart says so; never the Cart
// service's own text ("the cart already holds 8").
func TestCartRefusalsForShoppers(t *testing.T) {
	shop := startShopOf(t, moreBooks(1001, 51))
	b := newShopper(t, shop.site)
	b.add(1, 8)
	tests := []struct {
		name, target string
		form         url.Values
		status       int
		want         string
	}{
		{"3 more copies of a book the cart holds 8 of", "/cart/items", url.Values{"book": {"1"}, "quantity": {"3"}}, http.StatusConflict,
			"Your cart already holds 8 copies of this book, and holds at most 10 of one book: you can add 2 more."},
		{"a quantity of a book not in the cart", "/cart/items/2", url.Values{"quantity": {"1"}}, http.StatusNotFound,
			"That book is not in your cart."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(tt.target, tt.form)
			wantHTML(t, "POST", tt.target, r, tt.status)
			if !strings.Contains(r.body, tt.want) {
				t.Errorf("POST %s %v: no %q in the page:\n%s", tt.target, tt.form, tt.want, r.body)
			}
			js := b.post(tt.target, tt.form, "Accept", "application/json")
			if js.status != tt.status || !strings.Contains(js.body, tt.want) {
				t.Errorf("POST %s %v as JSON = %d, %s; want %d and %q", tt.target, tt.form, js.status, js.body, tt.status, tt.want)
			}
			for _, raw := range []string{"the cart already holds", "the cart holds no copy", "We have no such book"} {
				if strings.Contains(r.body, raw) {
					t.Errorf("POST %s %v: the page shows %q", tt.target, tt.form, raw)
				}
			}
		})
	}

	b.add(1, 2)
	r := b.post("/cart/items", url.Values{"book": {"1"}})
	if want := "Your cart already holds 10 copies of this book, the most it can hold of one book."; r.status != http.StatusConflict || !strings.Contains(r.body, want) {
		t.Errorf("POST /cart/items past 10 copies = %d, want 409 and %q:\n%s", r.status, want, r.body)
	}

	// A cart of 50 books, the most it holds.
	full := newShopper(t, shop.site)
	full.signUp("fifty@example.com", "Fifty")
	id := "c-" + strconv.Itoa(int(shop.customer(t, full).ID))
	for book := int32(1001); book < 1051; book++ {
		if _, err := shop.carts.Add(testContext(t), id, book, 1, ""); err != nil {
			t.Fatalf("Add(%s, %d): %v", id, book, err)
		}
	}
	r = full.post("/cart/items", url.Values{"book": {"1051"}})
	if want := "Your cart already holds 50 different books, the most it can: remove one to add another."; r.status != http.StatusConflict || !strings.Contains(r.body, want) {
		t.Errorf("POST /cart/items of a 51st book = %d, want 409 and %q:\n%s", r.status, want, r.body)
	}
}
