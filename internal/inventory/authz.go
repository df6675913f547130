package inventory

import (
	"google.golang.org/grpc"

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The identities that call the Inventory, as `bookshop certs` issues
// them.
const (
	// identityCheckout is Checkout's: it reads the stock for its quotes,
	// and reserves, commits and releases as it places orders.
	identityCheckout = "checkout"
	// identityMarketplace is the Marketplace's: it reads the stock for the
	// pages' labels.
	identityMarketplace = "marketplace"
)

// Policy returns who may call which method of InventoryService: GetStock,
// checkout, marketplace and admin; Reserve, Commit and Release, checkout
// and admin; SetStock, admin alone. A method added later stays closed
// until it is named here.
func Policy() rpc.Policy {
	return rpc.Policy{
		inventoryv1.InventoryService_GetStock_FullMethodName: {identityCheckout, identityMarketplace, rpc.IdentityAdmin},
		inventoryv1.InventoryService_Reserve_FullMethodName:  {identityCheckout, rpc.IdentityAdmin},
		inventoryv1.InventoryService_Commit_FullMethodName:   {identityCheckout, rpc.IdentityAdmin},
		inventoryv1.InventoryService_Release_FullMethodName:  {identityCheckout, rpc.IdentityAdmin},
		inventoryv1.InventoryService_SetStock_FullMethodName: {rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Inventory serves, whose every
// method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&inventoryv1.InventoryService_ServiceDesc}
}

// Validators returns the rules of InventoryService's requests that need
// no data, checked before the handlers run: the domain's own (CheckKey,
// CheckLines, CheckTTL, CheckStockIDs, CheckReservationID,
// CheckSetStock), in its words.
func Validators() rpc.Validators {
	return rpc.Validators{
		inventoryv1.InventoryService_GetStock_FullMethodName: func(req any) string {
			return rpc.Check(CheckStockIDs(req.(*inventoryv1.GetStockRequest).GetBookIds()))
		},
		inventoryv1.InventoryService_Reserve_FullMethodName: func(req any) string {
			r := req.(*inventoryv1.ReserveRequest)
			_, ttlErr := ttlOf(r.GetTtl())
			return rpc.Check(CheckKey(r.GetIdempotencyKey()), CheckLines(inventoryclient.LinesFromProto(r.GetLines())), ttlErr)
		},
		inventoryv1.InventoryService_Commit_FullMethodName: func(req any) string {
			return rpc.Check(CheckReservationID(req.(*inventoryv1.CommitRequest).GetReservationId()))
		},
		inventoryv1.InventoryService_Release_FullMethodName: func(req any) string {
			return rpc.Check(CheckReservationID(req.(*inventoryv1.ReleaseRequest).GetReservationId()))
		},
		inventoryv1.InventoryService_SetStock_FullMethodName: func(req any) string {
			r := req.(*inventoryv1.SetStockRequest)
			return rpc.Check(CheckSetStock(r.GetBookId(), int(r.GetOnHand())))
		},
	}
}
