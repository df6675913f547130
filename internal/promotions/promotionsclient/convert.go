package promotionsclient

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	promotionsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/promotions/v1"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// LinesToProto converts the lines of a cart to their messages.
func LinesToProto(lines []bookshop.PromoLine) []*promotionsv1.CartLine {
	m := make([]*promotionsv1.CartLine, len(lines))
	for i, l := range lines {
		m[i] = &promotionsv1.CartLine{BookId: l.BookID, UnitPrice: catalogclient.MoneyToProto(l.UnitPrice), Quantity: rpc.Int32(l.Quantity), Title: l.Title}
	}
	return m
}

// LinesFromProto converts messages to the lines of a cart.
func LinesFromProto(m []*promotionsv1.CartLine) []bookshop.PromoLine {
	lines := make([]bookshop.PromoLine, len(m))
	for i, l := range m {
		lines[i] = bookshop.PromoLine{BookID: l.GetBookId(), UnitPrice: catalogclient.MoneyFromProto(l.GetUnitPrice()), Quantity: int(l.GetQuantity()), Title: l.GetTitle()}
	}
	return lines
}

// DiscountToProto converts a discount to its message; the zero Discount
// (none) to nil.
func DiscountToProto(d bookshop.Discount) *promotionsv1.Discount {
	if d == (bookshop.Discount{}) {
		return nil
	}
	return &promotionsv1.Discount{Amount: catalogclient.MoneyToProto(d.Amount), BookId: d.BookID, Code: d.Code, Label: d.Label}
}

// DiscountFromProto converts a message to a discount, and reports whether
// there was one: nil is none.
func DiscountFromProto(m *promotionsv1.Discount) (bookshop.Discount, bool) {
	if m == nil {
		return bookshop.Discount{}, false
	}
	return bookshop.Discount{Amount: catalogclient.MoneyFromProto(m.GetAmount()), BookID: m.GetBookId(), Code: m.GetCode(), Label: m.GetLabel()}, true
}

// OfferToProto converts an offer to its message: a zero Ends (no end)
// leaves end_time unset.
func OfferToProto(o bookshop.Offer) *promotionsv1.Offer {
	m := &promotionsv1.Offer{Code: o.Code, Name: o.Name, Banner: o.Banner, Active: o.Active, Eligible: o.Eligible, MinBooks: rpc.Int32(o.MinBooks)}
	if !o.Starts.IsZero() {
		m.StartTime = timestamppb.New(o.Starts)
	}
	if !o.Ends.IsZero() {
		m.EndTime = timestamppb.New(o.Ends)
	}
	return m
}

// OfferFromProto converts a message to an offer, its times in UTC; an
// unset time is the zero time.
func OfferFromProto(m *promotionsv1.Offer) bookshop.Offer {
	return bookshop.Offer{
		Code: m.GetCode(), Name: m.GetName(), Banner: m.GetBanner(), Active: m.GetActive(), Eligible: m.GetEligible(),
		Starts: timeOf(m.GetStartTime()), Ends: timeOf(m.GetEndTime()), MinBooks: max(int(m.GetMinBooks()), 0),
	}
}

// ClaimToProto converts a claim's outcome and discount to Claim's
// answer: claimed, with d, for ClaimGranted; otherwise not, with the
// refusal (unspecified for ClaimRefused, or an outcome it does not know).
func ClaimToProto(d bookshop.Discount, outcome bookshop.ClaimOutcome) *promotionsv1.ClaimResponse {
	if outcome == bookshop.ClaimGranted {
		return &promotionsv1.ClaimResponse{Claimed: true, Discount: DiscountToProto(d)}
	}
	var r promotionsv1.ClaimRefusal
	switch outcome {
	case bookshop.ClaimInactive:
		r = promotionsv1.ClaimRefusal_CLAIM_REFUSAL_CAMPAIGN_INACTIVE
	case bookshop.ClaimNotEarned:
		r = promotionsv1.ClaimRefusal_CLAIM_REFUSAL_NOT_EARNED
	case bookshop.ClaimUsed:
		r = promotionsv1.ClaimRefusal_CLAIM_REFUSAL_ALREADY_USED
	case bookshop.ClaimHeld:
		r = promotionsv1.ClaimRefusal_CLAIM_REFUSAL_HELD_BY_ANOTHER_CHECKOUT
	}
	return &promotionsv1.ClaimResponse{Refusal: r}
}

// ClaimFromProto converts Claim's answer to the discount and the
// outcome: ClaimGranted with the discount when claimed; otherwise the
// zero Discount and why, ClaimRefused when the answer does not say (a
// service from before the reasons, or a reason newer than this client).
func ClaimFromProto(m *promotionsv1.ClaimResponse) (bookshop.Discount, bookshop.ClaimOutcome) {
	if m.GetClaimed() {
		d, _ := DiscountFromProto(m.GetDiscount())
		return d, bookshop.ClaimGranted
	}
	switch m.GetRefusal() {
	case promotionsv1.ClaimRefusal_CLAIM_REFUSAL_CAMPAIGN_INACTIVE:
		return bookshop.Discount{}, bookshop.ClaimInactive
	case promotionsv1.ClaimRefusal_CLAIM_REFUSAL_NOT_EARNED:
		return bookshop.Discount{}, bookshop.ClaimNotEarned
	case promotionsv1.ClaimRefusal_CLAIM_REFUSAL_ALREADY_USED:
		return bookshop.Discount{}, bookshop.ClaimUsed
	case promotionsv1.ClaimRefusal_CLAIM_REFUSAL_HELD_BY_ANOTHER_CHECKOUT:
		return bookshop.Discount{}, bookshop.ClaimHeld
	}
	return bookshop.Discount{}, bookshop.ClaimRefused
}

// timeOf is t's time in UTC, or the zero time for nil.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
