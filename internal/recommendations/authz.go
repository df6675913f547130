package recommendations

import (
	"fmt"

	"google.golang.org/grpc"

	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// identityMarketplace is the identity of the Marketplace, which calls
// Recommendations, as `bookshop certs` issues it.
const identityMarketplace = "marketplace"

// Policy returns who may call Recommendations' methods: the tutorial's
// /Recommendations/Recommend and the whole LiveRecommendationsService,
// marketplace and admin. A method added later stays closed until it is
// named here.
func Policy() rpc.Policy {
	shop := []string{identityMarketplace, rpc.IdentityAdmin}
	return rpc.Policy{
		recommendationspb.Recommendations_Recommend_FullMethodName:               shop,
		rpc.ServiceKey(recommendationsv1.LiveRecommendationsService_ServiceDesc): shop,
	}
}

// Contracts returns the gRPC services Recommendations serves, whose every
// method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{
		&recommendationspb.Recommendations_ServiceDesc,
		&recommendationsv1.LiveRecommendationsService_ServiceDesc,
	}
}

// Validators returns the rules of Recommend's requests that need no data:
// checked before the handler runs.
func Validators() rpc.Validators {
	return rpc.Validators{
		recommendationspb.Recommendations_Recommend_FullMethodName: func(req any) string {
			if n := req.(*recommendationspb.RecommendationRequest).GetMaxResults(); n < 0 {
				return fmt.Sprintf("max_results must be zero or more, got %d", n)
			}
			return ""
		},
	}
}
