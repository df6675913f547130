package catalog_test

import (
	"slices"
	"strings"
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
	if len(methods) != 6 {
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
		{catalogv1.CatalogService_GetBooks_FullMethodName, []string{"marketplace", "cart", "checkout", "admin"}},
		{catalogv1.CatalogService_ExportBooks_FullMethodName, []string{"marketplace", "recommendations", "admin"}},
		{catalogv1.CatalogService_WatchBooks_FullMethodName, []string{"recommendations", "admin"}},
		{catalogv1.CatalogService_ImportBooks_FullMethodName, []string{"admin"}},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, []string{"marketplace", "admin"}},
	}
	for _, tt := range tests {
		for _, id := range []string{"", "marketplace", "recommendations", "cart", "checkout", "admin", "demo", "stranger"} {
			want := slices.Contains(tt.allowed, id)
			if got := p.Allows(id, tt.method); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, tt.method, got, want)
			}
		}
	}
}

// TestValidators checks the rules of requests that Validators applies
// before a handler runs.
func TestValidators(t *testing.T) {
	v := catalog.Validators()
	many := make([]int32, catalog.MaxGetBooks+1)
	for i := range many {
		many[i] = int32(i + 1)
	}
	tests := []struct {
		method string
		req    any
		want   string // words of the message; "" for a valid request
	}{
		{catalogv1.CatalogService_GetBook_FullMethodName, &catalogv1.GetBookRequest{Id: 1}, ""},
		{catalogv1.CatalogService_GetBook_FullMethodName, &catalogv1.GetBookRequest{}, "id must be 1 or more, got 0"},
		{catalogv1.CatalogService_GetBooks_FullMethodName, &catalogv1.GetBooksRequest{}, ""},
		{catalogv1.CatalogService_GetBooks_FullMethodName, &catalogv1.GetBooksRequest{Ids: many[:catalog.MaxGetBooks]}, ""},
		{catalogv1.CatalogService_GetBooks_FullMethodName, &catalogv1.GetBooksRequest{Ids: many}, "at most 100"},
		{catalogv1.CatalogService_GetBooks_FullMethodName, &catalogv1.GetBooksRequest{Ids: []int32{3, 0}}, "ids must be 1 or more, got 0"},
		{catalogv1.CatalogService_GetBooks_FullMethodName, &catalogv1.GetBooksRequest{Ids: []int32{-1}}, "got -1"},
		{catalogv1.CatalogService_ImportBooks_FullMethodName, &catalogv1.ImportBooksRequest{}, "must hold a book"},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: "christie"}, ""},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: "a", Offset: 10000, Limit: 100}, ""},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{}, "Type words"},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: strings.Repeat("x", 201)}, "at most 200"},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: "--"}, "letters or digits"},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: "a", Offset: -1}, "offset -1"},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: "a", Limit: 101}, "limit 101"},
		{catalogv1.CatalogService_SearchBooks_FullMethodName, &catalogv1.SearchBooksRequest{Query: "a", Limit: -1}, "limit -1"},
	}
	for _, tt := range tests {
		got := v[tt.method](tt.req)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("Validators()[%s](%v) = %q, want %q", tt.method, tt.req, got, tt.want)
		}
	}
}
