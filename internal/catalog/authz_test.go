package catalog_test

import (
	"slices"
	"testing"

	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicyNamesEveryMethod checks that every method of CatalogService,
// as generated, has an entry of its own in Policy: the policy denies what
// it does not name, so a method left out would be closed to everyone.
func TestPolicyNamesEveryMethod(t *testing.T) {
	p := catalog.Policy()
	desc := catalogv1.CatalogService_ServiceDesc
	var methods []string
	for _, m := range desc.Methods {
		methods = append(methods, "/"+desc.ServiceName+"/"+m.MethodName)
	}
	for _, s := range desc.Streams {
		methods = append(methods, "/"+desc.ServiceName+"/"+s.StreamName)
	}
	if len(methods) != 4 {
		t.Errorf("CatalogService has %d methods (%v); check that Policy's documentation still says who may call each", len(methods), methods)
	}
	for _, m := range methods {
		if len(p[m]) == 0 {
			t.Errorf("Policy() has no entry for %s", m)
		}
		if !p.Allows(rpc.IdentityAdmin, m) {
			t.Errorf("Policy() does not let admin call %s", m)
		}
		if p.Allows("", m) {
			t.Errorf("Policy() lets a caller without an identity call %s", m)
		}
	}
	for k := range p {
		if !slices.Contains(methods, k) {
			t.Errorf("Policy() names %s, which CatalogService does not have", k)
		}
	}
	// It merges with the entries every server has.
	if _, err := rpc.Merge(rpc.CommonPolicy(), p); err != nil {
		t.Error(err)
	}
}

// TestPolicy checks who may call each method of CatalogService.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), catalog.Policy())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method  string
		allowed []string
	}{
		{catalogv1.CatalogService_GetBook_FullMethodName, []string{"marketplace", "recommendations", "admin"}},
		{catalogv1.CatalogService_ExportBooks_FullMethodName, []string{"marketplace", "recommendations", "admin"}},
		{catalogv1.CatalogService_WatchBooks_FullMethodName, []string{"recommendations", "admin"}},
		{catalogv1.CatalogService_ImportBooks_FullMethodName, []string{"admin"}},
	}
	for _, tt := range tests {
		for _, id := range []string{"", "marketplace", "recommendations", "admin", "demo", "stranger"} {
			want := slices.Contains(tt.allowed, id)
			if got := p.Allows(id, tt.method); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, tt.method, got, want)
			}
		}
	}
}
