package saga

import (
	"encoding/json"
	"fmt"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// data is the JSON of a record's data: the Record but what a log keeps in
// columns of their own (its customer, key, ID, request, state, times and
// the recoverer's attempts).
type data struct {
	CartID                    string
	Lines                     []bookshop.OrderLine
	Subtotal, Discount, Total bookshop.Money
	Confirmed                 *bookshop.Money `json:",omitempty"`
	Promotions                []string        `json:",omitempty"`
	Claim                     ClaimState      `json:",omitempty"`
	Shipping                  bookshop.Address
	ReservationID             string          `json:",omitempty"`
	ChargeID                  string          `json:",omitempty"`
	ChargeTried               bool            `json:",omitempty"`
	Order                     *bookshop.Order `json:",omitempty"`
	ErrCode                   bookshop.Code   `json:",omitempty"`
	ErrMessage                string          `json:",omitempty"`
}

// Encode returns the JSON text of r's data, which every log keeps as it
// is (the record column), so that a log moves from one database to
// another byte for byte.
func Encode(r *Record) (string, error) {
	d := data{
		CartID: r.CartID, Lines: r.Lines, Subtotal: r.Subtotal, Discount: r.Discount, Total: r.Total,
		Shipping: r.Shipping, ReservationID: r.ReservationID, ChargeID: r.ChargeID, ChargeTried: r.ChargeTried,
		ErrCode: r.ErrCode, ErrMessage: r.ErrMessage, Promotions: r.Promotions, Claim: r.Claim,
	}
	if r.Confirmed != (bookshop.Money{}) {
		d.Confirmed = &r.Confirmed
	}
	if r.Order.ID != "" {
		d.Order = &r.Order
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode checkout %s: %w", r.ID, err)
	}
	return string(b), nil
}

// Decode fills r's data from js, the JSON text Encode made.
func Decode(r *Record, js string) error {
	var d data
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		return fmt.Errorf("decode checkout %s: %w", r.ID, err)
	}
	r.CartID, r.Lines, r.Subtotal, r.Discount, r.Total = d.CartID, d.Lines, d.Subtotal, d.Discount, d.Total
	r.Shipping, r.ReservationID, r.ChargeID, r.ChargeTried = d.Shipping, d.ReservationID, d.ChargeID, d.ChargeTried
	r.ErrCode, r.ErrMessage = d.ErrCode, d.ErrMessage
	r.Promotions, r.Claim = d.Promotions, d.Claim
	if d.Confirmed != nil {
		r.Confirmed = *d.Confirmed
	}
	if d.Order != nil {
		r.Order = *d.Order
	}
	return nil
}
