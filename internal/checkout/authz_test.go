package checkout_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/checkout"
	checkoutv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/checkout/v1"
	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	ordersv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/orders/v1"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicy checks who may call each method of CheckoutService: the
// Marketplace, for its shoppers, and admin; no one else (not the services
// the Checkout calls), and no one without an identity.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), checkout.Policy())
	if err != nil {
		t.Fatal(err)
	}
	desc := checkoutv1.CheckoutService_ServiceDesc
	if len(desc.Methods) != 2 || len(desc.Streams) != 0 {
		t.Errorf("CheckoutService has %d methods and %d streams; check that Policy's documentation still says who may call each", len(desc.Methods), len(desc.Streams))
	}
	for _, m := range desc.Methods {
		method := "/" + desc.ServiceName + "/" + m.MethodName
		for _, id := range []string{"", "marketplace", "admin", "checkout", "cart", "recommendations", "stranger"} {
			want := slices.Contains([]string{"marketplace", "admin"}, id)
			if got := p.Allows(id, method); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, method, got, want)
			}
		}
	}
}

// TestValidators checks the rules that refuse a request before its
// handler runs.
func TestValidators(t *testing.T) {
	v := checkout.Validators()
	place := func(change func(*checkoutv1.PlaceOrderRequest)) *checkoutv1.PlaceOrderRequest {
		r := &checkoutv1.PlaceOrderRequest{
			IdempotencyKey: "k-1", CustomerId: 1, CartId: "c-1",
			Total:           &moneyv1.Money{Units: 1250, Currency: "EUR"},
			ShippingAddress: &ordersv1.Address{Name: "Ada", Line1: "1 Main St", City: "London", PostalCode: "N1", CountryCode: "GB"},
			Card:            &paymentsv1.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2040, Cvc: "123"},
		}
		if change != nil {
			change(r)
		}
		return r
	}
	for _, tc := range []struct {
		method string
		req    any
		want   string // a part of the message; "" for none
	}{
		{checkoutv1.CheckoutService_GetQuote_FullMethodName, &checkoutv1.GetQuoteRequest{CustomerId: 1, CartId: "c-1"}, ""},
		{checkoutv1.CheckoutService_GetQuote_FullMethodName, &checkoutv1.GetQuoteRequest{CartId: "c-1"}, "customer id 0"},
		{checkoutv1.CheckoutService_GetQuote_FullMethodName, &checkoutv1.GetQuoteRequest{CustomerId: 1, CartId: "c/1"}, "cart id"},
		{checkoutv1.CheckoutService_PlaceOrder_FullMethodName, place(nil), ""},
		{checkoutv1.CheckoutService_PlaceOrder_FullMethodName, place(func(r *checkoutv1.PlaceOrderRequest) { r.IdempotencyKey = "" }), "idempotency key"},
		{checkoutv1.CheckoutService_PlaceOrder_FullMethodName, place(func(r *checkoutv1.PlaceOrderRequest) { r.Total = nil }), "total: required"},
		{checkoutv1.CheckoutService_PlaceOrder_FullMethodName, place(func(r *checkoutv1.PlaceOrderRequest) { r.ShippingAddress = nil }), "shipping address: name: required"},
		{checkoutv1.CheckoutService_PlaceOrder_FullMethodName, place(func(r *checkoutv1.PlaceOrderRequest) { r.Card = nil }), "card number: required"},
		{checkoutv1.CheckoutService_PlaceOrder_FullMethodName, place(func(r *checkoutv1.PlaceOrderRequest) { r.Card.ExpMonth = 1 << 30 }), "expiry: the month"},
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
