// Package ordersclient is the Orders service's contract in Go terms: a
// client of bookshop.orders.v1.OrdersService that speaks the kernel's
// types ([bookshop.Orders], and ListAll and Cancel besides), converting
// protobuf messages and status codes at the edge. Checkout records orders
// through it, and the Marketplace shows them; it imports nothing of the
// service's own internals.
package ordersclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Orders service's gRPC port: where callers look for it
// when its host names no port.
const DefaultPort = 50110

// Client is a [bookshop.Orders] that calls OrdersService over gRPC. It is
// safe for concurrent use.
type Client struct {
	client  ordersv1.OrdersServiceClient
	timeout time.Duration
}

var _ bookshop.Orders = (*Client)(nil)

// New returns a client that calls OrdersService over conn. Calls whose
// context has no deadline get timeout.
func New(conn grpc.ClientConnInterface, timeout time.Duration) *Client {
	return &Client{client: ordersv1.NewOrdersServiceClient(conn), timeout: timeout}
}

// Create implements [bookshop.Orders], sending key as the request's
// idempotency key (required): the same key with the same order returns the
// order it recorded, at any time later, so that a caller that never heard
// the answer may call again. order's ID, State, Created and Updated are
// ignored; a zero Discount means none. Errors: Invalid for a malformed
// key or an order that breaks a rule (the message says which); Conflict
// when the key was used for another order; Unavailable (the order may or
// may not have been recorded: call again with the key); Internal.
func (c *Client) Create(ctx context.Context, key string, order bookshop.Order) (bookshop.Order, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.CreateOrder(ctx, &ordersv1.CreateOrderRequest{IdempotencyKey: key, Order: OrderToProto(order)})
	if err != nil {
		return bookshop.Order{}, rpc.FromStatus(err)
	}
	return OrderFromProto(resp.GetOrder()), nil
}

// Order implements [bookshop.Orders]. Errors: Invalid for a customer id
// under 1 or a malformed order id; NotFound, with the same message, for an
// unknown order and another customer's; Unavailable; Internal.
func (c *Client) Order(ctx context.Context, customerID int32, id string) (bookshop.Order, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: customerID, OrderId: id})
	if err != nil {
		return bookshop.Order{}, rpc.FromStatus(err)
	}
	return OrderFromProto(resp.GetOrder()), nil
}

// List implements [bookshop.Orders]: a page of at most limit orders (1 to
// 50; 0 for 20), newest first, from page ("" for the first). Errors:
// Invalid for a customer id under 1, a limit out of range or a page token
// this customer's listing did not give; Unavailable; Internal.
func (c *Client) List(ctx context.Context, customerID int32, page string, limit int) (bookshop.OrderPage, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: customerID, PageSize: rpc.Int32(limit), PageToken: page})
	if err != nil {
		return bookshop.OrderPage{}, rpc.FromStatus(err)
	}
	return pageFromProto(resp.GetOrders(), resp.GetNextPageToken()), nil
}

// ListAll returns a page of every customer's orders, newest first: at
// most limit (1 to 100; 0 for 50), from page ("" for the first). Only
// identity admin may call it. Errors: Invalid for a limit out of range or
// a page token ListAll did not give; Forbidden; Unavailable; Internal.
func (c *Client) ListAll(ctx context.Context, page string, limit int) (bookshop.OrderPage, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.ListAllOrders(ctx, &ordersv1.ListAllOrdersRequest{PageSize: rpc.Int32(limit), PageToken: page})
	if err != nil {
		return bookshop.OrderPage{}, rpc.FromStatus(err)
	}
	return pageFromProto(resp.GetOrders(), resp.GetNextPageToken()), nil
}

// Cancel marks order id cancelled and returns it; cancelling it again
// returns it as it is. Checkout calls it for an order whose checkout it
// undoes. Errors: Invalid for a malformed id; NotFound; Forbidden;
// Unavailable (call again); Internal.
func (c *Client) Cancel(ctx context.Context, id string) (bookshop.Order, error) {
	ctx, cancel := rpc.WithDefaultTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.client.CancelOrder(ctx, &ordersv1.CancelOrderRequest{OrderId: id})
	if err != nil {
		return bookshop.Order{}, rpc.FromStatus(err)
	}
	return OrderFromProto(resp.GetOrder()), nil
}
