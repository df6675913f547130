package paymentsclient

import (
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The fields of a card as the Payments service names them in its
// messages. A Charge refused for its card (Invalid) has a message of one
// or more problems joined by Separator, each a field's name, ": " and what
// is wrong, for the shopper:
//
//	card number: the number is not valid: check the digits; cvc: want the 3 digits on the back of the card
//
// so that a form can show each beside its field: see CardErrors. No
// problem's text holds Separator, and none repeats the number or the CVC.
const (
	FieldNumber = "card number"     // bookshop.Card.Number
	FieldExpiry = "expiry"          // bookshop.Card.ExpMonth and ExpYear
	FieldCVC    = "cvc"             // bookshop.Card.CVC
	FieldName   = "cardholder name" // bookshop.Card.Name
)

// Separator joins the problems of one message.
const Separator = "; "

// CardErrors returns the problems of an Invalid error about a card, by
// field (FieldNumber, FieldExpiry, FieldCVC, FieldName), each without its
// field's name: "the number is not valid: check the digits". It returns
// nil for any other error, and for an Invalid one that names no field of
// a card (a malformed amount or key is the caller's to fix, not the
// shopper's).
func CardErrors(err error) map[string]string {
	if bookshop.ErrorCode(err) != bookshop.Invalid {
		return nil
	}
	var fields map[string]string
	for _, problem := range strings.Split(bookshop.ErrorMessage(err), Separator) {
		field, text, ok := strings.Cut(problem, ": ")
		switch {
		case !ok:
		case field == FieldNumber, field == FieldExpiry, field == FieldCVC, field == FieldName:
			if fields == nil {
				fields = make(map[string]string, 4)
			}
			if _, dup := fields[field]; !dup {
				fields[field] = text
			}
		}
	}
	return fields
}
