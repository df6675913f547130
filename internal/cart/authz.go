package cart

import (
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// identityMarketplace is the identity of the Marketplace, which calls the
// Cart for its shoppers, as `bookshop certs` issues it.
const identityMarketplace = "marketplace"

// Policy returns who may call which method of CartService: every method,
// marketplace (each is something a shopper does) and admin. A method
// added later stays closed until it is named here.
func Policy() rpc.Policy {
	return rpc.Policy{
		rpc.ServiceKey(cartv1.CartService_ServiceDesc): {identityMarketplace, rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Cart serves, whose every method
// Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&cartv1.CartService_ServiceDesc}
}

// Validators returns the rules of CartService's requests that need no
// data, checked before the handlers run: the domain's own (CheckID,
// CheckAdd, CheckKey, CheckSetQuantity), in its words.
func Validators() rpc.Validators {
	check := func(errs ...error) string {
		for _, err := range errs {
			if err != nil {
				return bookshop.ErrorMessage(err)
			}
		}
		return ""
	}
	return rpc.Validators{
		cartv1.CartService_GetCart_FullMethodName: func(req any) string {
			return check(CheckID(req.(*cartv1.GetCartRequest).GetCartId()))
		},
		cartv1.CartService_CountItems_FullMethodName: func(req any) string {
			return check(CheckID(req.(*cartv1.CountItemsRequest).GetCartId()))
		},
		cartv1.CartService_AddItem_FullMethodName: func(req any) string {
			r := req.(*cartv1.AddItemRequest)
			return check(CheckID(r.GetCartId()), CheckAdd(r.GetBookId(), int(r.GetQuantity())), CheckKey(r.GetIdempotencyKey()))
		},
		cartv1.CartService_SetQuantity_FullMethodName: func(req any) string {
			r := req.(*cartv1.SetQuantityRequest)
			return check(CheckID(r.GetCartId()), CheckSetQuantity(r.GetBookId(), int(r.GetQuantity())))
		},
		cartv1.CartService_MergeCarts_FullMethodName: func(req any) string {
			r := req.(*cartv1.MergeCartsRequest)
			return check(CheckID(r.GetFromCartId()), CheckID(r.GetIntoCartId()))
		},
	}
}
