package inventory_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/durationpb"

	inventoryv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/inventory/v1"
	"github.com/bookshop-go/bookshop/internal/inventory"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicy checks who may call each method of InventoryService:
// checkout, marketplace and admin read the stock; checkout and admin
// reserve, commit and release; admin alone sets the stock. No one else,
// and no one without an identity.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), inventory.Policy())
	if err != nil {
		t.Fatal(err)
	}
	desc := inventoryv1.InventoryService_ServiceDesc
	if len(desc.Methods) != 5 || len(desc.Streams) != 0 {
		t.Errorf("InventoryService has %d methods and %d streams; check that Policy's documentation still says who may call each", len(desc.Methods), len(desc.Streams))
	}
	callers := map[string][]string{
		"GetStock": {"checkout", "marketplace", "admin"},
		"Reserve":  {"checkout", "admin"},
		"Commit":   {"checkout", "admin"},
		"Release":  {"checkout", "admin"},
		"SetStock": {"admin"},
	}
	for _, m := range desc.Methods {
		want, ok := callers[m.MethodName]
		if !ok {
			t.Errorf("method %s: the test does not say who may call it", m.MethodName)
			continue
		}
		method := "/" + desc.ServiceName + "/" + m.MethodName
		for _, id := range []string{"", "checkout", "marketplace", "admin", "payments", "orders", "cart", "recommendations", "accounts", "stranger"} {
			if got := p.Allows(id, method); got != slices.Contains(want, id) {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, method, got, !got)
			}
		}
	}
}

// TestValidators checks the rules that refuse a request before its
// handler runs.
func TestValidators(t *testing.T) {
	v := inventory.Validators()
	ok := []*inventoryv1.StockLine{line(1, 1)}
	for _, tc := range []struct {
		method string
		req    any
		want   string // a part of the message; "" for none
	}{
		{inventoryv1.InventoryService_GetStock_FullMethodName, &inventoryv1.GetStockRequest{BookIds: []int32{1, 2, 2}}, ""},
		{inventoryv1.InventoryService_GetStock_FullMethodName, &inventoryv1.GetStockRequest{BookIds: []int32{1, -2}}, "book id -2"},
		{inventoryv1.InventoryService_Reserve_FullMethodName, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: ok}, ""},
		{inventoryv1.InventoryService_Reserve_FullMethodName, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: ok, Ttl: durationpb.New(0)}, ""},
		{inventoryv1.InventoryService_Reserve_FullMethodName, &inventoryv1.ReserveRequest{IdempotencyKey: "k/1", Lines: ok}, `idempotency key "k/1"`},
		{inventoryv1.InventoryService_Reserve_FullMethodName, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: []*inventoryv1.StockLine{line(1, 1), line(1, 1)}}, "book 1 is on two lines"},
		{inventoryv1.InventoryService_Reserve_FullMethodName, &inventoryv1.ReserveRequest{IdempotencyKey: "k", Lines: ok, Ttl: durationpb.New(-1)}, "ttl -1ns"},
		{inventoryv1.InventoryService_Commit_FullMethodName, &inventoryv1.CommitRequest{ReservationId: "r-ABC"}, ""},
		{inventoryv1.InventoryService_Commit_FullMethodName, &inventoryv1.CommitRequest{ReservationId: strings.Repeat("r", 65)}, "want 1 to 64"},
		{inventoryv1.InventoryService_Release_FullMethodName, &inventoryv1.ReleaseRequest{ReservationId: "r-ABC"}, ""},
		{inventoryv1.InventoryService_Release_FullMethodName, &inventoryv1.ReleaseRequest{ReservationId: "r.ABC"}, "only letters"},
		{inventoryv1.InventoryService_SetStock_FullMethodName, &inventoryv1.SetStockRequest{BookId: 3, OnHand: 0}, ""},
		{inventoryv1.InventoryService_SetStock_FullMethodName, &inventoryv1.SetStockRequest{BookId: 0, OnHand: 3}, "book id 0"},
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
