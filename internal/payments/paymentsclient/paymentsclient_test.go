package paymentsclient_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

func TestChargeConversion(t *testing.T) {
	created := time.Date(2030, 6, 15, 12, 0, 0, 123_000_000, time.UTC)
	for _, c := range []bookshop.Charge{
		{ID: "ch_1", Key: "k", Amount: bookshop.Money{Units: 1299, Currency: "EUR"}, Brand: "visa", Last4: "4242", State: paymentsclient.StateApproved, Created: created},
		{ID: "ch_2", Key: "k2", Amount: bookshop.Money{Units: 1, Currency: "JPY"}, Brand: "amex", Last4: "0005", State: paymentsclient.StateRefunded, Created: created, Refunded: created.Add(time.Hour)},
		{ID: "ch_3", Key: "k3", Amount: bookshop.Money{Units: 5, Currency: "EUR"}, Brand: "mastercard", Last4: "4444", State: paymentsclient.StateDeclined, DeclineReason: "insufficient funds", Created: created},
		{},
	} {
		m := paymentsclient.ChargeToProto(c)
		if got := paymentsclient.ChargeFromProto(m); got != c {
			t.Errorf("ChargeFromProto(ChargeToProto(%+v)) = %+v", c, got)
		}
		if c.Refunded.IsZero() != (m.GetRefundTime() == nil) || c.Created.IsZero() != (m.GetCreateTime() == nil) {
			t.Errorf("ChargeToProto(%+v) = %v: a zero time must be an unset field, and only it", c, m)
		}
	}
	if got := paymentsclient.ChargeToProto(bookshop.Charge{State: "pending"}).GetState(); got != paymentsv1.ChargeState_CHARGE_STATE_UNSPECIFIED {
		t.Errorf("an unknown state became %v, want UNSPECIFIED", got)
	}
	if got := paymentsclient.ChargeFromProto(&paymentsv1.Charge{State: 99}).State; got != "" {
		t.Errorf("an unknown state became %q, want \"\"", got)
	}
}

func TestCardConversion(t *testing.T) {
	c := bookshop.Card{Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2031, CVC: "123", Name: "Ada"}
	if got := paymentsclient.CardFromProto(paymentsclient.CardToProto(c)); got != c {
		t.Errorf("CardFromProto(CardToProto(%+v)) = %+v", c, got)
	}
	huge := paymentsclient.CardToProto(bookshop.Card{ExpMonth: math.MaxInt32 + 13, ExpYear: math.MinInt32 - 1})
	if huge.GetExpMonth() != math.MaxInt32 || huge.GetExpYear() != math.MinInt32 {
		t.Errorf("CardToProto of a month and a year past int32 = %v, want them clamped", huge)
	}
}

func TestCardErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want map[string]string
	}{
		{nil, nil},
		{errors.New("card number: not a domain error"), nil},
		{bookshop.Errorf(bookshop.Conflict, "card declined: insufficient funds"), nil},
		{bookshop.Errorf(bookshop.Invalid, "amount: required"), nil},
		{bookshop.Errorf(bookshop.Invalid, "no field at all"), nil},
		{bookshop.Errorf(bookshop.Invalid, "cvc: required"), map[string]string{"cvc": "required"}},
		{bookshop.Errorf(bookshop.Invalid, "card number: the number is not valid: check the digits; expiry: month 13: want 1 to 12; cvc: required; cardholder name: at most 100 characters"),
			map[string]string{"card number": "the number is not valid: check the digits", "expiry": "month 13: want 1 to 12", "cvc": "required", "cardholder name": "at most 100 characters"}},
		{bookshop.Errorf(bookshop.Invalid, "cvc: first; cvc: second; something: else"), map[string]string{"cvc": "first"}},
	} {
		if got := paymentsclient.CardErrors(tt.err); fmt.Sprint(got) != fmt.Sprint(tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("CardErrors(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
