package cart_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/cart"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/rpctest"
)

// price is the price of book id in the Catalog of most tests: every book
// its own, so that a price can only have come from the right book.
func price(id int32) bookshop.Money { return eur(int64(id)*100 + 99) }

// money is the message of a price.
func money(m bookshop.Money) *moneyv1.Money {
	return &moneyv1.Money{Units: m.Units, Currency: m.Currency}
}

// line is the message of a line of book id, priced by price.
func line(id int32, quantity int32, price func(int32) bookshop.Money) *cartv1.CartLine {
	p := price(id)
	return &cartv1.CartLine{
		BookId: id, Title: "Book " + itoa(id), Author: "Author " + itoa(id),
		UnitPrice: money(p), Quantity: quantity, LineTotal: money(eur(p.Units * int64(quantity))), Available: true,
	}
}

func itoa(id int32) string { return strconv.Itoa(int(id)) }

// wantCart fails the test unless got is want.
func wantCart(tb testing.TB, call string, got, want *cartv1.Cart) {
	tb.Helper()
	if !proto.Equal(got, want) {
		tb.Errorf("%s = %v,\nwant %v", call, got, want)
	}
}

// wantCode fails the test unless err has code, and a message with part.
func wantCode(tb testing.TB, call string, err error, code codes.Code, part string) {
	tb.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), part) {
		tb.Errorf("%s: %v, want %v with %q", call, err, code, part)
	}
}

// TestPricesFromTheCatalog adds books and reads the cart: every title,
// price, line total and the subtotal are the Catalog's, for a request
// carries no price.
func TestPricesFromTheCatalog(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(20, price))
	client, _ := runCart(t, ":memory:", catalogAddr)

	resp, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "g-x", BookId: 7, Quantity: 2})
	if err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	wantCart(t, "AddItem(7, 2)", resp.GetCart(), &cartv1.Cart{
		Id: "g-x", Lines: []*cartv1.CartLine{line(7, 2, price)}, Count: 2, Subtotal: money(eur(1598)),
	})
	if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "g-x", BookId: 12, Quantity: 1}); err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "g-x", BookId: 7, Quantity: 1}); err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	got, err := client.GetCart(ctx, &cartv1.GetCartRequest{CartId: "g-x"})
	if err != nil {
		t.Fatalf("GetCart: %v", err)
	}
	// 3 × 7.99 + 12.99 = 36.96
	wantCart(t, "GetCart", got.GetCart(), &cartv1.Cart{
		Id: "g-x", Lines: []*cartv1.CartLine{line(7, 3, price), line(12, 1, price)}, Count: 4, Subtotal: money(eur(3696)),
	})

	set, err := client.SetQuantity(ctx, &cartv1.SetQuantityRequest{CartId: "g-x", BookId: 7, Quantity: 0})
	if err != nil {
		t.Fatalf("SetQuantity: %v", err)
	}
	wantCart(t, "SetQuantity(7, 0)", set.GetCart(), &cartv1.Cart{
		Id: "g-x", Lines: []*cartv1.CartLine{line(12, 1, price)}, Count: 1, Subtotal: money(eur(1299)),
	})

	empty, err := client.GetCart(ctx, &cartv1.GetCartRequest{CartId: "g-nobody"})
	if err != nil {
		t.Fatalf("GetCart(an unknown cart): %v", err)
	}
	wantCart(t, "GetCart(an unknown cart)", empty.GetCart(), &cartv1.Cart{Id: "g-nobody"})
}

// TestCatalogDown stops the Catalog, then serves another at its address
// whose prices have changed and which lacks a book: while it is down,
// what needs prices is UNAVAILABLE and changes nothing, while counts still
// work; once it is back, the cart has the new prices. The Cart keeps no
// books here (-catalog-cache 0): see TestCatalogDownCached for what it
// does with them.
func TestCatalogDown(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, stopCatalog := serveCatalog(t, "127.0.0.1:0", catalogBooks(20, price))
	client, _ := runCartCaching(t, ":memory:", catalogAddr, 0)
	for _, id := range []int32{3, 9} {
		if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: id, Quantity: 2}); err != nil {
			t.Fatalf("AddItem(%d): %v", id, err)
		}
	}

	stopCatalog()
	_, err := client.GetCart(ctx, &cartv1.GetCartRequest{CartId: "c-1"})
	wantCode(t, "GetCart, the Catalog down", err, codes.Unavailable, "catalog")
	_, err = client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 3, Quantity: 1})
	wantCode(t, "AddItem, the Catalog down", err, codes.Unavailable, "catalog")
	_, err = client.SetQuantity(ctx, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 9, Quantity: 0})
	wantCode(t, "SetQuantity, the Catalog down", err, codes.Unavailable, "catalog")
	n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "c-1"})
	if err != nil || n.GetCount() != 4 {
		t.Errorf("CountItems, the Catalog down = %v, %v; want 4: nothing changed", n, err)
	}
	unpriced, err := client.GetCart(ctx, &cartv1.GetCartRequest{CartId: "c-1", Unpriced: true})
	if err != nil {
		t.Fatalf("GetCart, unpriced, the Catalog down: %v", err)
	}
	var lines []string
	for _, l := range unpriced.GetCart().GetLines() {
		if l.GetTitle() != "" || l.GetUnitPrice() != nil || l.GetLineTotal() != nil || l.GetAvailable() {
			t.Errorf("GetCart, unpriced: line %v has more than its book id and quantity", l)
		}
		lines = append(lines, fmt.Sprintf("%d×%d", l.GetBookId(), l.GetQuantity()))
	}
	if want := []string{"3×2", "9×2"}; !slices.Equal(lines, want) || unpriced.GetCart().GetSubtotal() != nil || unpriced.GetCart().GetCount() != 4 {
		t.Errorf("GetCart, unpriced, the Catalog down = lines %v, count %d, subtotal %v; want %v, 4, none", lines, unpriced.GetCart().GetCount(), unpriced.GetCart().GetSubtotal(), want)
	}

	// The new Catalog: every price doubled, book 9 gone.
	doubled := func(id int32) bookshop.Money { return eur(2 * price(id).Units) }
	serveCatalog(t, catalogAddr, catalogBooks(8, doubled))
	var got *cartv1.GetCartResponse
	for deadline := time.Now().Add(8 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if got, err = client.GetCart(ctx, &cartv1.GetCartRequest{CartId: "c-1"}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("GetCart once the Catalog is back: %v", err)
	}
	wantCart(t, "GetCart, new prices", got.GetCart(), &cartv1.Cart{
		Id: "c-1",
		Lines: []*cartv1.CartLine{
			line(3, 2, doubled),
			{BookId: 9, Quantity: 2}, // no longer sold: kept, out of the subtotal
		},
		Count:    4,
		Subtotal: money(eur(2 * 2 * 399)),
	})
	// Book 9 can no longer be added, but its line can be removed.
	_, err = client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 9, Quantity: 1})
	wantCode(t, "AddItem(a book the Catalog lacks)", err, codes.NotFound, "book 9 is not in the catalog")
	set, err := client.SetQuantity(ctx, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 9, Quantity: 0})
	if err != nil {
		t.Fatalf("SetQuantity(9, 0): %v", err)
	}
	wantCart(t, "SetQuantity(9, 0)", set.GetCart(), &cartv1.Cart{
		Id: "c-1", Lines: []*cartv1.CartLine{line(3, 2, doubled)}, Count: 2, Subtotal: money(eur(2 * 2 * 399)),
	})
}

// TestCatalogDownNotRetried has a client with Bookshop's settings (the
// Marketplace's, which retry UNAVAILABLE) add a book while the Catalog
// cannot be reached: the Cart, which asked the Catalog through retries of
// its own, says not to retry its answer (bookshop.Error.Final), and
// serves the call once, not three times (each of which asked the Catalog
// three times).
func TestCatalogDownNotRetried(t *testing.T) {
	ctx := testContext(t)
	cfg := cart.DefaultConfig()
	cfg.DB, cfg.CatalogHost = ":memory:", rpctest.ClosedAddr(t)
	var calls rpctest.Calls
	addr, _ := serveCart(t, cfg, slog.New(&calls))
	conn, err := rpc.Dial(addr, rpc.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_, err = cartv1.NewCartServiceClient(conn).AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 3, Quantity: 1})
	wantCode(t, "AddItem, the Catalog down", err, codes.Unavailable, "catalog")
	if n := calls.Of(cartv1.CartService_AddItem_FullMethodName); n != 1 {
		t.Errorf("the Cart served AddItem %d times, want once", n)
	}
}

// TestCatalogDownCached stops the Catalog of a Cart that keeps the books
// it priced (as it does by default): the books it priced lately still
// price carts, and a change that needs another book is UNAVAILABLE and
// changes nothing.
func TestCatalogDownCached(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, stopCatalog := serveCatalog(t, "127.0.0.1:0", catalogBooks(20, price))
	client, _ := runCart(t, ":memory:", catalogAddr)
	for _, id := range []int32{3, 9} {
		if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: id, Quantity: 2}); err != nil {
			t.Fatalf("AddItem(%d): %v", id, err)
		}
	}
	stopCatalog()
	got, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 3, Quantity: 1})
	if err != nil {
		t.Fatalf("AddItem of a book priced lately, the Catalog down: %v", err)
	}
	wantCart(t, "AddItem(3, 1), the Catalog down", got.GetCart(), &cartv1.Cart{
		Id: "c-1", Lines: []*cartv1.CartLine{line(3, 3, price), line(9, 2, price)}, Count: 5, Subtotal: money(eur(3*399 + 2*price(9).Units)),
	})
	_, err = client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 4, Quantity: 1})
	wantCode(t, "AddItem of a book not priced yet, the Catalog down", err, codes.Unavailable, "catalog")
	n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "c-1"})
	if err != nil || n.GetCount() != 5 {
		t.Errorf("CountItems = %v, %v; want 5: the refused change changed nothing", n, err)
	}
}

// TestCountWithoutACatalog runs a Cart whose Catalog never answers: it
// serves, and counts.
func TestCountWithoutACatalog(t *testing.T) {
	client, _ := runCart(t, ":memory:", rpctest.ClosedAddr(t))
	n, err := client.CountItems(testContext(t), &cartv1.CountItemsRequest{CartId: "g-a"})
	if err != nil || n.GetCount() != 0 {
		t.Errorf("CountItems = %v, %v; want 0", n, err)
	}
	_, err = client.GetCart(testContext(t), &cartv1.GetCartRequest{CartId: "g-a"})
	if err != nil {
		t.Errorf("GetCart(an empty cart) = %v: an empty cart needs no prices", err)
	}
}

func TestLimits(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(60, price))
	client, _ := runCart(t, ":memory:", catalogAddr)
	add := func(cart string, book, quantity int32) error {
		_, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: cart, BookId: book, Quantity: quantity})
		return err
	}
	if err := add("g-1", 1, 8); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "AddItem(8 + 3 copies)", add("g-1", 1, 3), codes.FailedPrecondition, "at most 10 copies of one book")
	if err := add("g-1", 1, 2); err != nil {
		t.Errorf("AddItem(8 + 2 copies): %v", err)
	}
	wantCode(t, "AddItem(11 copies)", add("g-2", 1, 11), codes.FailedPrecondition, "at most 10 copies of one book")
	for id := int32(1); id <= 50; id++ {
		if err := add("g-3", id, 1); err != nil {
			t.Fatalf("AddItem(book %d): %v", id, err)
		}
	}
	wantCode(t, "AddItem(a 51st book)", add("g-3", 51, 1), codes.FailedPrecondition, "a cart holds at most 50 different books")
	n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "g-3"})
	if err != nil || n.GetCount() != 50 {
		t.Errorf("CountItems = %v, %v; want 50", n, err)
	}

	// Two Adds at once cannot pass a limit together: 20 Adds of one copy,
	// from 20 goroutines, leave 10.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := add("g-4", 2, 1); err != nil && status.Code(err) != codes.FailedPrecondition {
				t.Errorf("AddItem: %v", err)
			}
		})
	}
	wg.Wait()
	if n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "g-4"}); err != nil || n.GetCount() != 10 {
		t.Errorf("CountItems after 20 concurrent Adds = %v, %v; want 10", n, err)
	}
}

// TestBadRequests checks what each call refuses, and with which code.
func TestBadRequests(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(5, price))
	client, _ := runCart(t, ":memory:", catalogAddr)
	if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code codes.Code
		part string
	}{
		{"GetCart, no id", func() error { _, err := client.GetCart(ctx, &cartv1.GetCartRequest{}); return err }, codes.InvalidArgument, "cart id"},
		{"GetCart, a long id", func() error {
			_, err := client.GetCart(ctx, &cartv1.GetCartRequest{CartId: strings.Repeat("g", 65)})
			return err
		}, codes.InvalidArgument, "1 to 64 characters"},
		{"CountItems, a bad id", func() error {
			_, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "g-<script>"})
			return err
		}, codes.InvalidArgument, "only letters"},
		{"AddItem, 0 copies", func() error {
			_, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1})
			return err
		}, codes.InvalidArgument, "add 1 or more copies"},
		{"AddItem, book 0", func() error {
			_, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", Quantity: 1})
			return err
		}, codes.InvalidArgument, "book id 0"},
		{"AddItem, an unknown book", func() error {
			_, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "c-1", BookId: 99, Quantity: 1})
			return err
		}, codes.NotFound, "book 99 is not in the catalog"},
		{"SetQuantity, 11", func() error {
			_, err := client.SetQuantity(ctx, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 1, Quantity: 11})
			return err
		}, codes.InvalidArgument, "want 0 (to remove the book) to 10"},
		{"SetQuantity, a book the cart lacks", func() error {
			_, err := client.SetQuantity(ctx, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 2, Quantity: 1})
			return err
		}, codes.NotFound, "the cart holds no copy of book 2"},
		{"MergeCarts, into itself", func() error {
			_, err := client.MergeCarts(ctx, &cartv1.MergeCartsRequest{FromCartId: "c-1", IntoCartId: "c-1"})
			return err
		}, codes.InvalidArgument, "into itself"},
		{"MergeCarts, no from", func() error {
			_, err := client.MergeCarts(ctx, &cartv1.MergeCartsRequest{IntoCartId: "c-1"})
			return err
		}, codes.InvalidArgument, "cart id"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.name, tc.call(), tc.code, tc.part) })
	}
	// None of them changed the cart.
	if n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "c-1"}); err != nil || n.GetCount() != 1 {
		t.Errorf("CountItems = %v, %v; want 1", n, err)
	}
}

// TestAddItemWithAKey sends AddItem with an idempotency key over gRPC:
// the same request again (a retry) adds nothing and answers the cart; the
// key reused for another book is refused; a malformed key is refused by
// the request's rules.
func TestAddItemWithAKey(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(5, price))
	client, _ := runCart(t, ":memory:", catalogAddr)
	req := &cartv1.AddItemRequest{CartId: "g-k", BookId: 2, Quantity: 3, IdempotencyKey: "2f9c1e7a-add"}
	want := &cartv1.Cart{Id: "g-k", Lines: []*cartv1.CartLine{line(2, 3, price)}, Count: 3, Subtotal: money(eur(3 * 299))}
	for _, call := range []string{"AddItem", "AddItem again"} {
		resp, err := client.AddItem(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", call, err)
		}
		wantCart(t, call, resp.GetCart(), want)
	}
	_, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "g-k", BookId: 3, Quantity: 3, IdempotencyKey: "2f9c1e7a-add"})
	wantCode(t, "AddItem(the key, another book)", err, codes.FailedPrecondition, "was used on this cart to add 3 of book 2")
	_, err = client.AddItem(ctx, &cartv1.AddItemRequest{CartId: "g-k", BookId: 3, Quantity: 1, IdempotencyKey: "no spaces"})
	wantCode(t, "AddItem(a malformed key)", err, codes.InvalidArgument, "idempotency key")
	if n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "g-k"}); err != nil || n.GetCount() != 3 {
		t.Errorf("CountItems = %v, %v; want 3", n, err)
	}
}

// TestMergeAtSignIn merges a guest's cart into a customer's, as the
// Marketplace does when the guest signs in.
func TestMergeAtSignIn(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(60, price))
	client, _ := runCart(t, ":memory:", catalogAddr)
	add := func(cart string, book, quantity int32) {
		t.Helper()
		if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: cart, BookId: book, Quantity: quantity}); err != nil {
			t.Fatalf("AddItem(%s, %d, %d): %v", cart, book, quantity, err)
		}
	}
	add("c-42", 5, 7)
	add("c-42", 6, 1)
	add("g-guest", 7, 2)
	add("g-guest", 5, 6) // 7 + 6: capped at 10
	merge := func() *cartv1.MergeCartsResponse {
		t.Helper()
		resp, err := client.MergeCarts(ctx, &cartv1.MergeCartsRequest{FromCartId: "g-guest", IntoCartId: "c-42"})
		if err != nil {
			t.Fatalf("MergeCarts: %v", err)
		}
		return resp
	}
	want := &cartv1.Cart{
		Id:       "c-42",
		Lines:    []*cartv1.CartLine{line(5, 10, price), line(6, 1, price), line(7, 2, price)},
		Count:    13,
		Subtotal: money(eur(10*599 + 699 + 2*799)),
	}
	resp := merge()
	wantCart(t, "MergeCarts", resp.GetCart(), want)
	if d, c := resp.GetDroppedLines(), resp.GetCappedLines(); d != 0 || c != 1 {
		t.Errorf("MergeCarts: %d lines dropped, %d capped; want 0 and 1 (book 5)", d, c)
	}
	if n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "g-guest"}); err != nil || n.GetCount() != 0 {
		t.Errorf("CountItems(the guest's cart) after the merge = %v, %v; want 0", n, err)
	}
	// Merging again, as a retry would, changes nothing, and drops and
	// caps nothing.
	resp = merge()
	wantCart(t, "MergeCarts again", resp.GetCart(), want)
	if d, c := resp.GetDroppedLines(), resp.GetCappedLines(); d != 0 || c != 0 {
		t.Errorf("MergeCarts again: %d lines dropped, %d capped; want 0 and 0", d, c)
	}

	// A guest's 50 books (1 to 50) into a customer's 45 (11 to 55): the
	// 40 in both get a copy more, and 5 of the others fit.
	for id := int32(11); id <= 55; id++ {
		add("c-7", id, 1)
	}
	for id := int32(1); id <= 50; id++ {
		add("g-big", id, 1)
	}
	resp, err := client.MergeCarts(ctx, &cartv1.MergeCartsRequest{FromCartId: "g-big", IntoCartId: "c-7"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetCart(); len(got.GetLines()) != 50 || got.GetCount() != 45+40+5 || got.GetLines()[45].GetBookId() != 1 || got.GetLines()[49].GetBookId() != 5 {
		t.Errorf("MergeCarts(50 books into 45) = %d lines, %d copies, lines 46 to 50 %v; want 50 lines (45 + books 1 to 5), 90 copies", len(got.GetLines()), got.GetCount(), got.GetLines()[45:])
	}
	// Books 6 to 10 did not fit: the answer says so, for the shopper.
	if d, c := resp.GetDroppedLines(), resp.GetCappedLines(); d != 5 || c != 0 {
		t.Errorf("MergeCarts(50 books into 45): %d lines dropped, %d capped; want 5 and 0", d, c)
	}
}

// TestSurvivesRestart runs the Cart, fills carts, stops it and runs it
// again over the same database file: the carts are as they were.
func TestSurvivesRestart(t *testing.T) {
	ctx := testContext(t)
	catalogAddr, _ := serveCatalog(t, "127.0.0.1:0", catalogBooks(10, price))
	db := filepath.Join(t.TempDir(), "cart.db")
	client, stop := runCart(t, db, catalogAddr)
	for _, a := range []struct {
		cart     string
		book, qt int32
	}{{"g-x", 4, 1}, {"c-1", 2, 3}, {"g-x", 1, 2}, {"g-x", 4, 2}} {
		if _, err := client.AddItem(ctx, &cartv1.AddItemRequest{CartId: a.cart, BookId: a.book, Quantity: a.qt}); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	client, _ = runCart(t, db, catalogAddr)
	got, err := client.GetCart(ctx, &cartv1.GetCartRequest{CartId: "g-x"})
	if err != nil {
		t.Fatal(err)
	}
	wantCart(t, "GetCart(g-x) after a restart", got.GetCart(), &cartv1.Cart{
		Id: "g-x", Lines: []*cartv1.CartLine{line(4, 3, price), line(1, 2, price)}, Count: 5, Subtotal: money(eur(3*499 + 2*199)),
	})
	if n, err := client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: "c-1"}); err != nil || n.GetCount() != 3 {
		t.Errorf("CountItems(c-1) after a restart = %v, %v; want 3", n, err)
	}
}
