// Package paymentsclient is the Payments service's contract in Go terms: a
// client of bookshop.payments.v1.PaymentsService that speaks the kernel's
// types ([bookshop.Payments]), converting protobuf messages and status
// codes at the edge; the rules of a card ([CheckCard]), which Payments
// charges by and the Marketplace's checkout form checks a card by before
// it is sent; the names of the card's fields in its error messages
// ([CardErrors]); and the test cards. The Checkout calls the Payments
// service through it; it imports nothing of the service's own internals.
package paymentsclient

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Payments service's gRPC port: where callers look for
// it when its host names no port.
const DefaultPort = 50100

// The states of a charge (bookshop.Charge.State).
const (
	// StateApproved is a charge that took its amount from the card.
	StateApproved = "approved"
	// StateDeclined is a charge the processor refused: it took nothing.
	StateDeclined = "declined"
	// StateRefunded is a charge whose amount was given back, whole.
	StateRefunded = "refunded"
)

// The test cards: with any expiry in the future and any CVC of 3 digits,
// the Payments service approves TestCardApproved (as any other valid
// card), declines TestCardDeclined for insufficient funds, and answers
// TestCardUnavailable as a processor that cannot be reached
// (Unavailable; nothing is charged), for fault tests.
const (
	TestCardApproved    = "4242 4242 4242 4242"
	TestCardDeclined    = "4000 0000 0000 9995"
	TestCardUnavailable = "4000 0000 0000 0119"
)

// Client is a [bookshop.Payments] that calls PaymentsService over gRPC,
// with lookups and refunds by idempotency key besides. It is safe for
// concurrent use.
type Client struct {
	client  paymentsv1.PaymentsServiceClient
	timeout time.Duration
}

var _ bookshop.Payments = (*Client)(nil)

// New returns a client that calls PaymentsService over conn. Calls whose
// context has no deadline get timeout.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: paymentsv1.NewPaymentsServiceClient(conn), timeout: timeout}
}

// Declined reports whether err, of [Client.Charge], is the decline of a
// card ("card declined: insufficient funds"), whose message may be said
// to the shopper, rather than another Conflict: a key used with another
// amount or card, or cancelled, which is a caller's mistake.
func Declined(err error) bool {
	return bookshop.ErrorCode(err) == bookshop.Conflict && strings.HasPrefix(bookshop.ErrorMessage(err), declinedPrefix)
}

// declinedPrefix begins the message of a declined card (see Declined).
const declinedPrefix = "card declined: "

// Charge implements [bookshop.Payments]: it takes amount from card, once
// for key. A retry with the same key, amount and card returns the first
// charge (or the first decline) and charges nothing; so the client's own
// retries of UNAVAILABLE, and the caller's after a lost answer, are safe.
// Errors: Invalid for a malformed key or amount, or a card that fails its
// checks, with a message that names the fields (see [CardErrors]);
// Conflict for a declined card ("card declined: insufficient funds"), a
// key used with another amount or card, or a key cancelled by
// [Client.RefundKey]; Unavailable when the processor or the service cannot
// be reached, or the deadline passed (nothing was charged, unless the
// service did it and the answer was lost: ask [Client.ChargeByKey], or
// charge again with the same key); Internal.
func (c *Client) Charge(ctx context.Context, key string, amount bookshop.Money, card bookshop.Card) (bookshop.Charge, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.Charge(ctx, &paymentsv1.ChargeRequest{IdempotencyKey: key, Amount: catalogclient.MoneyToProto(amount), Card: CardToProto(card)})
	if err != nil {
		return bookshop.Charge{}, rpc.FromStatus(err)
	}
	return ChargeFromProto(resp.GetCharge()), nil
}

// Refund implements [bookshop.Payments]: it gives charge chargeID back,
// whole. Refunding again returns the same refunded charge; a declined
// charge is returned as it is. Errors: Invalid for a malformed id;
// NotFound; Unavailable; Internal.
func (c *Client) Refund(ctx context.Context, chargeID string) (bookshop.Charge, error) {
	return c.refund(ctx, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_ChargeId{ChargeId: chargeID}})
}

// RefundKey refunds the charge made with idempotency key key, as Refund
// does. When key made no charge, it cancels the key, so that a Charge with
// it, even one in flight now, charges nothing, and answers NotFound: for a
// caller that lost track of a charge (it crashed while the Charge was in
// flight) and must make sure that no money stays taken. A declined charge
// is returned as it is. Errors: Invalid for a malformed key; NotFound (no
// money taken with key, and none will be); Unavailable; Internal.
func (c *Client) RefundKey(ctx context.Context, key string) (bookshop.Charge, error) {
	return c.refund(ctx, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_IdempotencyKey{IdempotencyKey: key}})
}

func (c *Client) refund(ctx context.Context, req *paymentsv1.RefundRequest) (bookshop.Charge, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.Refund(ctx, req)
	if err != nil {
		return bookshop.Charge{}, rpc.FromStatus(err)
	}
	return ChargeFromProto(resp.GetCharge()), nil
}

// ChargeByID returns charge id: approved, refunded or declined. Errors:
// Invalid for a malformed id; NotFound; Unavailable; Internal.
func (c *Client) ChargeByID(ctx context.Context, id string) (bookshop.Charge, error) {
	return c.get(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_ChargeId{ChargeId: id}})
}

// ChargeByKey returns the charge made with idempotency key key: approved,
// refunded or declined. Errors: Invalid for a malformed key; NotFound when
// the key made none (never used, or cancelled: no money was taken with
// it, though a Charge in flight may still take some: see RefundKey);
// Unavailable; Internal.
func (c *Client) ChargeByKey(ctx context.Context, key string) (bookshop.Charge, error) {
	return c.get(ctx, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_IdempotencyKey{IdempotencyKey: key}})
}

func (c *Client) get(ctx context.Context, req *paymentsv1.GetChargeRequest) (bookshop.Charge, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetCharge(ctx, req)
	if err != nil {
		return bookshop.Charge{}, rpc.FromStatus(err)
	}
	return ChargeFromProto(resp.GetCharge()), nil
}
