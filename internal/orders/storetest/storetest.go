// Package storetest is the contract of orders.Store as tests: one suite
// that every implementation runs (package sqlite's and package
// postgres's tests call Run), so that the two keep the same promises, the
// same tests and not two copies of them.
package storetest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
)

// Store is what the suite tests: the Orders service's Store, and the
// count of orders that Run logs at start.
type Store interface {
	orders.Store
	// CountOrders returns the number of orders.
	CountOrders(ctx context.Context) (int, error)
}

// NewDatabase makes a new, empty database for one test and returns how to
// open a Store on it. Each call of open opens another handle on the same
// database (as another replica, or another process, would), closed when
// the test ends. open returns the implementation's error when it cannot
// open the Store.
type NewDatabase func(tb testing.TB) (open func() (Store, error))

// Run runs the suite on the databases that newDB makes, each test on a
// database of its own.
func Run(t *testing.T, newDB NewDatabase) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, newDB NewDatabase)
	}{
		{"CreateAndReadBack", testCreateAndReadBack},
		{"SchemaGuards", testSchemaGuards},
		{"ListAndCancel", testListAndCancel},
		{"History", testHistory},
		{"CreateOnce", testCreateOnce},
		{"CreateOnceAcrossReplicas", testCreateOnceAcrossReplicas},
		{"CancelOnce", testCancelOnce},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newDB) })
	}
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a Store on a new database, and returns it and how to open
// another handle on the same database.
func open(tb testing.TB, newDB NewDatabase) (Store, func() Store) {
	tb.Helper()
	opener := newDB(tb)
	db, err := opener()
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db, func() Store {
		tb.Helper()
		again, err := opener()
		if err != nil {
			tb.Fatalf("open another handle: %v", err)
		}
		return again
	}
}

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// order returns a checked order of customer, with two lines, two
// promotions and a discount.
func order(tb testing.TB, customer int32) bookshop.Order {
	tb.Helper()
	o, err := orders.Checked(bookshop.Order{
		CustomerID: customer,
		Lines: []bookshop.OrderLine{
			{BookID: 3, Title: "Smilla's Sense of Snow", UnitPrice: eur(1299), Quantity: 2, Total: eur(2598)},
			{BookID: 1, Title: "Solaris", UnitPrice: eur(999), Quantity: 1, Total: eur(999)},
		},
		Subtotal: eur(3597), Discount: eur(999), Total: eur(2598),
		Promotions: []string{"buy_two_get_one_free", "welcome"},
		PaymentID:  "ch_1",
		Shipping:   bookshop.Address{Name: "Ada", Line1: "1 Street", Line2: "Flat 2", City: "Oslo", PostalCode: "0150", Country: "NO"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// placed returns order(customer) placed now with a new id, as the Service
// gives the Store, and its fingerprint.
func placed(tb testing.TB, customer int32) (bookshop.Order, [sha256.Size]byte) {
	tb.Helper()
	o := order(tb, customer)
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	o.ID, o.State, o.Created, o.Updated = orders.NewOrderID(), ordersclient.StatePlaced, now, now
	return o, orders.Fingerprint(o)
}

// testCreateAndReadBack records an order, and reads it back as it was
// given, through the handle that wrote it and another; a key used again
// returns the first order and its fingerprint, and records nothing.
func testCreateAndReadBack(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, again := open(t, newDB)
	o, fp := placed(t, 7)
	got, gotFP, created, err := db.Create(ctx, "k1", fp, o)
	if err != nil || !created || gotFP != fp || !reflect.DeepEqual(got, o) {
		t.Fatalf("Create = %+v, %x, %v, %v; want the order created", got, gotFP, created, err)
	}
	other, _ := placed(t, 7)
	got, gotFP, created, err = db.Create(ctx, "k1", [sha256.Size]byte{1}, other)
	if err != nil || created || gotFP != fp || !reflect.DeepEqual(got, o) {
		t.Errorf("Create(k1) again = %+v, %x, %v, %v; want the first order and its fingerprint, nothing created", got, gotFP, created, err)
	}
	noPromotions, fp2 := placed(t, 7)
	noPromotions.Promotions, noPromotions.Discount, noPromotions.Total = nil, eur(0), eur(3597)
	if _, _, _, err := db.Create(ctx, "k2", fp2, noPromotions); err != nil {
		t.Fatal(err)
	}

	for i, h := range []Store{db, again()} {
		for _, customer := range []int32{0, 7} {
			if got, err := h.Order(ctx, customer, o.ID); err != nil || !reflect.DeepEqual(got, o) {
				t.Errorf("handle %d: Order(%d, %s) = %+v, %v\nwant %+v", i, customer, o.ID, got, err, o)
			}
		}
		if got, err := h.Order(ctx, 7, noPromotions.ID); err != nil || !reflect.DeepEqual(got, noPromotions) {
			t.Errorf("handle %d: Order(an order without promotions) = %+v, %v\nwant %+v", i, got, err, noPromotions)
		}
		if _, err := h.Order(ctx, 8, o.ID); bookshop.ErrorCode(err) != bookshop.NotFound {
			t.Errorf("handle %d: Order(8, customer 7's) = %v, want NotFound", i, err)
		}
		if _, err := h.Order(ctx, 0, other.ID); bookshop.ErrorCode(err) != bookshop.NotFound {
			t.Errorf("handle %d: Order(the order of a key used again) = %v, want NotFound: it was not recorded", i, err)
		}
		if n, err := h.CountOrders(ctx); n != 2 || err != nil {
			t.Errorf("handle %d: CountOrders = %d, %v; want 2", i, n, err)
		}
	}
}

// testSchemaGuards gives the Store orders that the rules would refuse:
// the schema refuses them too, and a refusal in the lines leaves no order
// behind, the order and its lines being one transaction.
func testSchemaGuards(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	for name, change := range map[string]func(o *bookshop.Order){
		"a total that does not add up":  func(o *bookshop.Order) { o.Total.Units++ },
		"a discount over the subtotal":  func(o *bookshop.Order) { o.Discount, o.Total = eur(4000), eur(-403) },
		"a line total that is wrong":    func(o *bookshop.Order) { o.Lines[1].Total.Units++ },
		"a book on two lines":           func(o *bookshop.Order) { o.Lines[1].BookID = o.Lines[0].BookID },
		"11 copies":                     func(o *bookshop.Order) { o.Lines[1].Quantity, o.Lines[1].Total = 11, eur(10989) },
		"a promotion twice":             func(o *bookshop.Order) { o.Promotions[1] = o.Promotions[0] },
		"an unknown state":              func(o *bookshop.Order) { o.State = "lost" },
		"an id without its prefix":      func(o *bookshop.Order) { o.ID = "x_" + o.ID[2:] },
		"a customer of 0":               func(o *bookshop.Order) { o.CustomerID = 0 },
		"a country of three letters":    func(o *bookshop.Order) { o.Shipping.Country = "NOR" },
		"an update before its creation": func(o *bookshop.Order) { o.Updated = o.Created.Add(-time.Second) },
	} {
		o, fp := placed(t, 7)
		change(&o)
		if _, _, _, err := db.Create(ctx, "k-"+strings.ReplaceAll(name, " ", "-"), fp, o); err == nil {
			t.Errorf("Create(%s) = nil, want the schema to refuse it", name)
		}
	}
	if n, err := db.CountOrders(ctx); n != 0 || err != nil {
		t.Errorf("CountOrders = %d, %v; want 0: no order half-written", n, err)
	}
}

// ids returns the ids of os, in their order.
func ids(os []bookshop.Order) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.ID)
	}
	return out
}

// testListAndCancel lists a customer's orders and everyone's, from the
// newest and after a cursor, then cancels an order once.
func testListAndCancel(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	var created []string
	for i, customer := range []int32{7, 8, 7} {
		o, fp := placed(t, customer)
		o.Created = time.UnixMilli(int64(1_900_000_000_000 + i)).UTC()
		o.Updated = o.Created
		if _, _, _, err := db.Create(ctx, o.ID, fp, o); err != nil {
			t.Fatal(err)
		}
		created = append(created, o.ID)
	}
	list := func(customer int32, after time.Time, afterID string, limit int) []string {
		t.Helper()
		page, err := db.List(ctx, customer, after, afterID, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			if len(o.Lines) != 2 || len(o.Promotions) != 2 {
				t.Errorf("List: order %s has %d lines and %d promotions, want 2 and 2", o.ID, len(o.Lines), len(o.Promotions))
			}
		}
		return ids(page)
	}
	for _, tt := range []struct {
		name string
		got  []string
		want []string
	}{
		{"customer 7's", list(7, time.Time{}, "", 10), []string{created[2], created[0]}},
		{"everyone's", list(0, time.Time{}, "", 10), []string{created[2], created[1], created[0]}},
		{"everyone's, 2", list(0, time.Time{}, "", 2), []string{created[2], created[1]}},
		{"everyone's after the second", list(0, time.UnixMilli(1_900_000_000_001), created[1], 10), []string{created[0]}},
		{"customer 9's", list(9, time.Time{}, "", 10), nil},
	} {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("List %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	now := time.UnixMilli(1_900_000_100_000).UTC()
	o, changed, err := db.Cancel(ctx, created[1], now)
	if err != nil || !changed || o.State != ordersclient.StateCancelled || !o.Updated.Equal(now) || len(o.Lines) != 2 {
		t.Errorf("Cancel = %+v, %v, %v; want cancelled now, whole", o, changed, err)
	}
	if _, changed, err := db.Cancel(ctx, created[1], now.Add(time.Hour)); err != nil || changed {
		t.Errorf("Cancel again = %v, %v; want no change", changed, err)
	}
	if got, err := db.Order(ctx, 8, created[1]); err != nil || !reflect.DeepEqual(got, o) {
		t.Errorf("Order after Cancel = %+v, %v; want %+v", got, err, o)
	}
	// A clock behind the order's creation: updated is not before created.
	early, fp := placed(t, 7)
	if _, _, _, err := db.Create(ctx, "early", fp, early); err != nil {
		t.Fatal(err)
	}
	if o, _, err := db.Cancel(ctx, early.ID, early.Created.Add(-time.Hour)); err != nil || !o.Updated.Equal(early.Created) {
		t.Errorf("Cancel with a clock behind = %+v, %v; want updated at its creation", o, err)
	}
	if _, _, err := db.Cancel(ctx, orders.NewOrderID(), now); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Cancel(unknown) = %v, want NotFound", err)
	}
}

// testHistory records orders of three customers, many of them in the same
// millisecond, and pages through the listings, everyone's and each
// customer's, 3 at a time: each comes newest first, then by id in
// descending byte order, every order once, whole; the same pages from
// every implementation.
func testHistory(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	db, _ := open(t, newDB)
	var all []bookshop.Order
	for i := range 40 {
		o := order(t, int32(1+i%3))
		o.ID, o.State = orders.NewOrderID(), ordersclient.StatePlaced
		o.Created = time.UnixMilli(int64(1_900_000_000_000 + i/4)).UTC() // four to a millisecond
		o.Updated = o.Created
		if i%5 == 0 {
			o.Promotions, o.Discount, o.Total = nil, eur(0), o.Subtotal
		}
		if _, _, _, err := db.Create(ctx, fmt.Sprintf("h-%d", i), orders.Fingerprint(o), o); err != nil {
			t.Fatal(err)
		}
		all = append(all, o)
	}
	slices.SortFunc(all, func(a, b bookshop.Order) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(b.ID, a.ID))
	})
	for _, customer := range []int32{0, 1, 2, 3} {
		var want []bookshop.Order
		for _, o := range all {
			if customer == 0 || o.CustomerID == customer {
				want = append(want, o)
			}
		}
		var (
			got     []bookshop.Order
			after   time.Time
			afterID string
		)
		for {
			page, err := db.List(ctx, customer, after, afterID, 3)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < 3 {
				break
			}
			after, afterID = page[2].Created, page[2].ID
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("customer %d's history, 3 a page = %v\nwant %v", customer, ids(got), ids(want))
		}
	}
}

// testCreateOnce creates with one key from two handles at once, as two
// replicas would, 10 times: one order is created, and each call returns
// it.
func testCreateOnce(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	first, again := open(t, newDB)
	dbs := []Store{first, again()}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		seen    = map[string]bool{}
	)
	for i := range 10 {
		wg.Go(func() {
			o, fp := placed(t, 7)
			got, _, c, err := dbs[i%2].Create(ctx, "one-key", fp, o)
			if err != nil {
				t.Errorf("Create #%d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			seen[got.ID] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if created != 1 || len(seen) != 1 {
		t.Errorf("%d calls created, %d orders returned; want 1 and 1", created, len(seen))
	}
	if n, err := first.CountOrders(ctx); n != 1 || err != nil {
		t.Errorf("CountOrders = %d, %v; want 1", n, err)
	}
}

// testCreateOnceAcrossReplicas has a checkout's retries reach two
// replicas at once, 16 times, with one key and one order: one order is
// recorded, and every call answers it; the key used for another order, on
// either replica, is refused.
func testCreateOnceAcrossReplicas(t *testing.T, newDB NewDatabase) {
	first, again := open(t, newDB)
	svcs := []*orders.Service{orders.NewService(first, orders.Options{}), orders.NewService(again(), orders.Options{})}
	o := order(t, 7)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	for i := range 16 {
		wg.Go(func() {
			got, err := svcs[i%2].Create(testContext(t), "one-checkout", o)
			if err != nil {
				t.Errorf("Create #%d: %v", i, err)
				return
			}
			mu.Lock()
			seen[got.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 1 {
		t.Errorf("one key on two replicas recorded orders %v, want one", seen)
	}
	other := order(t, 8)
	for i, svc := range svcs {
		if _, err := svc.Create(testContext(t), "one-checkout", other); bookshop.ErrorCode(err) != bookshop.Conflict {
			t.Errorf("replica %d: Create(the key, another order) = %v, want Conflict", i, err)
		}
	}
	if n, err := first.CountOrders(testContext(t)); n != 1 || err != nil {
		t.Errorf("CountOrders = %d, %v; want 1", n, err)
	}
}

// testCancelOnce cancels one order from two handles at once, 16 times:
// one call changes it, and every call returns it cancelled at that one's
// time.
func testCancelOnce(t *testing.T, newDB NewDatabase) {
	ctx := testContext(t)
	first, again := open(t, newDB)
	dbs := []Store{first, again()}
	o, fp := placed(t, 7)
	if _, _, _, err := first.Create(ctx, "k", fp, o); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		changed int
		updated = map[time.Time]bool{}
	)
	for i := range 16 {
		wg.Go(func() {
			got, c, err := dbs[i%2].Cancel(ctx, o.ID, o.Created.Add(time.Duration(i+1)*time.Second))
			if err != nil || got.State != ordersclient.StateCancelled {
				t.Errorf("Cancel #%d = %+v, %v; want it cancelled", i, got, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			updated[got.Updated] = true
			if c {
				changed++
			}
		})
	}
	wg.Wait()
	if changed != 1 || len(updated) != 1 {
		t.Errorf("%d cancels changed the order, answering %d update times; want 1 and 1", changed, len(updated))
	}
}
