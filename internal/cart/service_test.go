package cart_test

import (
	"context"
	"fmt"
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
	return cart.NewService(db, catalog, cart.Options{Logger: discard, Metrics: m})
}

func TestAddRefusesABookWithoutAPrice(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{
		1: {ID: 1, Title: "Priced", Author: "A", Price: eur(500)},
		2: {ID: 2, Title: "Unpriced", Author: "B"},
	}}
	svc := newService(t, catalog, nil)
	_, err := svc.Add(ctx, "g-1", 2, 1, "")
	if bookshop.ErrorCode(err) != bookshop.NotFound || !strings.Contains(bookshop.ErrorMessage(err), "book 2 is not for sale") {
		t.Errorf("Add(a book without a price) = %v, want NotFound: not for sale", err)
	}
	c, err := svc.Add(ctx, "g-1", 1, 2, "")
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
	if _, err := svc.Add(ctx, "c-1", 1, 1, ""); err != nil {
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
			"Add":         func() error { _, err := svc.Add(ctx, "c-1", 1, 1, ""); return err },
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
		if _, err := svc.Add(ctx, id, 1, 1, ""); err != nil {
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
		if _, err := svc.Add(ctx, a.cart, a.book, a.n, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Add(ctx, "c-1", 1, 10, ""); err == nil {
		t.Fatal("Add past the limit: no error")
	}
	for range 2 { // the second finds nothing to merge
		if _, err := svc.Merge(ctx, "g-1", "c-1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Add(ctx, "g-2", 1, 1, ""); err != nil {
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

// clock is a clock that the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newServiceAt is newService with the clock c.
func newServiceAt(tb testing.TB, catalog cart.Catalog, m *telemetry.Metrics, c *clock) *cart.Service {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), sqlite.Memory)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return cart.NewService(db, catalog, cart.Options{Logger: discard, Metrics: m, Now: c.now})
}

// TestAddWithAKey checks the idempotency keys of Add, step by step on one
// Service: a retry adds nothing and returns the cart as it is now, a key
// reused for another addition is refused, and a key counts on its cart
// and for KeyTTL only.
func TestAddWithAKey(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{
		1: {ID: 1, Title: "T", Author: "A", Price: eur(500)},
		2: {ID: 2, Title: "U", Author: "B", Price: eur(700)},
		3: {ID: 3, Title: "V", Author: "C", Price: eur(100)},
	}}
	c := &clock{t: time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)}
	m := telemetry.NewMetrics()
	svc := newServiceAt(t, catalog, m, c)
	for _, step := range []struct {
		name     string
		cart     string
		book     int32
		quantity int
		key      string
		advance  time.Duration // the clock moves first
		code     bookshop.Code
		message  string
		count    int // the cart's count after the step
	}{
		{name: "the first add with a key", cart: "g-1", book: 1, quantity: 2, key: "k1", count: 2},
		{name: "its retry adds nothing", cart: "g-1", book: 1, quantity: 2, key: "k1", count: 2},
		{name: "another key adds", cart: "g-1", book: 1, quantity: 2, key: "k2", count: 4},
		{name: "no key adds", cart: "g-1", book: 1, quantity: 1, count: 5},
		{name: "no key again adds again", cart: "g-1", book: 1, quantity: 1, count: 6},
		{name: "a key reused for another book", cart: "g-1", book: 2, quantity: 2, key: "k1", count: 6,
			code: bookshop.Conflict, message: `idempotency key "k1" was used on this cart to add 2 of book 1: use a new key for each addition`},
		{name: "a key reused for another quantity", cart: "g-1", book: 1, quantity: 3, key: "k1", count: 6,
			code: bookshop.Conflict, message: "use a new key for each addition"},
		{name: "the key on another cart", cart: "g-2", book: 1, quantity: 2, key: "k1", count: 2},
		{name: "a failed add", cart: "g-1", book: 1, quantity: 5, key: "k3", count: 6,
			code: bookshop.Conflict, message: "at most 10 copies of one book"},
		{name: "its key is free: the retry is judged anew", cart: "g-1", book: 1, quantity: 4, key: "k3", count: 10},
		{name: "a retry within a day", cart: "g-1", book: 1, quantity: 2, key: "k1", advance: 23 * time.Hour, count: 10},
		{name: "the key past a day adds again", cart: "g-2", book: 1, quantity: 2, key: "k1", advance: time.Hour + time.Second, count: 4},
		{name: "a key too long", cart: "g-1", book: 1, quantity: 1, key: strings.Repeat("k", 65), count: 10,
			code: bookshop.Invalid, message: "idempotency key"},
		{name: "a key with a space", cart: "g-1", book: 1, quantity: 1, key: "k 1", count: 10,
			code: bookshop.Invalid, message: "only letters A to Z, digits, '-' and '_'"},
		{name: "a key of 64 characters", cart: "g-3", book: 3, quantity: 1, key: strings.Repeat("Az09-_", 10) + "Az09", count: 1},
	} {
		c.advance(step.advance)
		got, err := svc.Add(ctx, step.cart, step.book, step.quantity, step.key)
		if code := bookshop.ErrorCode(err); code != step.code || !strings.Contains(bookshop.ErrorMessage(err), step.message) {
			t.Errorf("%s: Add(%s, %d, %d, %.8q) error = %v, want code %q with %q", step.name, step.cart, step.book, step.quantity, step.key, err, step.code, step.message)
		}
		if err == nil && got.Count != step.count {
			t.Errorf("%s: Add(%s, %d, %d, %q) = a cart of %d copies, want %d", step.name, step.cart, step.book, step.quantity, step.key, got.Count, step.count)
		}
		if n, err := svc.Count(ctx, step.cart); n != step.count || err != nil {
			t.Errorf("%s: Count(%s) = %d, %v; want %d", step.name, step.cart, n, err, step.count)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"bookshop_cart_add_retries_total 2", "bookshop_cart_items_added_total 15"} {
		if !strings.Contains(rec.Body.String(), "\n"+want+"\n") {
			t.Errorf("/metrics has no line %q", want)
		}
	}
}

// TestAddRetryReturnsTheCartAsItIs retries an Add after the cart has
// changed, and after the Catalog stopped selling the book: the retry adds
// nothing, succeeds, and returns the cart as it is now.
func TestAddRetryReturnsTheCartAsItIs(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{
		1: {ID: 1, Title: "T", Author: "A", Price: eur(500)},
		2: {ID: 2, Title: "U", Author: "B", Price: eur(700)},
	}}
	svc := newService(t, catalog, nil)
	if _, err := svc.Add(ctx, "g-1", 1, 2, "add-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Add(ctx, "g-1", 2, 1, "add-2"); err != nil {
		t.Fatal(err)
	}
	// The shopper removes the first book; then the Catalog drops it.
	if _, err := svc.SetQuantity(ctx, "g-1", 1, 0); err != nil {
		t.Fatal(err)
	}
	catalog.mu.Lock()
	delete(catalog.books, 1)
	catalog.mu.Unlock()
	got, err := svc.Add(ctx, "g-1", 1, 2, "add-1")
	if err != nil {
		t.Fatalf("Add(a retry, the book no longer sold): %v, want the cart", err)
	}
	want := bookshop.Cart{ID: "g-1", Lines: []bookshop.CartLine{{Book: catalog.books[2], Quantity: 1, Total: eur(700)}}, Count: 1, Subtotal: eur(700)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Add(a retry) = %+v, want the cart as it is: %+v", got, want)
	}
	// A new addition of that book is refused, as it is no longer sold.
	if _, err := svc.Add(ctx, "g-1", 1, 2, "add-3"); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Add(a new key, the book no longer sold) = %v, want NotFound", err)
	}
	// While the Catalog is down, a retry fails as the first call would,
	// and adds nothing.
	catalog.fail(io.ErrUnexpectedEOF)
	if _, err := svc.Add(ctx, "g-1", 2, 1, "add-2"); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Add(a retry, the Catalog down) = %v, want Unavailable", err)
	}
	if n, err := svc.Count(ctx, "g-1"); n != 1 || err != nil {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

// TestAddFindsBooksByID adds a book the Catalog has without a title (as a
// Catalog stand-in may answer): it is in the catalog, for the Catalog
// answered with its id, whatever its fields.
func TestAddFindsBooksByID(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{1: {ID: 1, Price: eur(500)}}}
	svc := newService(t, catalog, nil)
	if c, err := svc.Add(ctx, "g-1", 1, 1, ""); err != nil || c.Count != 1 {
		t.Errorf("Add(a book without a title) = %+v, %v; want it added", c, err)
	}
	if _, err := svc.Add(ctx, "g-1", 2, 1, ""); bookshop.ErrorCode(err) != bookshop.NotFound || !strings.Contains(bookshop.ErrorMessage(err), "book 2 is not in the catalog") {
		t.Errorf("Add(a book the Catalog lacks) = %v, want NotFound", err)
	}
}

// TestTheClockIsTheServices changes carts with the Service's clock set
// years back: the sweep, also at the Service's time, finds them idle by
// that clock, not the machine's.
func TestTheClockIsTheServices(t *testing.T) {
	ctx := testContext(t)
	catalog := &catalogStandIn{books: map[int32]bookshop.Book{1: {ID: 1, Title: "T", Author: "A", Price: eur(500)}}}
	c := &clock{t: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	svc := newServiceAt(t, catalog, nil, c)
	for _, id := range []string{"g-add", "g-set", "g-from"} {
		if _, err := svc.Add(ctx, id, 1, 1, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.SetQuantity(ctx, "g-set", 1, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Merge(ctx, "g-from", "g-into"); err != nil {
		t.Fatal(err)
	}
	day := c.now().Add(cart.DefaultGuestTTL)
	if n, err := svc.SweepGuests(ctx, day); n != 0 || err != nil {
		t.Errorf("SweepGuests(30 days on, to the second) = %d, %v; want 0", n, err)
	}
	if n, err := svc.SweepGuests(ctx, day.Add(time.Second)); n != 3 || err != nil {
		t.Errorf("SweepGuests(30 days and a second on) = %d, %v; want 3", n, err)
	}
	keysDue := c.now().Add(cart.KeyTTL)
	if n, err := svc.SweepKeys(ctx, keysDue); n != 0 || err != nil {
		t.Errorf("SweepKeys(a day on, to the second) = %d, %v; want 0", n, err)
	}
	if n, err := svc.SweepKeys(ctx, keysDue.Add(time.Second)); n != 3 || err != nil {
		t.Errorf("SweepKeys(a day and a second on) = %d, %v; want 3", n, err)
	}
}
