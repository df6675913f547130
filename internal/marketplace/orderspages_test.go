package marketplace_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

var (
	ordersFirstRE = regexp.MustCompile(`<a href="([^"]*)"[^>]*>Newest orders</a>`)
	ordersNextRE  = regexp.MustCompile(`<a href="([^"]*)"[^>]*>Older orders</a>`)
)

// TestOrdersPages gives a customer one order more than a page of the
// history lists, recorded at the real Orders service: the first page
// links to the older ones, and the second, which lists the oldest, links
// back to the first (the newest), and to no older page.
func TestOrdersPages(t *testing.T) {
	shop := startShop(t)
	b := newShopper(t, shop.site)
	b.signUp("history@example.com", "History")
	customer := shop.customer(t, b)
	const placed = 21 // a page lists 20
	for i := range placed {
		price := bookshop.Money{Units: 1000 + int64(i), Currency: bookshop.DefaultCurrency}
		order := bookshop.Order{
			CustomerID: customer.ID,
			Lines:      []bookshop.OrderLine{{BookID: 1, Title: "A Book", UnitPrice: price, Quantity: 1, Total: price}},
			Subtotal:   price, Total: price, PaymentID: fmt.Sprintf("ch_test%d", i),
			Shipping: bookshop.Address{Name: "History", Line1: "1 Old Street", City: "London", PostalCode: "N1 1AA", Country: "GB"},
		}
		if _, err := shop.orders.Create(testContext(t), fmt.Sprintf("history-%d", i), order); err != nil {
			t.Fatalf("Create order %d: %v", i, err)
		}
	}

	first := b.get("/orders")
	wantHTML(t, "GET", "/orders", first, http.StatusOK)
	if ordersFirstRE.MatchString(first.body) {
		t.Errorf("the first page of the orders links to itself as the newest:\n%s", first.body)
	}
	next := ordersNextRE.FindStringSubmatch(first.body)
	if next == nil {
		t.Fatalf("the first page of %d orders has no link to the older ones:\n%s", placed, first.body)
	}
	target := strings.ReplaceAll(next[1], "&amp;", "&")
	second := b.get(target)
	wantHTML(t, "GET", target, second, http.StatusOK)
	if n := strings.Count(second.body, `<li class="order">`); n != 1 {
		t.Errorf("GET %s lists %d orders, want the 1 past the first page", target, n)
	}
	if back := ordersFirstRE.FindStringSubmatch(second.body); back == nil || back[1] != "/orders" {
		t.Errorf("GET %s: link back to the newest orders = %v, want /orders:\n%s", target, back, second.body)
	}
	if ordersNextRE.MatchString(second.body) {
		t.Errorf("GET %s, the last page, links to older orders:\n%s", target, second.body)
	}
}
