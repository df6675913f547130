package orders_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
)

// createRequest returns a CreateOrderRequest of newOrder(customer) under
// key.
func createRequest(key string, customer int32) *ordersv1.CreateOrderRequest {
	return &ordersv1.CreateOrderRequest{IdempotencyKey: key, Order: ordersclient.OrderToProto(newOrder(customer))}
}

// TestServerErrors checks the status and message of each kind of bad
// request, over real gRPC, through Run.
func TestServerErrors(t *testing.T) {
	ctx := testContext(t)
	client, _ := runOrders(t, filepath.Join(t.TempDir(), "orders.db"))
	placed, err := client.CreateOrder(ctx, createRequest("k1", 7))
	if err != nil {
		t.Fatal(err)
	}
	id := placed.GetOrder().GetId()
	badTotal := createRequest("k2", 7)
	badTotal.Order.Total.Units++
	noOrder := &ordersv1.CreateOrderRequest{IdempotencyKey: "k3"}
	for _, tt := range []struct {
		name string
		call func() error
		code codes.Code
		msg  string // a part of the message
	}{
		{"an order that does not add up", func() error { _, err := client.CreateOrder(ctx, badTotal); return err },
			codes.InvalidArgument, "order: total: 34.49 EUR: want the subtotal less the discount, 34.48 EUR"},
		{"no order", func() error { _, err := client.CreateOrder(ctx, noOrder); return err },
			codes.InvalidArgument, "order is required"},
		{"no key", func() error { _, err := client.CreateOrder(ctx, createRequest("", 7)); return err },
			codes.InvalidArgument, `idempotency key "": want 1 to 64 characters`},
		{"no customer", func() error { _, err := client.CreateOrder(ctx, createRequest("k4", 0)); return err },
			codes.InvalidArgument, "customer id 0"},
		{"a key used for another order", func() error { _, err := client.CreateOrder(ctx, createRequest("k1", 8)); return err },
			codes.FailedPrecondition, `idempotency key "k1" was used for another order`},
		{"another customer's order", func() error {
			_, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: 8, OrderId: id})
			return err
		}, codes.NotFound, "no such order"},
		{"an unknown order", func() error {
			_, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: 7, OrderId: orders.NewOrderID()})
			return err
		}, codes.NotFound, "no such order"},
		{"a malformed order id", func() error {
			_, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: 7, OrderId: "42"})
			return err
		}, codes.InvalidArgument, `order id "42": want o_ and 26 characters`},
		{"a page too large", func() error {
			_, err := client.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7, PageSize: 51})
			return err
		}, codes.InvalidArgument, "page size 51: want 1 to 50"},
		{"a page token made up", func() error {
			_, err := client.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7, PageToken: "x"})
			return err
		}, codes.InvalidArgument, "page token"},
		{"a page of all too large", func() error {
			_, err := client.ListAllOrders(ctx, &ordersv1.ListAllOrdersRequest{PageSize: 101})
			return err
		}, codes.InvalidArgument, "page size 101: want 1 to 100"},
		{"cancel an unknown order", func() error {
			_, err := client.CancelOrder(ctx, &ordersv1.CancelOrderRequest{OrderId: orders.NewOrderID()})
			return err
		}, codes.NotFound, "no such order"},
	} {
		err := tt.call()
		if st := status.Convert(err); st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) {
			t.Errorf("%s: %v, want %v with %q", tt.name, err, tt.code, tt.msg)
		}
	}
	// A refused order recorded nothing.
	all, err := client.ListAllOrders(ctx, &ordersv1.ListAllOrdersRequest{})
	if err != nil || len(all.GetOrders()) != 1 {
		t.Errorf("ListAllOrders = %d orders, %v; want 1", len(all.GetOrders()), err)
	}
}

// TestServerConcurrentCreates sends the same CreateOrder 10 times at once
// over gRPC: one order, and every answer is it.
func TestServerConcurrentCreates(t *testing.T) {
	ctx := testContext(t)
	client, _ := runOrders(t, filepath.Join(t.TempDir(), "orders.db"))
	const n = 10
	var (
		wg   sync.WaitGroup
		resp = make([]*ordersv1.Order, n)
	)
	for i := range n {
		wg.Go(func() {
			r, err := client.CreateOrder(ctx, createRequest("double-click", 7))
			if err != nil {
				t.Errorf("CreateOrder #%d: %v", i, err)
			}
			resp[i] = r.GetOrder()
		})
	}
	wg.Wait()
	for i, o := range resp {
		if !proto.Equal(o, resp[0]) {
			t.Errorf("CreateOrder #%d = %v\nCreateOrder #0 = %v: want the same order", i, o, resp[0])
		}
	}
	list, err := client.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7})
	if err != nil || len(list.GetOrders()) != 1 {
		t.Errorf("ListOrders = %d orders, %v; want 1", len(list.GetOrders()), err)
	}
}

// TestRestartKeepsOrders records orders, stops the service, starts it
// again on the same file: the orders are there, whole, the keys too.
func TestRestartKeepsOrders(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "orders.db")
	client, stop := runOrders(t, path)
	var placed []*ordersv1.Order
	for i := range 5 {
		r, err := client.CreateOrder(ctx, createRequest(fmt.Sprintf("k%d", i), 7))
		if err != nil {
			t.Fatal(err)
		}
		placed = append(placed, r.GetOrder())
	}
	cancelled, err := client.CancelOrder(ctx, &ordersv1.CancelOrderRequest{OrderId: placed[2].GetId()})
	if err != nil {
		t.Fatal(err)
	}
	placed[2] = cancelled.GetOrder()
	stop()

	client, _ = runOrders(t, path)
	for i, want := range placed {
		got, err := client.GetOrder(ctx, &ordersv1.GetOrderRequest{CustomerId: 7, OrderId: want.GetId()})
		if err != nil || !proto.Equal(got.GetOrder(), want) {
			t.Errorf("after a restart, GetOrder(%s) = %v, %v\nwant %v", want.GetId(), got.GetOrder(), err, want)
		}
		again, err := client.CreateOrder(ctx, createRequest(fmt.Sprintf("k%d", i), 7))
		if err != nil || !proto.Equal(again.GetOrder(), want) {
			t.Errorf("after a restart, CreateOrder(k%d) = %v, %v\nwant the order it recorded, %v", i, again.GetOrder(), err, want)
		}
	}
	list, err := client.ListOrders(ctx, &ordersv1.ListOrdersRequest{CustomerId: 7})
	if err != nil || len(list.GetOrders()) != 5 {
		t.Errorf("after a restart, ListOrders = %d orders, %v; want 5", len(list.GetOrders()), err)
	}
}
