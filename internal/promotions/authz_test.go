package promotions_test

import (
	"slices"
	"strings"
	"testing"

	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions"
)

// TestPolicy checks who may call each method of PromotionsService: the
// Marketplace reads the offer and prices carts; Checkout prices orders
// and claims, confirms and releases; admin may call everything. No one
// else, and no one without an identity.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), promotions.Policy())
	if err != nil {
		t.Fatal(err)
	}
	desc := promotionsv1.PromotionsService_ServiceDesc
	if len(desc.Methods) != 5 || len(desc.Streams) != 0 {
		t.Errorf("PromotionsService has %d methods and %d streams; check that Policy's documentation still says who may call each", len(desc.Methods), len(desc.Streams))
	}
	callers := map[string][]string{
		"GetOffer":  {"marketplace", "checkout", "admin"},
		"PriceCart": {"marketplace", "checkout", "admin"},
		"Claim":     {"checkout", "admin"},
		"Confirm":   {"checkout", "admin"},
		"Release":   {"checkout", "admin"},
	}
	for _, m := range desc.Methods {
		want, ok := callers[m.MethodName]
		if !ok {
			t.Errorf("method %s: the test does not say who may call it", m.MethodName)
			continue
		}
		method := "/" + desc.ServiceName + "/" + m.MethodName
		for _, id := range []string{"", "checkout", "marketplace", "admin", "payments", "orders", "cart", "inventory", "recommendations", "accounts", "stranger"} {
			if got := p.Allows(id, method); got != slices.Contains(want, id) {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, method, got, !got)
			}
		}
	}
}

// TestValidators checks the rules that refuse a request before its
// handler runs.
func TestValidators(t *testing.T) {
	v := promotions.Validators()
	for _, tc := range []struct {
		method string
		req    any
		want   string // a part of the message; "" for none
	}{
		{promotionsv1.PromotionsService_GetOffer_FullMethodName, &promotionsv1.GetOfferRequest{CustomerId: 0}, ""},
		{promotionsv1.PromotionsService_GetOffer_FullMethodName, &promotionsv1.GetOfferRequest{CustomerId: -3}, "customer id -3"},
		{promotionsv1.PromotionsService_PriceCart_FullMethodName, &promotionsv1.PriceCartRequest{CustomerId: 0, Lines: three}, ""},
		{promotionsv1.PromotionsService_PriceCart_FullMethodName, &promotionsv1.PriceCartRequest{CustomerId: 0, Lines: []*promotionsv1.CartLine{line(2, 100, 0)}}, "book 2: quantity 0"},
		{promotionsv1.PromotionsService_Claim_FullMethodName, &promotionsv1.ClaimRequest{CustomerId: 1, IdempotencyKey: "k-1_A", Lines: three}, ""},
		{promotionsv1.PromotionsService_Claim_FullMethodName, &promotionsv1.ClaimRequest{CustomerId: 1, IdempotencyKey: "k 1", Lines: three}, `idempotency key "k 1"`},
		{promotionsv1.PromotionsService_Claim_FullMethodName, &promotionsv1.ClaimRequest{CustomerId: 1, IdempotencyKey: "k", Lines: []*promotionsv1.CartLine{line(-1, 100, 1)}}, "book id -1"},
		{promotionsv1.PromotionsService_Confirm_FullMethodName, &promotionsv1.ConfirmRequest{CustomerId: 1, IdempotencyKey: "k"}, ""},
		{promotionsv1.PromotionsService_Confirm_FullMethodName, &promotionsv1.ConfirmRequest{CustomerId: 0, IdempotencyKey: "k"}, "customer id 0"},
		{promotionsv1.PromotionsService_Release_FullMethodName, &promotionsv1.ReleaseRequest{CustomerId: 1, IdempotencyKey: "k"}, ""},
		{promotionsv1.PromotionsService_Release_FullMethodName, &promotionsv1.ReleaseRequest{CustomerId: 1, IdempotencyKey: strings.Repeat("k", 65)}, "want 1 to 64 characters"},
	} {
		check, ok := v[tc.method]
		if !ok {
			t.Errorf("no validator for %s", tc.method)
			continue
		}
		got := check(tc.req)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("validate %s(%v) = %q, want %q", tc.method, tc.req, got, tc.want)
		}
	}
}
