// Package checkoutclient is the Checkout service's contract in Go terms: a
// client of bookshop.checkout.v1.CheckoutService that speaks the kernel's
// types ([bookshop.Checkout]), converting protobuf messages and status
// codes at the edge. The Marketplace places orders through it; it imports
// nothing of the service's own internals.
package checkoutclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Checkout's gRPC port: where callers look for it when
// its host names no port.
const DefaultPort = 50120

// Client is a [bookshop.Checkout] that calls CheckoutService over gRPC. It
// is safe for concurrent use.
type Client struct {
	client  checkoutv1.CheckoutServiceClient
	timeout time.Duration
}

var _ bookshop.Checkout = (*Client)(nil)

// New returns a client that calls CheckoutService over conn. Calls whose
// context has no deadline get timeout. A checkout calls five services in
// turn: give Place a deadline of a few of their call timeouts, and treat
// its Unavailable as "not known to have failed" (see [Client.Place]).
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: checkoutv1.NewCheckoutServiceClient(conn), timeout: timeout}
}

// Quote implements [bookshop.Checkout]: the cart priced from the Catalog
// now, the promotion's discount if the customer gets it, the lines the
// Inventory has too few copies for (Short), and the total to confirm. An
// empty cart has a Quote without lines, and zero amounts. Errors: Invalid
// (a customer id under 1, a malformed cart id); Forbidden; Unavailable
// (the Checkout, or a service it asks, cannot be reached); Internal.
func (c *Client) Quote(ctx context.Context, customerID int32, cartID string) (bookshop.Quote, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetQuote(ctx, &checkoutv1.GetQuoteRequest{CustomerId: customerID, CartId: cartID})
	if err != nil {
		return bookshop.Quote{}, rpc.FromStatus(err)
	}
	return QuoteFromProto(resp.GetQuote()), nil
}

// ReasonNotPlaced is the reason (bookshop.Error.Reason) of the error of a
// checkout that ended without an order: nothing is charged, whatever was
// done is undone, and the error's message says why.
const ReasonNotPlaced = "NOT_PLACED"

// NotPlaced reports whether err, of Place, is known to mean that the
// checkout ended without an order and with nothing charged.
func NotPlaced(err error) bool { return bookshop.ErrorReason(err) == ReasonNotPlaced }

// Place implements [bookshop.Checkout]: it places the order of req's cart
// and returns it. Each error's message is for the shopper:
//
//   - Invalid: a field is wrong. A card's field is named as Payments names
//     it ("card number: ...": see paymentsclient.CardErrors); an address
//     field as "shipping address: ...".
//   - Conflict: nothing was charged: the total is no longer req.Total
//     ("the total is now ...", the promotion's discount included), the
//     cart's books are not those of req.LinesDigest ("your cart changed
//     since you confirmed it: ..."), a book has too few copies left
//     ("sold out: ..."), the cart is empty, the card was declined ("card
//     declined: ..."), req.Key was used for another checkout, or another
//     key's checkout of the cart is under way or bought it meanwhile
//     ("another checkout of this cart is under way, or has just placed
//     its order: ...", "your cart
//     changed while it was checked out: ..."). The cart is as it was, but
//     for what another checkout took out of it. The next try needs a new
//     key.
//   - Unavailable: the order was not placed, or is not known to be yet (a
//     service could not be reached, or the checkout did not finish within
//     the deadline). Place again with the same req: it returns the order
//     if it was placed, waits for it if it is being placed, and tries
//     again if nothing was done. Never with a new key, which could place a
//     second order. When [NotPlaced] reports true, the checkout is known
//     to have ended without an order, nothing charged (or the charge
//     refunded), and the message says why, for the shopper ("the payment
//     service could not take your payment: nothing was charged; ...");
//     otherwise its outcome is not known.
//   - Forbidden, Internal.
func (c *Client) Place(ctx context.Context, req bookshop.PlaceOrder) (bookshop.Order, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.PlaceOrder(ctx, PlaceOrderToProto(req))
	if err != nil {
		return bookshop.Order{}, rpc.FromStatus(err)
	}
	return OrderFromProto(resp.GetOrder()), nil
}
