package cart_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/cart"
	cartv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/cart/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicy checks who may call each method of CartService: the
// Marketplace, for its shoppers, and admin; Checkout only GetCart and
// RemoveLines, which the Marketplace may not call; no one else, and no
// one without an identity.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), cart.Policy())
	if err != nil {
		t.Fatal(err)
	}
	desc := cartv1.CartService_ServiceDesc
	if len(desc.Methods) != 6 || len(desc.Streams) != 0 {
		t.Errorf("CartService has %d methods and %d streams; check that Policy's documentation still says who may call each", len(desc.Methods), len(desc.Streams))
	}
	callers := map[string][]string{
		"GetCart":     {"marketplace", "checkout", "admin"},
		"RemoveLines": {"checkout", "admin"},
	}
	for _, m := range desc.Methods {
		method := "/" + desc.ServiceName + "/" + m.MethodName
		allowed, ok := callers[m.MethodName]
		if !ok {
			allowed = []string{"marketplace", "admin"}
		}
		for _, id := range []string{"", "marketplace", "admin", "checkout", "recommendations", "cart", "accounts", "stranger"} {
			want := slices.Contains(allowed, id)
			if got := p.Allows(id, method); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, method, got, want)
			}
		}
	}
}

// TestValidators checks the rules that refuse a request before its
// handler runs.
func TestValidators(t *testing.T) {
	v := cart.Validators()
	for _, tc := range []struct {
		method string
		req    any
		want   string // a part of the message; "" for none
	}{
		{cartv1.CartService_GetCart_FullMethodName, &cartv1.GetCartRequest{CartId: "c-1"}, ""},
		{cartv1.CartService_GetCart_FullMethodName, &cartv1.GetCartRequest{}, "want 1 to 64 characters"},
		{cartv1.CartService_CountItems_FullMethodName, &cartv1.CountItemsRequest{CartId: "g-a.b"}, "only letters"},
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: 1}, ""},
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: 11}, ""}, // a Conflict, for the rules
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: -1, Quantity: 1}, "book id -1"},
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: -5}, "add 1 or more"},
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: 1, IdempotencyKey: "add-Zq_9"}, ""},
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: 1, IdempotencyKey: strings.Repeat("k", 65)}, "idempotency key"},
		{cartv1.CartService_AddItem_FullMethodName, &cartv1.AddItemRequest{CartId: "c-1", BookId: 1, Quantity: 1, IdempotencyKey: "k/1"}, "idempotency key \"k/1\": only letters"},
		{cartv1.CartService_SetQuantity_FullMethodName, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 1}, ""},
		{cartv1.CartService_SetQuantity_FullMethodName, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 1, Quantity: 10}, ""},
		{cartv1.CartService_SetQuantity_FullMethodName, &cartv1.SetQuantityRequest{CartId: "c-1", BookId: 1, Quantity: 11}, "to 10"},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", IdempotencyKey: "k1", Lines: []*cartv1.LineRemoval{{BookId: 1, Quantity: 2}, {BookId: 3, Quantity: 10}}}, ""},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", Lines: []*cartv1.LineRemoval{{BookId: 1, Quantity: 2}}}, "an idempotency key is required"},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", IdempotencyKey: "k 1", Lines: []*cartv1.LineRemoval{{BookId: 1, Quantity: 2}}}, "idempotency key \"k 1\""},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", IdempotencyKey: "k1"}, "0 lines to remove"},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", IdempotencyKey: "k1", Lines: []*cartv1.LineRemoval{{BookId: 1, Quantity: 1}, {BookId: 1, Quantity: 1}}}, "book 1 is in the lines to remove twice"},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", IdempotencyKey: "k1", Lines: []*cartv1.LineRemoval{{BookId: 1, Quantity: 11}}}, "quantity 11 of book 1"},
		{cartv1.CartService_RemoveLines_FullMethodName, &cartv1.RemoveLinesRequest{CartId: "c-1", IdempotencyKey: "k1", Lines: []*cartv1.LineRemoval{{BookId: 0, Quantity: 1}}}, "book id 0"},
		{cartv1.CartService_MergeCarts_FullMethodName, &cartv1.MergeCartsRequest{FromCartId: "g-1", IntoCartId: "c-1"}, ""},
		{cartv1.CartService_MergeCarts_FullMethodName, &cartv1.MergeCartsRequest{FromCartId: "g-1", IntoCartId: "c 1"}, "only letters"},
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
