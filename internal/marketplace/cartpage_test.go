package marketplace_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
	"github.com/bookshop-go/bookshop/internal/recommendations"
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

// With the Catalog down, the cart page still lists the cart's lines,
// unpriced: each book's title where Recommendations told it, else its
// number, and its quantity; with a notice, and no checkout.
func TestCartWithTheCatalogDown(t *testing.T) {
	catalogAddr, stopCatalog := runService(t, "catalog", func(ctx context.Context, deps process.Deps) error {
		cfg := catalog.DefaultConfig()
		cfg.DB = ":memory:"
		return catalog.Run(ctx, cfg, deps)
	})
	books := builtinCatalog(t)
	live := startServices(t, books, seededRand())
	services := startShopServices(t, catalogAddr)
	catalogClient := catalogclient.New(rpctest.Dial(t, catalogAddr), 10*time.Second)
	o := marketplace.Options{
		Recommender: grpcRecommender(t, recommendations.New(books, seededRand())),
		Catalog:     catalogClient,
		Searcher:    catalogClient,
		Live:        live.live,
		RateLimit:   1000,
		RateBurst:   1000,
	}
	services.options(&o)
	b := newShopper(t, startSite(t, o))

	// One book the homepage recommends, whose title the Marketplace now
	// knows without the Catalog, and one it does not.
	home := b.get("/")
	recommended := map[int32]bool{}
	for _, m := range regexp.MustCompile(`href="/books/(\d+)"`).FindAllStringSubmatch(home.body, -1) {
		id, _ := strconv.Atoi(m[1])
		recommended[int32(id)] = true
	}
	var known, unknown bookshop.Book
	for _, book := range books.Books() {
		switch {
		case recommended[book.ID] && known.ID == 0:
			known = book
		case !recommended[book.ID] && unknown.ID == 0:
			unknown = book
		}
	}
	if known.ID == 0 || unknown.ID == 0 {
		t.Fatalf("the homepage recommends %v: want one book of the catalog recommended and one not", recommended)
	}
	b.add(known.ID, 2)
	b.add(unknown.ID, 1)
	stopCatalog()

	r := b.get("/cart")
	wantHTML(t, "GET", "/cart", r, http.StatusServiceUnavailable)
	for _, want := range []string{
		"Prices are unavailable right now",
		fmt.Sprintf(`<tr data-book-id="%d">`, known.ID), template(known.Title), `<td class="line-quantity">2</td>`,
		fmt.Sprintf(`<tr data-book-id="%d">`, unknown.ID), fmt.Sprintf("Book %d", unknown.ID), `<td class="line-quantity">1</td>`,
		"Subtotal (3 books)",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("GET /cart with the Catalog down: no %s in the page:\n%s", want, r.body)
		}
	}
	for _, bad := range []string{`id="checkout"`, "Your cart is empty", "€"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("GET /cart with the Catalog down: the page shows %s:\n%s", bad, r.body)
		}
	}
	if got := headerCount(t, r.body); !strings.HasPrefix(got, "3") {
		t.Errorf("GET /cart with the Catalog down: the header counts %q, want 3", got)
	}
}
