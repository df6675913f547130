package payments_test

import (
	"slices"
	"strings"
	"testing"

	moneyv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/money/v1"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// TestPolicy checks who may call each method of PaymentsService: the
// Checkout and admin; no one else (not the Marketplace), and no one
// without an identity.
func TestPolicy(t *testing.T) {
	p, err := rpc.Merge(rpc.CommonPolicy(), payments.Policy())
	if err != nil {
		t.Fatal(err)
	}
	desc := paymentsv1.PaymentsService_ServiceDesc
	if len(desc.Methods) != 3 || len(desc.Streams) != 0 {
		t.Errorf("PaymentsService has %d methods and %d streams; check that Policy's documentation still says who may call each", len(desc.Methods), len(desc.Streams))
	}
	for _, m := range desc.Methods {
		method := "/" + desc.ServiceName + "/" + m.MethodName
		for _, id := range []string{"", "checkout", "admin", "marketplace", "cart", "orders", "inventory", "payments", "stranger"} {
			want := slices.Contains([]string{"checkout", "admin"}, id)
			if got := p.Allows(id, method); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", id, method, got, want)
			}
		}
	}
	if got := payments.Contracts(); len(got) != 1 || got[0].ServiceName != desc.ServiceName {
		t.Errorf("Contracts() = %v, want PaymentsService", got)
	}
}

// TestValidators checks the rules that refuse a request before its
// handler runs.
func TestValidators(t *testing.T) {
	v := payments.Validators()
	eur := func(units int64) *moneyv1.Money { return &moneyv1.Money{Units: units, Currency: "EUR"} }
	card := &paymentsv1.Card{Number: "4242 4242 4242 4241"} // a bad card is the Service's to judge
	id := "ch_" + strings.Repeat("a", 22)
	for _, tc := range []struct {
		method string
		req    any
		want   string // the message; "" for none
	}{
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{IdempotencyKey: "k", Amount: eur(1), Card: card}, ""},
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{Amount: eur(1), Card: card}, `idempotency key "": want 1 to 64 characters`},
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{IdempotencyKey: "k/1", Amount: eur(1), Card: card}, `idempotency key "k/1": only letters A to Z, digits, '-' and '_' are allowed`},
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{IdempotencyKey: "k", Card: card}, "amount: required"},
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{IdempotencyKey: "k", Amount: eur(0), Card: card}, "amount: want more than zero, not 0.00 EUR"},
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{IdempotencyKey: "k", Amount: &moneyv1.Money{Units: 1}, Card: card}, `amount: currency "": want an ISO 4217 code of three capital letters, such as EUR`},
		{paymentsv1.PaymentsService_Charge_FullMethodName, &paymentsv1.ChargeRequest{IdempotencyKey: "k", Amount: eur(1)}, "card: required"},
		{paymentsv1.PaymentsService_Refund_FullMethodName, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_ChargeId{ChargeId: id}}, ""},
		{paymentsv1.PaymentsService_Refund_FullMethodName, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_IdempotencyKey{IdempotencyKey: "k"}}, ""},
		{paymentsv1.PaymentsService_Refund_FullMethodName, &paymentsv1.RefundRequest{}, "charge: name it by its charge_id or its idempotency_key"},
		{paymentsv1.PaymentsService_Refund_FullMethodName, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_ChargeId{}}, `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
		{paymentsv1.PaymentsService_Refund_FullMethodName, &paymentsv1.RefundRequest{Charge: &paymentsv1.RefundRequest_IdempotencyKey{}}, `idempotency key "": want 1 to 64 characters`},
		{paymentsv1.PaymentsService_GetCharge_FullMethodName, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_ChargeId{ChargeId: id}}, ""},
		{paymentsv1.PaymentsService_GetCharge_FullMethodName, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_ChargeId{ChargeId: "x"}}, `charge id: want "ch_" and 22 letters, digits, '-' or '_'`},
		{paymentsv1.PaymentsService_GetCharge_FullMethodName, &paymentsv1.GetChargeRequest{Charge: &paymentsv1.GetChargeRequest_IdempotencyKey{IdempotencyKey: strings.Repeat("k", 65)}}, `idempotency key "` + strings.Repeat("k", 65) + `": want 1 to 64 characters`},
		{paymentsv1.PaymentsService_GetCharge_FullMethodName, &paymentsv1.GetChargeRequest{}, "charge: name it by its charge_id or its idempotency_key"},
	} {
		check, ok := v[tc.method]
		if !ok {
			t.Errorf("no validator for %s", tc.method)
			continue
		}
		if got := check(tc.req); got != tc.want {
			t.Errorf("validate %s(%v) = %q, want %q", tc.method, tc.req, got, tc.want)
		}
	}
}
