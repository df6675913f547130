package accounts_test

import (
	"slices"
	"testing"

	"github.com/bookshop-go/bookshop/internal/accounts"
	accountsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/accounts/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicy checks that every method of AccountsService, as generated,
// has an entry of its own in Policy, and who may call it: the Marketplace
// and admin, no one else. The policy denies what it does not name, so a
// method left out would be closed to everyone.
func TestPolicy(t *testing.T) {
	p := accounts.Policy()
	desc := accountsv1.AccountsService_ServiceDesc
	var methods []string
	for _, m := range desc.Methods {
		methods = append(methods, "/"+desc.ServiceName+"/"+m.MethodName)
	}
	if len(methods) != 4 || len(desc.Streams) != 0 {
		t.Errorf("AccountsService has methods %v and %d streams; check that Policy's documentation still says who may call each", methods, len(desc.Streams))
	}
	merged, err := rpc.Merge(rpc.CommonPolicy(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range methods {
		for _, id := range []string{"", "marketplace", "admin", "recommendations", "catalog", "cart", "stranger"} {
			want := id == "marketplace" || id == "admin"
			if got := merged.Allows(id, m); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, m, got, want)
			}
		}
	}
	for k := range p {
		if !slices.Contains(methods, k) {
			t.Errorf("Policy() names %s, which AccountsService does not have", k)
		}
	}
	if got := accounts.Contracts(); len(got) != 1 || got[0].ServiceName != desc.ServiceName {
		t.Errorf("Contracts() = %v, want AccountsService", got)
	}
}
