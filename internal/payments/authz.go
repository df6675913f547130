package payments

import (
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// identityCheckout is the identity of the Checkout, which charges the
// shoppers' cards and refunds what a failed checkout charged, as `bookshop
// certs` issues it.
const identityCheckout = "checkout"

// Policy returns who may call which method of PaymentsService: every
// method, checkout (it charges, refunds, and looks a charge up when it
// finishes a checkout that a crash interrupted) and admin (an operator
// refunding by hand). No one else: not the Marketplace, whose shoppers'
// cards reach Payments only through the Checkout. A method added later
// stays closed until it is named here.
func Policy() rpc.Policy {
	return rpc.Policy{
		rpc.ServiceKey(paymentsv1.PaymentsService_ServiceDesc): {identityCheckout, rpc.IdentityAdmin},
	}
}

// Contracts returns the gRPC services the Payments service serves, whose
// every method Policy must name.
func Contracts() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{&paymentsv1.PaymentsService_ServiceDesc}
}

// Validators returns the rules of PaymentsService's requests that need no
// data and no date, checked before the handlers run, in the domain's
// words: the key and the amount of a charge, and that it has a card (the
// Service checks the card itself, so that a shopper hears of every
// problem of the card at once, its expiry's included); the charge id or
// key of a refund or a lookup.
func Validators() rpc.Validators {
	return rpc.Validators{
		paymentsv1.PaymentsService_Charge_FullMethodName: func(req any) string {
			r := req.(*paymentsv1.ChargeRequest)
			if r.GetCard() == nil {
				return rpc.Check(CheckKey(r.GetIdempotencyKey()), checkAmount(r), bookshop.Errorf(bookshop.Invalid, "card: required"))
			}
			return rpc.Check(CheckKey(r.GetIdempotencyKey()), checkAmount(r))
		},
		paymentsv1.PaymentsService_Refund_FullMethodName: func(req any) string {
			r := req.(*paymentsv1.RefundRequest)
			_, byID := r.GetCharge().(*paymentsv1.RefundRequest_ChargeId)
			_, byKey := r.GetCharge().(*paymentsv1.RefundRequest_IdempotencyKey)
			return rpc.Check(checkChargeName(r.GetChargeId(), r.GetIdempotencyKey(), byID, byKey))
		},
		paymentsv1.PaymentsService_GetCharge_FullMethodName: func(req any) string {
			r := req.(*paymentsv1.GetChargeRequest)
			_, byID := r.GetCharge().(*paymentsv1.GetChargeRequest_ChargeId)
			_, byKey := r.GetCharge().(*paymentsv1.GetChargeRequest_IdempotencyKey)
			return rpc.Check(checkChargeName(r.GetChargeId(), r.GetIdempotencyKey(), byID, byKey))
		},
	}
}

// checkAmount checks the amount of a ChargeRequest.
func checkAmount(r *paymentsv1.ChargeRequest) error {
	if r.GetAmount() == nil {
		return bookshop.Errorf(bookshop.Invalid, "amount: required")
	}
	return CheckAmount(bookshop.Money{Units: r.GetAmount().GetUnits(), Currency: r.GetAmount().GetCurrency()})
}

// checkChargeName checks how a request names a charge: by its id (byID),
// or by its key (byKey); or, wrongly, neither.
func checkChargeName(id, key string, byID, byKey bool) error {
	switch {
	case byID:
		return CheckChargeID(id)
	case byKey:
		return CheckKey(key)
	}
	return bookshop.Errorf(bookshop.Invalid, "charge: name it by its charge_id or its idempotency_key")
}
