package grpcapi

import (
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

// validators hold rules of requests that need no data to check: ranges and
// required fields, refused before the handler runs. The domain checks its
// own rules again (it serves callers other than gRPC), and those that need
// the catalog (a category with no books, an id already taken) are only the
// domain's; the streaming handlers check their messages with the domain's
// words. Each returns a message saying what is wrong, or "".
var validators = map[string]func(req any) string{
	recommendationspb.Recommendations_Recommend_FullMethodName: func(req any) string {
		r := req.(*recommendationspb.RecommendationRequest)
		if r.GetMaxResults() < 0 {
			return "max_results must be zero or more, got " + itoa(r.GetMaxResults())
		}
		return ""
	},
	catalogv1.CatalogService_GetBook_FullMethodName: func(req any) string {
		if id := req.(*catalogv1.GetBookRequest).GetId(); id < 1 {
			return "id must be 1 or more, got " + itoa(id)
		}
		return ""
	},
	catalogv1.CatalogService_ImportBooks_FullMethodName: func(req any) string {
		if req.(*catalogv1.ImportBooksRequest).GetBook() == nil {
			return "each message of an import must hold a book"
		}
		return ""
	},
}

// validate checks req against its method's rules: INVALID_ARGUMENT with
// what is wrong, or nil.
func validate(method string, req any) error {
	check, ok := validators[method]
	if !ok {
		return nil
	}
	if msg := check(req); msg != "" {
		return status.Error(codes.InvalidArgument, msg)
	}
	return nil
}

func itoa(i int32) string {
	return strconv.Itoa(int(i))
}
