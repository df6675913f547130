package cart_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// catalogStandIn is a Catalog that the tests of this file control: one
// that answers with what it is given, as a Catalog of an earlier version
// (books without a price) or one that fails with a given error. The
// tests over a real Catalog are in server_test.go.
type catalogStandIn struct {
	mu    sync.Mutex
	books map[int32]bookshop.Book
	err   error
}

func (c *catalogStandIn) Books(_ context.Context, ids []int32) ([]bookshop.Book, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	var found []bookshop.Book
	for _, id := range ids {
		if b, ok := c.books[id]; ok {
			found = append(found, b)
		}
	}
	return found, nil
}

func (c *catalogStandIn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// newService returns a Cart over an in-memory store and catalog,
// counting in m.
func newService(tb testing.TB, catalog cart.Catalog, m *telemetry.Metrics) *cart.Service {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), sqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return cart.NewService(db, catalog, discard, m, 0)
}

func TestAddRefusesABookWithoutAPrice(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{
		1: {ID: 1, Title: "Priced", Author: "A", Price: eur(500)},
		2: {ID: 2, Title: "Unpriced", Author: "B"},
	}}
	svc := newService(t, catalog, nil)
	_, err := svc.Add(ctx, "g-1", 2, 1)
	if bookshop.ErrorCode(err) != bookshop.NotFound || !strings.Contains(bookshop.ErrorMessage(err), "book 2 is not for sale") {
		t.Errorf("Add(a book without a price) = %v, want NotFound: not for sale", err)
	}
	c, err := svc.Add(ctx, "g-1", 1, 2)
	if err != nil || c.Count != 2 || c.Subtotal != eur(1000) {
		t.Errorf("Add(a priced book) = %+v, %v; want 2 copies, 10.00 EUR", c, err)
	}
}

// TestCatalogErrorsAreUnavailable checks that whatever the Catalog
// answers when it fails, the Cart's caller hears Unavailable: the
// Catalog's own refusal (a policy that does not let the Cart in) is not
// the shopper's.
func TestCatalogErrorsAreUnavailable(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{1: {ID: 1, Title: "T", Author: "A", Price: eur(500)}}}
	svc := newService(t, catalog, nil)
	if _, err := svc.Add(ctx, "c-1", 1, 1); err != nil {
		t.Fatal(err)
	}
	for _, cause := range []error{
		bookshop.Errorf(bookshop.Forbidden, `identity "cart" may not call GetBooks`),
		bookshop.Errorf(bookshop.Unavailable, "the service is unavailable right now"),
		io.ErrUnexpectedEOF,
	} {
		catalog.fail(cause)
		for name, call := range map[string]func() error{
			"Cart":        func() error { _, err := svc.Cart(ctx, "c-1"); return err },
			"Add":         func() error { _, err := svc.Add(ctx, "c-1", 1, 1); return err },
			"SetQuantity": func() error { _, err := svc.SetQuantity(ctx, "c-1", 1, 3); return err },
			"Merge":       func() error { _, err := svc.Merge(ctx, "c-1", "c-2"); return err },
		} {
			if err := call(); bookshop.ErrorCode(err) != bookshop.Unavailable || bookshop.ErrorMessage(err) != "the catalog cannot be reached to price the cart: try again shortly" {
				t.Errorf("%s, the Catalog failing with %v: %v, want Unavailable", name, cause, err)
			}
		}
	}
	if n, err := svc.Count(ctx, "c-1"); n != 1 || err != nil {
		t.Errorf("Count = %d, %v; want 1: nothing changed", n, err)
	}
}

func TestSweepGuests(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{1: {ID: 1, Title: "T", Author: "A", Price: eur(500)}}}
	svc := newService(t, catalog, nil)
	for _, id := range []string{"g-old", "c-1"} {
		if _, err := svc.Add(ctx, id, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := svc.SweepGuests(ctx, time.Now().Add(29*24*time.Hour)); n != 0 || err != nil {
		t.Errorf("SweepGuests(29 days on) = %d, %v; want 0", n, err)
	}
	if n, err := svc.SweepGuests(ctx, time.Now().Add(cart.DefaultGuestTTL+time.Minute)); n != 1 || err != nil {
		t.Errorf("SweepGuests(30 days on) = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]int{"g-old": 0, "c-1": 1} {
		if n, err := svc.Count(ctx, id); n != want || err != nil {
			t.Errorf("Count(%s) after the sweep = %d, %v; want %d", id, n, err, want)
		}
	}
}

func TestMetrics(t *testing.T) {
	ctx := testContext(t)
	m := telemetry.NewMetrics()
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{
		1: {ID: 1, Title: "T", Author: "A", Price: eur(500)},
		2: {ID: 2, Title: "U", Author: "B", Price: eur(700)},
	}}
	svc := newService(t, catalog, m)
	for _, a := range []struct {
		cart string
		book int32
		n    int
	}{{"g-1", 1, 3}, {"g-1", 2, 1}, {"c-1", 1, 1}} {
		if _, err := svc.Add(ctx, a.cart, a.book, a.n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Add(ctx, "c-1", 1, 10); err == nil {
		t.Fatal("Add past the limit: no error")
	}
	for range 2 { // the second finds nothing to merge
		if _, err := svc.Merge(ctx, "g-1", "c-1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Add(ctx, "g-2", 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SweepGuests(ctx, time.Now().Add(cart.DefaultGuestTTL+time.Minute)); err != nil {
		t.Fatal(err)
	}
	catalog.fail(io.ErrUnexpectedEOF)
	if _, err := svc.Cart(ctx, "c-1"); err == nil {
		t.Fatal("Cart, the Catalog failing: no error")
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		"bookshop_cart_items_added_total 6",
		"bookshop_cart_merges_total 1",
		"bookshop_cart_guest_carts_swept_total 1",
		"bookshop_cart_catalog_unavailable_total 1",
	} {
		if !strings.Contains(rec.Body.String(), "\n"+want+"\n") {
			t.Errorf("/metrics has no line %q", want)
		}
	}
}
