package cart

import (
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The identities that call the Cart, as `bookshop certs` issues them: the
// Marketplace, for its shoppers, and Checkout, which reads the cart it
// sells and takes out what was bought.
const (
	identityMarketplace = "marketplace"
	identityCheckout    = "checkout"
)

// Policy returns who may call which method of CartService: every method
// but RemoveLines, marketplace (each is something a shopper does) and
// admin; GetCart, checkout too; RemoveLines, checkout (which takes out
// what a shopper bought) and admin. A method added later stays closed
// until it is named here.
func Policy() rpc.Policy {
	return rpc.Policy{
		rpc.ServiceKey(cartv1.CartService_ServiceDesc): {identityMarketplace, rpc.IdentityAdmin},
		cartv1.CartService_GetCart_FullMethodName:      {identityMarketplace, identityCheckout, rpc.IdentityAdmin},
		cartv1.CartService_RemoveLines_FullMethodName:  {identityCheckout, rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Cart serves, whose every method
// Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&cartv1.CartService_ServiceDesc}
}

// Validators returns the rules of CartService's requests that need no
// data, checked before the handlers run: the domain's own (CheckID,
// CheckAdd, CheckKey, CheckSetQuantity, CheckRemove), in its words.
func Validators() rpc.Validators {
	return rpc.Validators{
		cartv1.CartService_GetCart_FullMethodName: func(req any) string {
			return rpc.Check(CheckID(req.(*cartv1.GetCartRequest).GetCartId()))
		},
		cartv1.CartService_CountItems_FullMethodName: func(req any) string {
			return rpc.Check(CheckID(req.(*cartv1.CountItemsRequest).GetCartId()))
		},
		cartv1.CartService_AddItem_FullMethodName: func(req any) string {
			r := req.(*cartv1.AddItemRequest)
			return rpc.Check(CheckID(r.GetCartId()), CheckAdd(r.GetBookId(), int(r.GetQuantity())), CheckKey(r.GetIdempotencyKey()))
		},
		cartv1.CartService_SetQuantity_FullMethodName: func(req any) string {
			r := req.(*cartv1.SetQuantityRequest)
			return rpc.Check(CheckID(r.GetCartId()), CheckSetQuantity(r.GetBookId(), int(r.GetQuantity())))
		},
		cartv1.CartService_RemoveLines_FullMethodName: func(req any) string {
			r := req.(*cartv1.RemoveLinesRequest)
			key := r.GetIdempotencyKey()
			if key == "" {
				return "an idempotency key is required to remove lines"
			}
			return rpc.Check(CheckID(r.GetCartId()), CheckKey(key), CheckRemove(cartclient.RemovalsFromProto(r.GetLines())))
		},
		cartv1.CartService_MergeCarts_FullMethodName: func(req any) string {
			r := req.(*cartv1.MergeCartsRequest)
			return rpc.Check(CheckID(r.GetFromCartId()), CheckID(r.GetIntoCartId()))
		},
	}
}
