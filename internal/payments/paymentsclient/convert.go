package paymentsclient

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	paymentsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/payments/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// states maps the kernel's states of a charge to the contract's.
var states = map[string]paymentsv1.ChargeState{
	StateApproved: paymentsv1.ChargeState_CHARGE_STATE_APPROVED,
	StateDeclined: paymentsv1.ChargeState_CHARGE_STATE_DECLINED,
	StateRefunded: paymentsv1.ChargeState_CHARGE_STATE_REFUNDED,
}

// ChargeToProto converts a charge to its message. An unknown state
// becomes CHARGE_STATE_UNSPECIFIED.
func ChargeToProto(c bookshop.Charge) *paymentsv1.Charge {
	return &paymentsv1.Charge{
		Id:             c.ID,
		IdempotencyKey: c.Key,
		Amount:         catalogclient.MoneyToProto(c.Amount),
		Brand:          c.Brand,
		Last4:          c.Last4,
		State:          states[c.State],
		DeclineReason:  c.DeclineReason,
		CreateTime:     timestampToProto(c.Created),
		RefundTime:     timestampToProto(c.Refunded),
	}
}

// ChargeFromProto converts a message to a charge. An unknown state
// becomes "".
func ChargeFromProto(m *paymentsv1.Charge) bookshop.Charge {
	c := bookshop.Charge{
		ID:            m.GetId(),
		Key:           m.GetIdempotencyKey(),
		Amount:        catalogclient.MoneyFromProto(m.GetAmount()),
		Brand:         m.GetBrand(),
		Last4:         m.GetLast4(),
		DeclineReason: m.GetDeclineReason(),
		Created:       timestampFromProto(m.GetCreateTime()),
		Refunded:      timestampFromProto(m.GetRefundTime()),
	}
	for s, v := range states {
		if v == m.GetState() {
			c.State = s
		}
	}
	return c
}

// CardToProto converts a card to its message. A month or a year that does
// not fit the message's int32 is clamped, so that the server refuses it
// as out of range rather than a wrapped value.
func CardToProto(c bookshop.Card) *paymentsv1.Card {
	return &paymentsv1.Card{Number: c.Number, ExpMonth: rpc.Int32(c.ExpMonth), ExpYear: rpc.Int32(c.ExpYear), Cvc: c.CVC, Name: c.Name}
}

// CardFromProto converts a message to a card.
func CardFromProto(m *paymentsv1.Card) bookshop.Card {
	return bookshop.Card{Number: m.GetNumber(), ExpMonth: int(m.GetExpMonth()), ExpYear: int(m.GetExpYear()), CVC: m.GetCvc(), Name: m.GetName()}
}

// timestampToProto converts a time to its message; the zero time becomes
// an unset field.
func timestampToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timestampFromProto converts a message to a time, in UTC; an unset field
// becomes the zero time.
func timestampFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
