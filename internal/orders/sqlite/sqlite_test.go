package sqlite_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/sqlitedb"
)

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// open opens a database at path, closed when the test ends.
func open(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(testContext(tb), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// placed returns a checked order of customer, placed now with a new id, as
// the Service gives the Store, and its fingerprint.
func placed(tb testing.TB, customer int32) (bookshop.Order, [sha256.Size]byte) {
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
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	o.ID, o.State, o.Created, o.Updated = orders.NewOrderID(), "placed", now, now
	return o, orders.Fingerprint(o)
}

func TestCreateAndReadBack(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "orders.db")
	db := open(t, path)
	o, fp := placed(t, 7)
	got, gotFP, created, err := db.Create(ctx, "k1", fp, o)
	if err != nil || !created || gotFP != fp || !reflect.DeepEqual(got, o) {
		t.Fatalf("Create = %+v, %x, %v, %v; want the order created", got, gotFP, created, err)
	}
	again, _ := placed(t, 7)
	got, gotFP, created, err = db.Create(ctx, "k1", [sha256.Size]byte{1}, again)
	if err != nil || created || gotFP != fp || !reflect.DeepEqual(got, o) {
		t.Errorf("Create(k1) again = %+v, %x, %v, %v; want the first order and its fingerprint, nothing created", got, gotFP, created, err)
	}
	db.Close()

	db = open(t, path)
	for _, customer := range []int32{0, 7} {
		if got, err := db.Order(ctx, customer, o.ID); err != nil || !reflect.DeepEqual(got, o) {
			t.Errorf("after reopening, Order(%d, %s) = %+v, %v\nwant %+v", customer, o.ID, got, err, o)
		}
	}
	if _, err := db.Order(ctx, 8, o.ID); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Order(8, customer 7's) = %v, want NotFound", err)
	}
	if n, err := db.CountOrders(ctx); n != 1 || err != nil {
		t.Errorf("CountOrders = %d, %v; want 1", n, err)
	}
}

// TestCreateOnceAcrossConnections creates with one key from two handles on
// the same file, as two processes would, 10 times at once: one order is
// created, and each call returns it.
func TestCreateOnceAcrossConnections(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "orders.db")
	dbs := []*sqlite.DB{open(t, path), open(t, path)}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		ids     = map[string]bool{}
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
			ids[got.ID] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Errorf("%d calls created, %d orders returned; want 1 and 1", created, len(ids))
	}
}

// TestSchemaGuards gives the Store orders that the rules would refuse: the
// schema refuses them too, and a refusal in the lines leaves no order
// behind, the order and its lines being one transaction.
func TestSchemaGuards(t *testing.T) {
	ctx := testContext(t)
	db := open(t, sqlite.Memory)
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

func TestListAndCancel(t *testing.T) {
	ctx := testContext(t)
	db := open(t, filepath.Join(t.TempDir(), "orders.db"))
	var ids []string
	for i, customer := range []int32{7, 8, 7} {
		o, fp := placed(t, customer)
		o.Created = time.UnixMilli(int64(1_900_000_000_000 + i)).UTC()
		o.Updated = o.Created
		if _, _, _, err := db.Create(ctx, o.ID, fp, o); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	list := func(customer int32, after time.Time, afterID string, limit int) []string {
		t.Helper()
		page, err := db.List(ctx, customer, after, afterID, limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range page {
			if len(o.Lines) != 2 || len(o.Promotions) != 2 {
				t.Errorf("List: order %s has %d lines and %d promotions, want 2 and 2", o.ID, len(o.Lines), len(o.Promotions))
			}
			got = append(got, o.ID)
		}
		return got
	}
	for _, tt := range []struct {
		name string
		got  []string
		want []string
	}{
		{"customer 7's", list(7, time.Time{}, "", 10), []string{ids[2], ids[0]}},
		{"everyone's", list(0, time.Time{}, "", 10), []string{ids[2], ids[1], ids[0]}},
		{"everyone's, 2", list(0, time.Time{}, "", 2), []string{ids[2], ids[1]}},
		{"everyone's after the second", list(0, time.UnixMilli(1_900_000_000_001), ids[1], 10), []string{ids[0]}},
		{"customer 9's", list(9, time.Time{}, "", 10), nil},
	} {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("List %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	now := time.UnixMilli(1_900_000_100_000).UTC()
	o, changed, err := db.Cancel(ctx, ids[1], now)
	if err != nil || !changed || o.State != "cancelled" || !o.Updated.Equal(now) {
		t.Errorf("Cancel = %+v, %v, %v; want cancelled now", o, changed, err)
	}
	if _, changed, err := db.Cancel(ctx, ids[1], now.Add(time.Hour)); err != nil || changed {
		t.Errorf("Cancel again = %v, %v; want no change", changed, err)
	}
	if _, _, err := db.Cancel(ctx, orders.NewOrderID(), now); bookshop.ErrorCode(err) != bookshop.NotFound {
		t.Errorf("Cancel(unknown) = %v, want NotFound", err)
	}
}

// TestRefusesAnotherDatabase opens a database file of another program:
// Open refuses it, and writes nothing into it.
func TestRefusesAnotherDatabase(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "other.db")
	other, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Write.ExecContext(ctx, `CREATE TABLE accounts (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if db, err := sqlite.Open(ctx, path); err == nil || !strings.Contains(err.Error(), "not a Bookshop orders database") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open(another program's file) = %v, want an error naming it", err)
	}
}
