// Package promotionsclient is the Promotions service's contract in Go
// terms: a client of bookshop.promotions.v1.PromotionsService that speaks
// the kernel's types ([bookshop.Promotions]), converting protobuf
// messages and status codes at the edge. The Marketplace (the banner, the
// cart's discount) and Checkout (the offer's MinBooks, the order's
// discount, and the claim of the customer's one use, refused with its
// reason) call the Promotions service through it; it imports nothing of
// the service's own internals. It also names every promotion the shop
// ran, by code ([Name]), for the pages of orders whose campaign is over,
// or while the service cannot answer.
package promotionsclient

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Promotions service's gRPC port: where callers look
// for it when its host names no port.
const DefaultPort = 50130

// Client is a [bookshop.Promotions] that calls PromotionsService over
// gRPC. It is safe for concurrent use.
type Client struct {
	client  promotionsv1.PromotionsServiceClient
	timeout time.Duration
}

var _ bookshop.Promotions = (*Client)(nil)

// New returns a client that calls PromotionsService over conn. Calls
// whose context has no deadline get timeout.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: promotionsv1.NewPromotionsServiceClient(conn), timeout: timeout}
}

// Offer implements [bookshop.Promotions]: the offer as customerID (0 for
// a guest) sees it now. Errors: Invalid (a negative id), Forbidden,
// Unavailable, Internal. A caller that shows a banner shows none on an
// error: no promotion is better than a page that fails.
func (c *Client) Offer(ctx context.Context, customerID int32) (bookshop.Offer, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetOffer(ctx, &promotionsv1.GetOfferRequest{CustomerId: customerID})
	if err != nil {
		return bookshop.Offer{}, rpc.FromStatus(err)
	}
	return OfferFromProto(resp.GetOffer()), nil
}

// Outdated reports whether err is the Promotions service's refusal of a
// call as one it does not serve to this caller: PERMISSION_DENIED (its
// policy does not name the caller's identity for the method, as a version
// from before the caller needed it) or UNIMPLEMENTED (it has no such
// method). While a deploy has reached the caller and not yet the service,
// the caller goes on as it did before it made the call, rather than as
// if Promotions were down.
func Outdated(err error) bool {
	return bookshop.ErrorCode(err) == bookshop.Forbidden || status.Code(err) == codes.Unimplemented
}

// Price implements [bookshop.Promotions]: the discount lines would get
// now, and true; false when none. Errors: Invalid (a negative id,
// malformed lines), Forbidden, Unavailable, Internal.
func (c *Client) Price(ctx context.Context, customerID int32, lines []bookshop.PromoLine) (bookshop.Discount, bool, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.PriceCart(ctx, &promotionsv1.PriceCartRequest{CustomerId: customerID, Lines: LinesToProto(lines)})
	if err != nil {
		return bookshop.Discount{}, false, rpc.FromStatus(err)
	}
	d, ok := DiscountFromProto(resp.GetDiscount())
	return d, ok, nil
}

// Claim implements [bookshop.Promotions], sending key as the request's
// idempotency_key: the retries of the connection (UNAVAILABLE) and the
// caller's own claim at most once. A refusal comes with its reason (see
// ClaimFromProto). Errors: Invalid (an id under 1, a malformed key or
// lines), Forbidden, Unavailable (the claim may or may not have been
// made: claim again with the key, or release it), Internal.
func (c *Client) Claim(ctx context.Context, customerID int32, key string, lines []bookshop.PromoLine) (bookshop.Discount, bookshop.ClaimOutcome, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.Claim(ctx, &promotionsv1.ClaimRequest{CustomerId: customerID, IdempotencyKey: key, Lines: LinesToProto(lines)})
	if err != nil {
		return bookshop.Discount{}, "", rpc.FromStatus(err)
	}
	d, outcome := ClaimFromProto(resp)
	return d, outcome, nil
}

// Confirm implements [bookshop.Promotions]. Errors: Invalid, NotFound (the
// key made no claim), Conflict (another checkout of the customer holds or
// spent the use), Forbidden, Unavailable, Internal.
func (c *Client) Confirm(ctx context.Context, customerID int32, key string) error {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.client.Confirm(ctx, &promotionsv1.ConfirmRequest{CustomerId: customerID, IdempotencyKey: key})
	return rpc.FromStatus(err)
}

// Release implements [bookshop.Promotions]: a claim held or confirmed is
// released. Errors: Invalid, Forbidden, Unavailable, Internal.
func (c *Client) Release(ctx context.Context, customerID int32, key string) error {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.client.Release(ctx, &promotionsv1.ReleaseRequest{CustomerId: customerID, IdempotencyKey: key})
	return rpc.FromStatus(err)
}
