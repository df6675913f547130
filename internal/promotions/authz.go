package promotions

import (
	"google.golang.org/grpc"

	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// The identities that call the Promotions service, as `bookshop certs`
// issues them.
const (
	// identityMarketplace is the Marketplace's: it shows the banner
	// (GetOffer) and the cart's discount (PriceCart).
	identityMarketplace = "marketplace"
	// identityCheckout is Checkout's: it reads the offer's MinBooks
	// (GetOffer), prices an order (PriceCart) and claims, confirms and
	// releases the customer's use as it places it.
	identityCheckout = "checkout"
)

// Policy returns who may call which method of PromotionsService:
// GetOffer and PriceCart, marketplace, checkout and admin; Claim,
// Confirm and Release, checkout and admin. A method added
// later stays closed until it is named here.
func Policy() rpc.Policy {
	return rpc.Policy{
		promotionsv1.PromotionsService_GetOffer_FullMethodName:  {identityMarketplace, identityCheckout, rpc.IdentityAdmin},
		promotionsv1.PromotionsService_PriceCart_FullMethodName: {identityMarketplace, identityCheckout, rpc.IdentityAdmin},
		promotionsv1.PromotionsService_Claim_FullMethodName:     {identityCheckout, rpc.IdentityAdmin},
		promotionsv1.PromotionsService_Confirm_FullMethodName:   {identityCheckout, rpc.IdentityAdmin},
		promotionsv1.PromotionsService_Release_FullMethodName:   {identityCheckout, rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Promotions service serves,
// whose every method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&promotionsv1.PromotionsService_ServiceDesc}
}

// Validators returns the rules of PromotionsService's requests that need
// no data, checked before the handlers run: the domain's own
// (CheckShopper, CheckCustomer, CheckKey, CheckLines), in its words.
func Validators() rpc.Validators {
	return rpc.Validators{
		promotionsv1.PromotionsService_GetOffer_FullMethodName: func(req any) string {
			return rpc.Check(CheckShopper(req.(*promotionsv1.GetOfferRequest).GetCustomerId()))
		},
		promotionsv1.PromotionsService_PriceCart_FullMethodName: func(req any) string {
			r := req.(*promotionsv1.PriceCartRequest)
			return rpc.Check(CheckShopper(r.GetCustomerId()), CheckLines(promotionsclient.LinesFromProto(r.GetLines())))
		},
		promotionsv1.PromotionsService_Claim_FullMethodName: func(req any) string {
			r := req.(*promotionsv1.ClaimRequest)
			return rpc.Check(CheckCustomer(r.GetCustomerId()), CheckKey(r.GetIdempotencyKey()), CheckLines(promotionsclient.LinesFromProto(r.GetLines())))
		},
		promotionsv1.PromotionsService_Confirm_FullMethodName: func(req any) string {
			r := req.(*promotionsv1.ConfirmRequest)
			return rpc.Check(CheckCustomer(r.GetCustomerId()), CheckKey(r.GetIdempotencyKey()))
		},
		promotionsv1.PromotionsService_Release_FullMethodName: func(req any) string {
			r := req.(*promotionsv1.ReleaseRequest)
			return rpc.Check(CheckCustomer(r.GetCustomerId()), CheckKey(r.GetIdempotencyKey()))
		},
	}
}
