// Package cartclient is the Cart service's contract in Go terms: a client
// of bookshop.cart.v1.CartService that speaks the kernel's types
// ([bookshop.Carts]), converting protobuf messages and status codes at the
// edge. The Marketplace calls the Cart through it; it imports nothing of
// the service's own internals.
package cartclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Cart's gRPC port: where callers look for it when its
// host names no port.
const DefaultPort = 50080

// Client is a [bookshop.Carts] that calls CartService over gRPC. It is
// safe for concurrent use.
type Client struct {
	client  cartv1.CartServiceClient
	timeout time.Duration
}

var _ bookshop.Carts = (*Client)(nil)

// New returns a client that calls CartService over conn. Calls whose
// context has no deadline get timeout.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: cartv1.NewCartServiceClient(conn), timeout: timeout}
}

// Cart implements [bookshop.Carts]. A line whose book the Catalog no
// longer sells has only its Book.ID and Quantity: no title, no price, no
// total (see [Available]). Errors: Invalid, Unavailable, Internal.
func (c *Client) Cart(ctx context.Context, id string) (bookshop.Cart, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetCart(ctx, &cartv1.GetCartRequest{CartId: id})
	if err != nil {
		return bookshop.Cart{}, rpc.FromStatus(err)
	}
	return CartFromProto(resp.GetCart()), nil
}

// Lines implements [bookshop.Carts]: the lines of cart id, unpriced, each
// with its Book.ID and Quantity only, in the order the books were added.
// It works while the Catalog is down. Errors: Invalid, Unavailable,
// Internal.
func (c *Client) Lines(ctx context.Context, id string) ([]bookshop.CartLine, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetCart(ctx, &cartv1.GetCartRequest{CartId: id, Unpriced: true})
	if err != nil {
		return nil, rpc.FromStatus(err)
	}
	return CartFromProto(resp.GetCart()).Lines, nil
}

// Count implements [bookshop.Carts]; it works while the Catalog is down.
// Errors: Invalid, Unavailable, Internal.
func (c *Client) Count(ctx context.Context, id string) (int, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.CountItems(ctx, &cartv1.CountItemsRequest{CartId: id})
	if err != nil {
		return 0, rpc.FromStatus(err)
	}
	return int(resp.GetCount()), nil
}

// Add implements [bookshop.Carts], sending key as the request's
// idempotency_key: with a key, the retries of the connection (UNAVAILABLE)
// and the caller's own add at most once. Errors: Invalid, NotFound,
// Conflict (the message says which limit, or a key reused, for the
// shopper), Unavailable, Internal.
func (c *Client) Add(ctx context.Context, id string, bookID int32, quantity int, key string) (bookshop.Cart, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.AddItem(ctx, &cartv1.AddItemRequest{CartId: id, BookId: bookID, Quantity: rpc.Int32(quantity), IdempotencyKey: key})
	if err != nil {
		return bookshop.Cart{}, rpc.FromStatus(err)
	}
	return CartFromProto(resp.GetCart()), nil
}

// SetQuantity implements [bookshop.Carts]. Errors: Invalid, NotFound,
// Unavailable, Internal.
func (c *Client) SetQuantity(ctx context.Context, id string, bookID int32, quantity int) (bookshop.Cart, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.SetQuantity(ctx, &cartv1.SetQuantityRequest{CartId: id, BookId: bookID, Quantity: rpc.Int32(quantity)})
	if err != nil {
		return bookshop.Cart{}, rpc.FromStatus(err)
	}
	return CartFromProto(resp.GetCart()), nil
}

// Merge implements [bookshop.Carts]. A Cart service from before the merge
// said what did not fit reports nothing dropped or capped. Errors:
// Invalid (a malformed id, or from and into the same), Unavailable,
// Internal.
func (c *Client) Merge(ctx context.Context, from, into string) (bookshop.CartMerge, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.MergeCarts(ctx, &cartv1.MergeCartsRequest{FromCartId: from, IntoCartId: into})
	if err != nil {
		return bookshop.CartMerge{}, rpc.FromStatus(err)
	}
	return bookshop.CartMerge{
		Cart:         CartFromProto(resp.GetCart()),
		DroppedLines: max(0, int(resp.GetDroppedLines())),
		CappedLines:  max(0, int(resp.GetCappedLines())),
	}, nil
}

// RemoveLines takes the copies of lines out of cart id, at most once for
// key (required: 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_', new
// for each removal), and returns how many copies the cart holds after:
// for Checkout, which takes out what a shopper has bought. Each book's
// line loses the quantity asked for, and goes when none is left; a book
// the cart does not hold is skipped. For 24 hours, a call with the same
// key and lines removes nothing again, so that it may be retried.
// Errors: Invalid (a malformed id or key, or 0 or more than 50 lines, a
// book twice, a quantity outside 1 to 10); Conflict (the key was used for
// other lines); Forbidden (an identity the Cart does not let call it);
// Unavailable; Internal.
func (c *Client) RemoveLines(ctx context.Context, id string, lines []bookshop.StockLine, key string) (int, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.RemoveLines(ctx, &cartv1.RemoveLinesRequest{CartId: id, Lines: RemovalsToProto(lines), IdempotencyKey: key})
	if err != nil {
		return 0, rpc.FromStatus(err)
	}
	return int(resp.GetCount()), nil
}

// Available reports whether a line of a cart can be bought: whether the
// Catalog still sells its book, at a price. A line that cannot stays in
// the cart, counted in Cart.Count but not in the subtotal, until it is
// removed.
func Available(l bookshop.CartLine) bool { return l.Book.Price != (bookshop.Money{}) }
