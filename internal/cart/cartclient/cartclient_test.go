package cartclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	cartsqlite "github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	catalogsqlite "github.com/bookshop-go/bookshop/internal/catalog/sqlite"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
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

// serveCatalog runs a real Catalog over books until the test ends, and
// returns its address.
func serveCatalog(tb testing.TB) string {
	tb.Helper()
	db, err := catalogsqlite.Open(rpctest.Context(tb), catalogsqlite.Memory, books)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return serve(tb, func(ctx context.Context, lis net.Listener) error {
		srv, err := catalog.NewGRPCServer(catalog.NewService(db, "EUR", 0, nil), process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
		if err != nil {
			return err
		}
		return srv.Run(ctx, lis)
	})
}

// newClient runs a real Catalog over books and a real Cart in front of
// it, and returns a client of the Cart. With catalogDown, the Cart's
// Catalog is an address nothing listens on.
func newClient(tb testing.TB, catalogDown bool) *cartclient.Client {
	tb.Helper()
	catalogAddr := rpctest.ClosedAddr(tb)
	if !catalogDown {
		catalogAddr = serveCatalog(tb)
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

	c, err := client.Add(ctx, "g-guest", 2, 3, "")
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
	if _, err := client.Add(ctx, "c-1", 1, 1, ""); err != nil {
		t.Fatal(err)
	}
	m, err := client.Merge(ctx, "g-guest", "c-1")
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if m.DroppedLines != 0 || m.CappedLines != 0 {
		t.Errorf("Merge: %d lines dropped, %d capped; want none", m.DroppedLines, m.CappedLines)
	}
	c = m.Cart
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
	// 10 more copies of Dune, which c-1 holds 3 of: capped, and said so.
	if _, err := client.Add(ctx, "g-more", 2, 10, ""); err != nil {
		t.Fatal(err)
	}
	if m, err := client.Merge(ctx, "g-more", "c-1"); err != nil || m.DroppedLines != 0 || m.CappedLines != 1 || m.Cart.Count != 11 {
		t.Errorf("Merge(10 copies of a book into 3) = %d copies, %d lines dropped, %d capped, %v; want 11 copies, 0 and 1", m.Cart.Count, m.DroppedLines, m.CappedLines, err)
	}
	if _, err := client.SetQuantity(ctx, "c-1", 2, 3); err != nil {
		t.Fatal(err)
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
	if _, err := client.Add(ctx, "c-1", 1, 9, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code bookshop.Code
		msg  string
	}{
		{"past 10 copies", func() error { _, err := client.Add(ctx, "c-1", 1, 2, ""); return err }, bookshop.Conflict, "at most 10 copies of one book: the cart already holds 9"},
		{"a huge quantity", func() error { _, err := client.Add(ctx, "c-2", 1, 1<<40, ""); return err }, bookshop.Conflict, "at most 10 copies of one book"},
		{"an unknown book", func() error { _, err := client.Add(ctx, "c-1", 7, 1, ""); return err }, bookshop.NotFound, "book 7 is not in the catalog"},
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

// loseAnswers is a server interceptor that, while lose is set, lets
// AddItem or RemoveLines run (and write) but answers UNAVAILABLE in its
// place, once, as
// a server would whose answer is lost: it died, or the connection broke,
// after the commit.
func loseAnswers(lose *atomic.Bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		changes := info.FullMethod == cartv1.CartService_AddItem_FullMethodName || info.FullMethod == cartv1.CartService_RemoveLines_FullMethodName
		if err == nil && changes && lose.CompareAndSwap(true, false) {
			return nil, status.Error(codes.Unavailable, "the answer was lost")
		}
		return resp, err
	}
}

// TestAddRetriedAfterItWasDone loses the answer of an AddItem that was
// done, so that the client's connection retries it (platform/rpc retries
// UNAVAILABLE on every method): with a key, the books are added once;
// without one, twice, which is why the Marketplace sends a key.
func TestAddRetriedAfterItWasDone(t *testing.T) {
	ctx := rpctest.Context(t)
	catalogConn := rpctest.Dial(t, serveCatalog(t))
	cartDB, err := cartsqlite.Open(ctx, cartsqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cartDB.Close() })
	var lose atomic.Bool
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		svc := cart.NewService(cartDB, catalogclient.New(catalogConn, 5*time.Second), cart.Options{Logger: logger})
		cartv1.RegisterCartServiceServer(srv, cart.NewServer(svc, logger))
	}, grpc.ChainUnaryInterceptor(loseAnswers(&lose)))
	conn, err := rpc.Dial(addr, rpc.ClientConfig{}) // with the retries of every Bookshop client
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := cartclient.New(conn, 5*time.Second)

	for _, tc := range []struct {
		name, cart, key string
		want            int
	}{
		{"with a key", "g-keyed", "add-1c4e", 2},
		{"without a key", "g-unkeyed", "", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lose.Store(true)
			c, err := client.Add(ctx, tc.cart, 2, 2, tc.key)
			if err != nil {
				t.Fatalf("Add(2 copies, its answer lost once) = %v, want the retry's answer", err)
			}
			if lose.Load() {
				t.Fatal("the answer was not lost: nothing was retried")
			}
			if c.Count != tc.want {
				t.Errorf("Add(2 copies, retried) = a cart of %d copies, want %d", c.Count, tc.want)
			}
			if n, err := client.Count(ctx, tc.cart); n != tc.want || err != nil {
				t.Errorf("Count = %d, %v; want %d", n, err, tc.want)
			}
		})
	}
}

// TestRemoveLines takes out of a cart what Checkout has sold from it: the
// copies bought go, those added since stay; the removal happens once for
// its key, even when its answer is lost and the connection retries it;
// and it needs no Catalog.
func TestRemoveLines(t *testing.T) {
	ctx := rpctest.Context(t)
	catalogAddr, stopCatalog := serveCatalogStoppable(t)
	cartDB, err := cartsqlite.Open(ctx, cartsqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cartDB.Close() })
	var lose atomic.Bool
	addr := rpctest.Start(t, func(srv *rpc.Server, logger *slog.Logger) {
		svc := cart.NewService(cartDB, catalogclient.New(rpctest.Dial(t, catalogAddr), 5*time.Second), cart.Options{Logger: logger})
		cartv1.RegisterCartServiceServer(srv, cart.NewServer(svc, logger))
	}, grpc.ChainUnaryInterceptor(loseAnswers(&lose)))
	conn, err := rpc.Dial(addr, rpc.ClientConfig{}) // with the retries of every Bookshop client
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := cartclient.New(conn, 5*time.Second)
	if _, err := client.Add(ctx, "c-7", 1, 3, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Add(ctx, "c-7", 2, 1, ""); err != nil {
		t.Fatal(err)
	}
	stopCatalog() // the removal needs no Catalog
	bought := []bookshop.StockLine{{BookID: 1, Quantity: 2}, {BookID: 2, Quantity: 1}}

	lose.Store(true)
	n, err := client.RemoveLines(ctx, "c-7", bought, "co-1-cart")
	if err != nil || n != 1 {
		t.Fatalf("RemoveLines(2 of book 1, 1 of book 2; its answer lost once) = %d, %v; want 1 copy left", n, err)
	}
	if lose.Load() {
		t.Fatal("the answer was not lost: nothing was retried")
	}
	for _, tc := range []struct {
		name  string
		cart  string
		lines []bookshop.StockLine
		key   string
		count int
		code  bookshop.Code
		msg   string
	}{
		{name: "a retry removes nothing", cart: "c-7", lines: bought, key: "co-1-cart", count: 1},
		{name: "the key for other lines", cart: "c-7", lines: bought[:1], key: "co-1-cart", code: bookshop.Conflict, msg: "was used on this cart to remove other lines"},
		{name: "no key", cart: "c-7", lines: bought, code: bookshop.Invalid, msg: "an idempotency key is required"},
		{name: "no lines", cart: "c-7", key: "co-2-cart", code: bookshop.Invalid, msg: "0 lines to remove"},
		{name: "a new key removes", cart: "c-7", lines: bought[:1], key: "co-3-cart", count: 0},
		{name: "an empty cart", cart: "c-8", lines: bought, key: "co-4-cart", count: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := client.RemoveLines(ctx, tc.cart, tc.lines, tc.key)
			if bookshop.ErrorCode(err) != tc.code || !strings.Contains(bookshop.ErrorMessage(err), tc.msg) || n != tc.count {
				t.Errorf("RemoveLines(%s, %v, %q) = %d, %v; want %d, code %q with %q", tc.cart, tc.lines, tc.key, n, err, tc.count, tc.code, tc.msg)
			}
		})
	}
	if n, err := client.Count(ctx, "c-7"); n != 0 || err != nil {
		t.Errorf("Count = %d, %v; want 0", n, err)
	}
}

// serveCatalogStoppable is serveCatalog, with a function that stops the
// Catalog before the test ends.
func serveCatalogStoppable(tb testing.TB) (string, func()) {
	tb.Helper()
	db, err := catalogsqlite.Open(rpctest.Context(tb), catalogsqlite.Memory, books)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := catalog.NewGRPCServer(catalog.NewService(db, "EUR", 0, nil), process.Deps{Logger: discard, DrainTimeout: time.Second, Listener: lis})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	tb.Cleanup(stop)
	return lis.Addr().String(), stop
}

func TestClientCatalogDown(t *testing.T) {
	ctx := rpctest.Context(t)
	client := newClient(t, true)
	if _, err := client.Add(ctx, "g-1", 1, 1, ""); bookshop.ErrorCode(err) != bookshop.Unavailable {
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

	// A guest adds two copies of Dune. The key, new for each addition
	// the shopper asks for, makes the call safe to retry: sent again, as
	// after a lost answer, it adds nothing.
	carts.Add(ctx, "g-3k2j9", 2, 2, "add-5Fq0")
	carts.Add(ctx, "g-3k2j9", 2, 2, "add-5Fq0")
	carts.Add(ctx, "c-42", 1, 1, "add-9Tz4") // customer 42, earlier
	m, _ := carts.Merge(ctx, "g-3k2j9", "c-42")
	for _, l := range m.Cart.Lines {
		fmt.Printf("%d × %s at %s: %s\n", l.Quantity, l.Book.Title, l.Book.Price.Format(), l.Total.Format())
	}
	fmt.Println("subtotal", m.Cart.Subtotal.Format())
	_, err := carts.Add(ctx, "c-42", 2, 9, "")
	fmt.Println(bookshop.ErrorCode(err), "-", bookshop.ErrorMessage(err))
	// Output:
	// 1 × The Maltese Falcon at €12.50: €12.50
	// 2 × Dune at €10.99: €21.98
	// subtotal €34.48
	// conflict - at most 10 copies of one book: the cart already holds 2
}
