package orders_test

import (
	"slices"
	"strings"
	"testing"

	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/orders"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicy checks who may call each method of OrdersService: Checkout
// records and nothing else; the Marketplace reads a customer's orders;
// admin everything, and alone lists everyone's and cancels; no one else,
// and no one without an identity.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), orders.Policy())
	if err != nil {
		t.Fatal(err)
	}
	desc := ordersv1.OrdersService_ServiceDesc
	want := map[string][]string{
		"CreateOrder":   {"checkout", "admin"},
		"GetOrder":      {"marketplace", "admin"},
		"ListOrders":    {"marketplace", "admin"},
		"ListAllOrders": {"admin"},
		"CancelOrder":   {"admin"},
	}
	if len(desc.Methods) != len(want) || len(desc.Streams) != 0 {
		t.Errorf("OrdersService has %d methods and %d streams; check that Policy's documentation still says who may call each", len(desc.Methods), len(desc.Streams))
	}
	for _, m := range desc.Methods {
		method := "/" + desc.ServiceName + "/" + m.MethodName
		for _, id := range []string{"", "checkout", "marketplace", "admin", "cart", "inventory", "payments", "orders", "stranger"} {
			if got, want := p.Allows(id, method), slices.Contains(want[m.MethodName], id); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, method, got, want)
			}
		}
	}
}

// TestValidators checks the rules that refuse a request before its
// handler runs.
func TestValidators(t *testing.T) {
	v := orders.Validators()
	id := orders.NewOrderID()
	for _, tc := range []struct {
		method string
		req    any
		want   string // a part of the message; "" for none
	}{
		{ordersv1.OrdersService_CreateOrder_FullMethodName, createRequest("k", 7), ""},
		{ordersv1.OrdersService_CreateOrder_FullMethodName, &ordersv1.CreateOrderRequest{IdempotencyKey: "k"}, "order is required"},
		{ordersv1.OrdersService_CreateOrder_FullMethodName, createRequest(strings.Repeat("k", 65), 7), "idempotency key"},
		{ordersv1.OrdersService_CreateOrder_FullMethodName, createRequest("k", -1), "customer id -1"},
		{ordersv1.OrdersService_GetOrder_FullMethodName, &ordersv1.GetOrderRequest{CustomerId: 7, OrderId: id}, ""},
		{ordersv1.OrdersService_GetOrder_FullMethodName, &ordersv1.GetOrderRequest{OrderId: id}, "customer id 0"},
		{ordersv1.OrdersService_GetOrder_FullMethodName, &ordersv1.GetOrderRequest{CustomerId: 7, OrderId: id + "a"}, "order id"},
		{ordersv1.OrdersService_ListOrders_FullMethodName, &ordersv1.ListOrdersRequest{CustomerId: 7}, ""},
		{ordersv1.OrdersService_ListOrders_FullMethodName, &ordersv1.ListOrdersRequest{CustomerId: 7, PageSize: 50}, ""},
		{ordersv1.OrdersService_ListOrders_FullMethodName, &ordersv1.ListOrdersRequest{CustomerId: 7, PageSize: 51}, "page size 51"},
		{ordersv1.OrdersService_ListOrders_FullMethodName, &ordersv1.ListOrdersRequest{PageSize: 5}, "customer id 0"},
		{ordersv1.OrdersService_ListAllOrders_FullMethodName, &ordersv1.ListAllOrdersRequest{PageSize: 100}, ""},
		{ordersv1.OrdersService_ListAllOrders_FullMethodName, &ordersv1.ListAllOrdersRequest{PageSize: -1}, "page size -1"},
		{ordersv1.OrdersService_CancelOrder_FullMethodName, &ordersv1.CancelOrderRequest{OrderId: id}, ""},
		{ordersv1.OrdersService_CancelOrder_FullMethodName, &ordersv1.CancelOrderRequest{}, "order id"},
	} {
		check, ok := v[tc.method]
		if !ok {
			t.Errorf("no validator for %s", tc.method)
			continue
		}
		got := check(tc.req)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("validate %s(%v) = %q, want %q", tc.method, tc.req, got, tc.want)
		}
	}
}
