package checkout

import (
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Identity is the identity the Checkout presents when it calls the Cart,
// the Catalog, the Inventory, Payments, Orders and Promotions, as
// `bookshop certs` issues it: their policies name it.
const Identity = "checkout"

// identityMarketplace is the identity of the Marketplace, which checks
// its shoppers out.
const identityMarketplace = "marketplace"

// Policy returns who may call which method of CheckoutService: both,
// GetQuote and PlaceOrder, marketplace (each is something a shopper does)
// and admin. A method added later stays closed until it is named here.
func Policy() rpc.Policy {
	return rpc.Policy{
		rpc.ServiceKey(checkoutv1.CheckoutService_ServiceDesc): {identityMarketplace, rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Checkout serves, whose every
// method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&checkoutv1.CheckoutService_ServiceDesc}
}

// Validators returns the rules of CheckoutService's requests that need no
// data, checked before the handlers run: the domain's own (CheckCustomer,
// CheckCartID, CheckPlace), in its words.
func Validators() rpc.Validators {
	return rpc.Validators{
		checkoutv1.CheckoutService_GetQuote_FullMethodName: func(req any) string {
			r := req.(*checkoutv1.GetQuoteRequest)
			return rpc.Check(CheckCustomer(r.GetCustomerId()), CheckCartID(r.GetCartId()))
		},
		checkoutv1.CheckoutService_PlaceOrder_FullMethodName: func(req any) string {
			return rpc.Check(CheckPlace(checkoutclient.PlaceOrderFromProto(req.(*checkoutv1.PlaceOrderRequest))))
		},
	}
}
