package orders

import (
	"google.golang.org/grpc"

	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The identities that call the Orders service, as `bookshop certs` issues
// them.
const (
	// identityCheckout is Checkout's, which records the orders it places.
	identityCheckout = "checkout"
	// identityMarketplace is the Marketplace's, which shows a customer
	// their orders.
	identityMarketplace = "marketplace"
)

// Policy returns who may call which method of OrdersService: Checkout
// records orders (CreateOrder) and nothing else; the Marketplace shows a
// customer an order or their list (GetOrder, ListOrders); admin may call
// every method, and is alone in listing every customer's orders
// (ListAllOrders) and in cancelling one (CancelOrder). A method added to
// the service stays closed to everyone until it is named here: the policy
// denies by default.
func Policy() rpc.Policy {
	return rpc.Policy{
		ordersv1.OrdersService_CreateOrder_FullMethodName:   {identityCheckout, rpc.IdentityAdmin},
		ordersv1.OrdersService_GetOrder_FullMethodName:      {identityMarketplace, rpc.IdentityAdmin},
		ordersv1.OrdersService_ListOrders_FullMethodName:    {identityMarketplace, rpc.IdentityAdmin},
		ordersv1.OrdersService_ListAllOrders_FullMethodName: {rpc.IdentityAdmin},
		ordersv1.OrdersService_CancelOrder_FullMethodName:   {rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Orders service serves, whose
// every method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&ordersv1.OrdersService_ServiceDesc}
}

// Validators returns the rules of OrdersService's requests that need no
// data, checked before the handlers run: the ids, the key and the page
// sizes, in the domain's words (CheckCustomerID, CheckOrderID, CheckKey,
// CheckPageSize). The rules of an order itself are the Service's
// (Checked), which names the field at fault.
func Validators() rpc.Validators {
	return rpc.Validators{
		ordersv1.OrdersService_CreateOrder_FullMethodName: func(req any) string {
			r := req.(*ordersv1.CreateOrderRequest)
			if r.GetOrder() == nil {
				return "order is required"
			}
			return rpc.Check(CheckKey(r.GetIdempotencyKey()), CheckCustomerID(r.GetOrder().GetCustomerId()))
		},
		ordersv1.OrdersService_GetOrder_FullMethodName: func(req any) string {
			r := req.(*ordersv1.GetOrderRequest)
			return rpc.Check(CheckCustomerID(r.GetCustomerId()), CheckOrderID(r.GetOrderId()))
		},
		ordersv1.OrdersService_ListOrders_FullMethodName: func(req any) string {
			r := req.(*ordersv1.ListOrdersRequest)
			return rpc.Check(CheckCustomerID(r.GetCustomerId()), CheckPageSize(int(r.GetPageSize()), MaxPageSize))
		},
		ordersv1.OrdersService_ListAllOrders_FullMethodName: func(req any) string {
			return rpc.Check(CheckPageSize(int(req.(*ordersv1.ListAllOrdersRequest).GetPageSize()), MaxAllPageSize))
		},
		ordersv1.OrdersService_CancelOrder_FullMethodName: func(req any) string {
			return rpc.Check(CheckOrderID(req.(*ordersv1.CancelOrderRequest).GetOrderId()))
		},
	}
}
