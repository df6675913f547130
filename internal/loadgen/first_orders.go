package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// FirstOrders is the target of purchases placed through the Checkout's
// contract, each by a customer who never ordered before: every call is
// the first order of a new customer id, so that, with three copies or
// more, each order earns the shop's promotion, whose claim the Checkout
// makes and confirms (the costliest path of a checkout; the Marketplace's
// customers, who sign up, would spend their one use at their first
// order). A call is three calls, on plain connections:
//
//  1. CartService/AddItem at the Cart: copies of the book, to the new
//     customer's cart ("c-" and the id);
//  2. CheckoutService/GetQuote at the Checkout: the total to confirm;
//  3. CheckoutService/PlaceOrder at the Checkout, that total, an address
//     and the approved test card (paymentsclient.TestCardApproved).
//
// The customer ids start at a random point of the upper half of the int32
// range, one more each call, so that runs one after the other (or against
// two Checkouts sharing the same Promotions) do not share customers.
type FirstOrders struct {
	carts, checkouts grpcConns
	book, copies     int32
	next             atomic.Int32 // the last customer id used
}

// NewFirstOrders returns a FirstOrders target of the Cart at cart and the
// Checkout at checkout, each purchase copies of book.
func NewFirstOrders(cart, checkout GRPCConfig, book, copies int32) (*FirstOrders, error) {
	if book < 1 || copies < 1 {
		return nil, fmt.Errorf("book %d, %d copies: want a book id and copies from 1", book, copies)
	}
	carts, err := dialGRPC(cart)
	if err != nil {
		return nil, err
	}
	checkouts, err := dialGRPC(checkout)
	if err != nil {
		carts.Close()
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	t := &FirstOrders{carts: carts, checkouts: checkouts, book: book, copies: copies}
	// From 2^30 to 2^30 + 2^29: room for half a billion calls.
	t.next.Store(1<<30 + int32(binary.LittleEndian.Uint32(b[:])%(1<<29)))
	return t, nil
}

// Worker implements [Target].
func (t *FirstOrders) Worker(_ context.Context, i int) (Worker, error) {
	return &firstOrderWorker{
		t:        t,
		cart:     cartv1.NewCartServiceClient(t.carts.conn(i)),
		checkout: checkoutv1.NewCheckoutServiceClient(t.checkouts.conn(i)),
	}, nil
}

// Close implements [Target].
func (t *FirstOrders) Close() error { return errors.Join(t.carts.Close(), t.checkouts.Close()) }

type firstOrderWorker struct {
	t        *FirstOrders
	cart     cartv1.CartServiceClient
	checkout checkoutv1.CheckoutServiceClient
}

// The address and card of every first order.
var (
	firstOrderAddress = &ordersv1.Address{Name: "Load Tester", Line1: "1 Load Street", City: "Berlin", PostalCode: "10115", CountryCode: "DE"}
	firstOrderCard    = &paymentsv1.Card{Number: paymentsclient.TestCardApproved, ExpMonth: 12, ExpYear: 2040, Cvc: "123", Name: "Load Tester"}
)

func (w *firstOrderWorker) Call(ctx context.Context) (int, error) {
	customer := w.t.next.Add(1)
	cartID := "c-" + strconv.Itoa(int(customer))
	if _, err := w.cart.AddItem(ctx, &cartv1.AddItemRequest{CartId: cartID, BookId: w.t.book, Quantity: w.t.copies}); err != nil {
		return 0, fmt.Errorf("AddItem: %w", err)
	}
	q, err := w.checkout.GetQuote(ctx, &checkoutv1.GetQuoteRequest{CustomerId: customer, CartId: cartID})
	if err != nil {
		return 0, fmt.Errorf("GetQuote: %w", err)
	}
	_, err = w.checkout.PlaceOrder(ctx, &checkoutv1.PlaceOrderRequest{
		IdempotencyKey: rand.Text(), CustomerId: customer, CartId: cartID, Total: q.GetQuote().GetTotal(),
		ShippingAddress: firstOrderAddress, Card: firstOrderCard,
	})
	if err != nil {
		return 0, fmt.Errorf("PlaceOrder: %w", err)
	}
	return 1, nil
}

func (*firstOrderWorker) Close() error { return nil }
