package recommendations_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"

	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// methodsOf returns the full names of every method of the services.
func methodsOf(descs ...grpc.ServiceDesc) []string {
	var methods []string
	for _, d := range descs {
		for _, m := range d.Methods {
			methods = append(methods, "/"+d.ServiceName+"/"+m.MethodName)
		}
		for _, s := range d.Streams {
			methods = append(methods, "/"+d.ServiceName+"/"+s.StreamName)
		}
	}
	return methods
}

// TestPolicy checks who may call each method of both of Recommendations'
// services, as generated: the Marketplace and admin, and no one else. A
// method the policy does not name would be closed to everyone.
func TestPolicy(t *testing.T) {
	p := recommendations.Policy()
	merged, err := rpc.Merge(rpc.CommonPolicy(), p)
	if err != nil {
		t.Fatal(err)
	}
	methods := methodsOf(recommendationspb.Recommendations_ServiceDesc, recommendationsv1.LiveRecommendationsService_ServiceDesc)
	if len(methods) != 2 {
		t.Errorf("Recommendations serves %d methods (%v); check that Policy's documentation still says who may call each", len(methods), methods)
	}
	allowed := []string{"marketplace", "admin"}
	for _, m := range methods {
		for _, id := range []string{"", "marketplace", "admin", "recommendations", "catalog", "stranger"} {
			want := slices.Contains(allowed, id)
			if got := p.Allows(id, m); got != want {
				t.Errorf("Policy().Allows(%q, %s) = %v, want %v", id, m, got, want)
			}
			if got := merged.Allows(id, m); got != want {
				t.Errorf("merged policy Allows(%q, %s) = %v, want %v", id, m, got, want)
			}
		}
	}
	for k := range p {
		named := slices.ContainsFunc(methods, func(m string) bool {
			return m == k || strings.HasSuffix(k, "/") && strings.HasPrefix(m, k)
		})
		if !named {
			t.Errorf("Policy() names %s, which Recommendations does not serve", k)
		}
	}
}
