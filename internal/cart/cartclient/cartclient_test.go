package cartclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

var discard = slog.New(slog.DiscardHandler)

func eur(cents int64) bookshop.Money { return bookshop.Money{Units: cents, Currency: "EUR"} }

// books are the Catalog of the tests.
var books = []bookshop.Book{
	{ID: 1, Title: "The Maltese Falcon", Author: "Dashiell Hammett", Year: 1930, Category: bookshop.Mystery, Price: eur(1250)},
	{ID: 2, Title: "Dune", Author: "Frank Herbert", Year: 1965, Category: bookshop.ScienceFiction, Price: eur(1099)},
}

// serve runs fn's server on a new loopback listener until the test ends,
// and returns its address.
func serve(tb testing.TB, run func(ctx context.Context, lis net.Listener) error) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return lis.Addr().String()
}

// newClient runs a real Catalog over books and a real Cart in front of
// it, and returns a client of the Cart. With catalogDown, the Cart's
// Catalog is an address nothing listens on.
func newClient(tb testing.TB, catalogDown bool) *cartclient.Client {
	tb.Helper()
	catalogAddr := rpctest.ClosedAddr(tb)
	if !catalogDown {
		db, err := catalogsqlite.Open(rpctest.Context(tb), catalogsqlite.Memory, books)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		catalogAddr = serve(tb, func(ctx context.Context, lis net.Listener) error {
			srv, err := catalog.NewGRPCServer(catalog.NewService(db, "EUR", 0, nil), process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
			if err != nil {
				return err
			}
			return srv.Run(ctx, lis)
		})
	}
	cfg := cart.DefaultConfig()
	cfg.DB, cfg.CatalogHost = ":memory:", catalogAddr
	addr := serve(tb, func(ctx context.Context, lis net.Listener) error {
		return cart.Run(ctx, cfg, process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	})
	return cartclient.New(rpctest.Dial(tb, addr), 5*time.Second)
}

func TestClient(t *testing.T) {
	ctx := rpctest.Context(t)
	client := newClient(t, false)
	falcon, dune := books[0], books[1]

	c, err := client.Add(ctx, "g-guest", 2, 3)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	// The client's books carry what the contract does: no year, no
	// category.
	duneInCart := bookshop.Book{ID: dune.ID, Title: dune.Title, Author: dune.Author, Price: dune.Price}
	want := bookshop.Cart{ID: "g-guest", Lines: []bookshop.CartLine{{Book: duneInCart, Quantity: 3, Total: eur(3297)}}, Count: 3, Subtotal: eur(3297)}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Add(2, 3) = %+v, want %+v", c, want)
	}
	if _, err := client.Add(ctx, "c-1", 1, 1); err != nil {
		t.Fatal(err)
	}
	c, err = client.Merge(ctx, "g-guest", "c-1")
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	falconInCart := bookshop.Book{ID: falcon.ID, Title: falcon.Title, Author: falcon.Author, Price: falcon.Price}
	want = bookshop.Cart{
		ID:       "c-1",
		Lines:    []bookshop.CartLine{{Book: falconInCart, Quantity: 1, Total: eur(1250)}, {Book: duneInCart, Quantity: 3, Total: eur(3297)}},
		Count:    4,
		Subtotal: eur(4547),
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Merge = %+v, want %+v", c, want)
	}
	if got, err := client.Cart(ctx, "c-1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Cart = %+v, %v; want %+v", got, err, want)
	}
	for _, l := range want.Lines {
		if !cartclient.Available(l) {
			t.Errorf("Available(%v) = false, want true", l)
		}
	}
	if cartclient.Available(bookshop.CartLine{Book: bookshop.Book{ID: 9}, Quantity: 1}) {
		t.Error("Available(a line without a price) = true")
	}
	c, err = client.SetQuantity(ctx, "c-1", 1, 0)
	if err != nil || c.Count != 3 || len(c.Lines) != 1 {
		t.Errorf("SetQuantity(1, 0) = %+v, %v; want the Dune line alone", c, err)
	}
	if n, err := client.Count(ctx, "c-1"); n != 3 || err != nil {
		t.Errorf("Count = %d, %v; want 3", n, err)
	}
	if n, err := client.Count(ctx, "g-guest"); n != 0 || err != nil {
		t.Errorf("Count(the merged guest's cart) = %d, %v; want 0", n, err)
	}
}

// TestClientErrors checks that the server's errors arrive as the kernel's
// codes, with the messages for the shopper.
func TestClientErrors(t *testing.T) {
	ctx := rpctest.Context(t)
	client := newClient(t, false)
	if _, err := client.Add(ctx, "c-1", 1, 9); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code bookshop.Code
		msg  string
	}{
		{"past 10 copies", func() error { _, err := client.Add(ctx, "c-1", 1, 2); return err }, bookshop.Conflict, "at most 10 copies of one book: the cart already holds 9"},
		{"a huge quantity", func() error { _, err := client.Add(ctx, "c-2", 1, 1<<40); return err }, bookshop.Conflict, "at most 10 copies of one book"},
		{"an unknown book", func() error { _, err := client.Add(ctx, "c-1", 7, 1); return err }, bookshop.NotFound, "book 7 is not in the catalog"},
		{"a bad cart id", func() error { _, err := client.Cart(ctx, "c/1"); return err }, bookshop.Invalid, "only letters"},
		{"a bad quantity", func() error { _, err := client.SetQuantity(ctx, "c-1", 1, -1); return err }, bookshop.Invalid, "want 0 (to remove the book) to 10"},
		{"no such line", func() error { _, err := client.SetQuantity(ctx, "c-1", 2, 1); return err }, bookshop.NotFound, "the cart holds no copy of book 2"},
		{"a merge into itself", func() error { _, err := client.Merge(ctx, "c-1", "c-1"); return err }, bookshop.Invalid, "into itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if bookshop.ErrorCode(err) != tc.code || !strings.Contains(bookshop.ErrorMessage(err), tc.msg) {
				t.Errorf("%v (code %q), want %q with %q", err, bookshop.ErrorCode(err), tc.code, tc.msg)
			}
		})
	}
}

func TestClientCatalogDown(t *testing.T) {
	ctx := rpctest.Context(t)
	client := newClient(t, true)
	if _, err := client.Add(ctx, "g-1", 1, 1); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Add, the Catalog down: %v, want Unavailable", err)
	}
	if n, err := client.Count(ctx, "g-1"); n != 0 || err != nil {
		t.Errorf("Count, the Catalog down = %d, %v; want 0", n, err)
	}
}

func TestClientCartDown(t *testing.T) {
	conn, err := rpc.Dial(rpctest.ClosedAddr(t), rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := cartclient.New(conn, time.Second)
	if _, err := client.Count(rpctest.Context(t), "g-1"); bookshop.ErrorCode(err) != bookshop.Unavailable {
		t.Errorf("Count, the Cart down: %v, want Unavailable", err)
	}
}

// A caller of the Cart dials it once, then speaks the kernel's types: a
// guest adds books, signs in, and the guest's cart merges into theirs.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logger := slog.New(slog.DiscardHandler)

	// A Catalog with two books, and a Cart that prices from it, on
	// loopback, in memory.
	db, _ := catalogsqlite.Open(ctx, catalogsqlite.Memory, books)
	defer db.Close()
	catalogLis, _ := net.Listen("tcp", "127.0.0.1:0")
	catalogSrv, _ := catalog.NewGRPCServer(catalog.NewService(db, "EUR", 0, nil), process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: catalogLis})
	cartLis, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := cart.DefaultConfig()
	cfg.DB, cfg.CatalogHost = ":memory:", catalogLis.Addr().String()
	serving, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- catalogSrv.Run(serving, catalogLis) }()
	go func() {
		done <- cart.Run(serving, cfg, process.Deps{Logger: logger, DrainTimeout: time.Second, Listener: cartLis})
	}()
	defer func() { stop(); <-done; <-done }()

	conn, _ := rpc.Dial(cartLis.Addr().String(), rpc.ClientConfig{})
	defer conn.Close()
	carts := cartclient.New(conn, time.Second)

	carts.Add(ctx, "g-3k2j9", 2, 2) // a guest: two copies of Dune
	carts.Add(ctx, "c-42", 1, 1)    // customer 42, earlier
	c, _ := carts.Merge(ctx, "g-3k2j9", "c-42")
	for _, l := range c.Lines {
		fmt.Printf("%d × %s at %s: %s\n", l.Quantity, l.Book.Title, l.Book.Price.Format(), l.Total.Format())
	}
	fmt.Println("subtotal", c.Subtotal.Format())
	_, err := carts.Add(ctx, "c-42", 2, 9)
	fmt.Println(bookshop.ErrorCode(err), "-", bookshop.ErrorMessage(err))
	// Output:
	// 1 × The Maltese Falcon at €12.50: €12.50
	// 2 × Dune at €10.99: €21.98
	// subtotal €34.48
	// conflict - at most 10 copies of one book: the cart already holds 2
}
