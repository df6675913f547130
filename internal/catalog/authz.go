package catalog

import (
	"fmt"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// The identities that call the Catalog, as `bookshop certs` issues them.
const (
	identityMarketplace     = "marketplace"
	identityRecommendations = "recommendations"
	identityCart            = "cart"
	identityCheckout        = "checkout"
)

// Policy returns who may call which method of CatalogService:
//
//   - GetBook and ExportBooks: marketplace, recommendations and admin;
//   - GetBooks: marketplace, cart (which prices carts with it), checkout
//     (which prices the orders it places) and admin;
//   - SearchBooks: marketplace (for its search page) and admin;
//   - WatchBooks: recommendations (which keeps the books in memory) and
//     admin;
//   - ImportBooks: admin only.
//
// A method added to the service stays closed to everyone until it is
// named here: the policy denies by default.
func Policy() rpc.Policy {
	readers := []string{identityMarketplace, identityRecommendations, rpc.IdentityAdmin}
	return rpc.Policy{
		catalogv1.CatalogService_GetBook_FullMethodName:     readers,
		catalogv1.CatalogService_GetBooks_FullMethodName:    {identityMarketplace, identityCart, identityCheckout, rpc.IdentityAdmin},
		catalogv1.CatalogService_ExportBooks_FullMethodName: readers,
		catalogv1.CatalogService_WatchBooks_FullMethodName:  {identityRecommendations, rpc.IdentityAdmin},
		catalogv1.CatalogService_ImportBooks_FullMethodName: {rpc.IdentityAdmin},
		catalogv1.CatalogService_SearchBooks_FullMethodName: {identityMarketplace, rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Catalog serves, whose every
// method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&catalogv1.CatalogService_ServiceDesc}
}

// Validators returns the rules of CatalogService's requests that need no
// data: checked before the handlers run.
func Validators() rpc.Validators {
	return rpc.Validators{
		catalogv1.CatalogService_GetBook_FullMethodName: func(req any) string {
			if id := req.(*catalogv1.GetBookRequest).GetId(); id < 1 {
				return fmt.Sprintf("id must be 1 or more, got %d", id)
			}
			return ""
		},
		catalogv1.CatalogService_GetBooks_FullMethodName: func(req any) string {
			return bookshop.ErrorMessage(CheckBookIDs(req.(*catalogv1.GetBooksRequest).GetIds()))
		},
		catalogv1.CatalogService_ImportBooks_FullMethodName: func(req any) string {
			if req.(*catalogv1.ImportBooksRequest).GetBook() == nil {
				return "each message of an import must hold a book"
			}
			return ""
		},
		catalogv1.CatalogService_SearchBooks_FullMethodName: func(req any) string {
			return bookshop.ErrorMessage(searchQuery(req.(*catalogv1.SearchBooksRequest)).Validate())
		},
	}
}
