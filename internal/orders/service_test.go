package orders_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

func TestCreateAndOrder(t *testing.T) {
	ctx := testContext(t)
	c := newClock()
	svc := newService(t, c, nil)
	in := newOrder(7)
	in.Discount, in.Total, in.Promotions = eur(448), eur(3000), []string{"summer", "loyal_3"}
	in.Shipping.Line2 = "Flat 2"
	got, err := svc.Create(ctx, "key-1", in)
	if err != nil {
		t.Fatal(err)
	}
	if orders.CheckOrderID(got.ID) != nil || got.State != "placed" || !got.Created.Equal(c.Now()) || !got.Updated.Equal(got.Created) {
		t.Errorf("Create = id %q, state %q, created %v, updated %v; want a new id, placed, at %v", got.ID, got.State, got.Created, got.Updated, c.Now())
	}
	want := in
	want.ID, want.State, want.Created, want.Updated = got.ID, "placed", got.Created, got.Updated
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Create = %+v\nwant %+v", got, want)
	}
	read, err := svc.Order(ctx, 7, got.ID)
	if err != nil || !reflect.DeepEqual(read, got) {
		t.Errorf("Order(7, %s) = %+v, %v\nwant %+v", got.ID, read, err, got)
	}
}

// TestCreateIsIdempotent checks the idempotency key step by step: a retry
// records nothing and returns the first order, even when the order has
// changed since; a key used for another order is refused; a refused
// creation keeps no key.
func TestCreateIsIdempotent(t *testing.T) {
	ctx := testContext(t)
	c := newClock()
	m := telemetry.NewMetrics()
	svc := newService(t, c, m)
	first, err := svc.Create(ctx, "k1", newOrder(7))
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	other := newOrder(7, line(3, 500, 1))
	for _, step := range []struct {
		name  string
		key   string
		order bookshop.Order
		code  bookshop.Code
		msg   string // a part of the error's message
		same  bool   // the first order returned
	}{
		{name: "a retry", key: "k1", order: newOrder(7), same: true},
		{name: "a retry with what the service sets", key: "k1", order: first, same: true},
		{name: "a key used for another order", key: "k1", order: other, code: bookshop.Conflict,
			msg: `idempotency key "k1" was used for another order: use a new key for each order`},
		{name: "a key used by another customer", key: "k1", order: newOrder(8), code: bookshop.Conflict, msg: "use a new key"},
		{name: "a refused order", key: "k2", order: bookshop.Order{CustomerID: 7}, code: bookshop.Invalid, msg: "order: lines"},
		{name: "its key, judged anew", key: "k2", order: other},
		{name: "no key", key: "", order: other, code: bookshop.Invalid, msg: "idempotency key"},
	} {
		got, err := svc.Create(ctx, step.key, step.order)
		if code := bookshop.ErrorCode(err); code != step.code || !strings.Contains(bookshop.ErrorMessage(err), step.msg) {
			t.Errorf("%s: Create = %v, want code %q with %q", step.name, err, step.code, step.msg)
		}
		if step.same && !reflect.DeepEqual(got, first) {
			t.Errorf("%s: Create = %+v\nwant the first order %+v", step.name, got, first)
		}
	}
	if _, err := svc.Cancel(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Create(ctx, "k1", newOrder(7))
	if err != nil || got.ID != first.ID || got.State != "cancelled" {
		t.Errorf("a retry after a cancel: Create = %+v, %v; want the first order, as it is now (cancelled)", got, err)
	}
	page, err := svc.ListAll(ctx, "", 100)
	if err != nil || len(page.Orders) != 2 {
		t.Errorf("ListAll = %d orders, %v; want 2 (keys k1 and k2)", len(page.Orders), err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		"bookshop_orders_created_total 2",
		"bookshop_orders_create_replays_total 3",
		"bookshop_orders_create_refused_total 4",
		"bookshop_orders_cancelled_total 1",
		`bookshop_orders_sales_minor_units_total{currency="EUR"} 3948`,
	} {
		if !strings.Contains(rec.Body.String(), "\n"+want+"\n") {
			t.Errorf("/metrics has no line %q", want)
		}
	}
}

// TestConcurrentCreatesWithOneKey creates the same order with one key from
// 10 goroutines at once, on a database file: one order is recorded, and
// every call returns it.
func TestConcurrentCreatesWithOneKey(t *testing.T) {
	ctx := testContext(t)
	svc := orders.NewService(openDB(t, filepath.Join(t.TempDir(), "orders.db")), orders.Options{Logger: discard})
	const n = 10
	var (
		wg  sync.WaitGroup
		ids = make([]string, n)
	)
	for i := range n {
		wg.Go(func() {
			o, err := svc.Create(ctx, "one-key", newOrder(7))
			if err != nil {
				t.Errorf("Create #%d: %v", i, err)
			}
			ids[i] = o.ID
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("Create #%d = %s, Create #0 = %s: want one order", i, id, ids[0])
		}
	}
	page, err := svc.List(ctx, 7, "", 50)
	if err != nil || len(page.Orders) != 1 {
		t.Errorf("List(7) = %d orders, %v; want 1", len(page.Orders), err)
	}
}

// TestOrderOfAnotherCustomer checks that a customer cannot read another's
// order: the answer is the same as for an id that names no order.
func TestOrderOfAnotherCustomer(t *testing.T) {
	ctx := testContext(t)
	svc := newService(t, nil, nil)
	o, err := svc.Create(ctx, "k", newOrder(7))
	if err != nil {
		t.Fatal(err)
	}
	_, errOther := svc.Order(ctx, 8, o.ID)
	_, errUnknown := svc.Order(ctx, 7, orders.NewOrderID())
	for name, err := range map[string]error{"another customer's order": errOther, "an unknown id": errUnknown} {
		if bookshop.ErrorCode(err) != bookshop.NotFound || bookshop.ErrorMessage(err) != "no such order" {
			t.Errorf("Order(%s) = %v, want NotFound: no such order", name, err)
		}
	}
	if !reflect.DeepEqual(errOther, errUnknown) {
		t.Errorf("Order(another customer's) = %#v, Order(unknown) = %#v: want the same error", errOther, errUnknown)
	}
	for _, tt := range []struct {
		customer int32
		id, want string
	}{
		{0, o.ID, "customer id 0"},
		{7, "o_" + strings.Repeat("A", 26), "order id"},
		{7, "", "order id"},
	} {
		if _, err := svc.Order(ctx, tt.customer, tt.id); bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.want) {
			t.Errorf("Order(%d, %q) = %v, want Invalid with %q", tt.customer, tt.id, err, tt.want)
		}
	}
}

// TestListPages lists a customer's orders in pages of every size, with
// the orders made one a minute and all at the same millisecond: the pages
// hold each order once, newest first, and only the customer's.
func TestListPages(t *testing.T) {
	for _, apart := range []time.Duration{time.Minute, 0} {
		t.Run(fmt.Sprintf("apart %v", apart), func(t *testing.T) {
			ctx := testContext(t)
			c := newClock()
			svc := newService(t, c, nil)
			var want []string // customer 7's ids, newest first
			for i := range 23 {
				customer := int32(7)
				if i%4 == 3 {
					customer = 8
				}
				o, err := svc.Create(ctx, fmt.Sprintf("k%d", i), newOrder(customer))
				if err != nil {
					t.Fatal(err)
				}
				if customer == 7 {
					want = append([]string{o.ID}, want...)
				}
				c.Advance(apart)
			}
			if apart == 0 { // the same time: newest first is by id, descending
				slices.Sort(want)
				slices.Reverse(want)
			}
			for _, limit := range []int{1, 2, 5, 17, 18, 50} {
				var got []string
				page, pages := "", 0
				for {
					p, err := svc.List(ctx, 7, page, limit)
					if err != nil {
						t.Fatalf("List(7, page %d, %d): %v", pages, limit, err)
					}
					pages++
					if len(p.Orders) > limit {
						t.Fatalf("List(7, page %d, %d) = %d orders, more than the limit", pages, limit, len(p.Orders))
					}
					for _, o := range p.Orders {
						if o.CustomerID != 7 {
							t.Fatalf("List(7) holds order %s of customer %d", o.ID, o.CustomerID)
						}
						got = append(got, o.ID)
					}
					if p.Next == "" {
						break
					}
					page = p.Next
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("List(7) by %d = %v\nwant %v", limit, got, want)
				}
				if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
					t.Errorf("List(7) by %d: %d pages, want %d (no empty last page)", limit, pages, wantPages)
				}
			}
		})
	}
}

// TestListBounds checks the limits of the listings and their tokens.
func TestListBounds(t *testing.T) {
	ctx := testContext(t)
	c := newClock()
	svc := newService(t, c, nil)
	for i := range 60 {
		if _, err := svc.Create(ctx, fmt.Sprintf("k%d", i), newOrder(7)); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
	}
	first, err := svc.List(ctx, 7, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	all, err := svc.ListAll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		call func() (bookshop.OrderPage, error)
		n    int    // orders in the page, when it succeeds
		want string // a part of the Invalid message; "" for success
	}{
		{"a customer's, the default size", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, "", 0) }, 20, ""},
		{"a customer's, 50", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, "", 50) }, 50, ""},
		{"a customer's, the rest", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, first.Next, 50) }, 10, ""},
		{"a customer's, 51", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, "", 51) }, 0, "page size 51: want 1 to 50"},
		{"a customer's, -1", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, "", -1) }, 0, "page size -1"},
		{"customer 0", func() (bookshop.OrderPage, error) { return svc.List(ctx, 0, "", 10) }, 0, "customer id 0"},
		{"a customer without orders", func() (bookshop.OrderPage, error) { return svc.List(ctx, 9, "", 10) }, 0, ""},
		{"another customer's token", func() (bookshop.OrderPage, error) { return svc.List(ctx, 9, first.Next, 10) }, 0, "page token"},
		{"ListAll's token", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, all.Next, 10) }, 0, "page token"},
		{"a token made up", func() (bookshop.OrderPage, error) { return svc.List(ctx, 7, "bm90IGEgdG9rZW4", 10) }, 0, "page token"},
		{"all, the default size", func() (bookshop.OrderPage, error) { return svc.ListAll(ctx, "", 0) }, 50, ""},
		{"all, 100", func() (bookshop.OrderPage, error) { return svc.ListAll(ctx, "", 100) }, 60, ""},
		{"all, the rest", func() (bookshop.OrderPage, error) { return svc.ListAll(ctx, all.Next, 0) }, 10, ""},
		{"all, 101", func() (bookshop.OrderPage, error) { return svc.ListAll(ctx, "", 101) }, 0, "page size 101: want 1 to 100"},
		{"all, a customer's token", func() (bookshop.OrderPage, error) { return svc.ListAll(ctx, first.Next, 10) }, 0, "page token"},
	} {
		p, err := tt.call()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == "" && len(p.Orders) != tt.n:
			t.Errorf("%s: %d orders, want %d", tt.name, len(p.Orders), tt.n)
		case tt.want != "" && (bookshop.ErrorCode(err) != bookshop.Invalid || !strings.Contains(bookshop.ErrorMessage(err), tt.want)):
			t.Errorf("%s: %v, want Invalid with %q", tt.name, err, tt.want)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx := testContext(t)
	c := newClock()
	svc := newService(t, c, nil)
	o, err := svc.Create(ctx, "k", newOrder(7))
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	got, err := svc.Cancel(ctx, o.ID)
	if err != nil || got.State != "cancelled" || !got.Updated.Equal(c.Now()) || !got.Created.Equal(o.Created) {
		t.Fatalf("Cancel = %+v, %v; want cancelled, updated now", got, err)
	}
	c.Advance(time.Minute)
	again, err := svc.Cancel(ctx, o.ID)
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("Cancel again = %+v, %v; want the order as it was", again, err)
	}
	read, err := svc.Order(ctx, 7, o.ID)
	if err != nil || read.State != "cancelled" {
		t.Errorf("Order after Cancel = %+v, %v; want cancelled", read, err)
	}
	if _, err := svc.Cancel(ctx, orders.NewOrderID()); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Cancel(unknown) = %v, want NotFound", err)
	}
	if _, err := svc.Cancel(ctx, "o_1"); bookshop.ErrorCode(err) != bookshop.Invalid {
		t.Errorf("Cancel(malformed) = %v, want Invalid", err)
	}
}
