package payments

import (
	"strings"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
)

// The rules of a charge. A card's are paymentsclient's (CheckCard,
// CheckExpiry), which the forms that take a card check it by too.

// The limits of a charge.
const (
	// MaxAmountUnits is the most one charge may take, in the currency's
	// minor units: the shop's bookshop.MaxChargeUnits, 999,999.99 EUR.
	MaxAmountUnits = bookshop.MaxChargeUnits
)

// What the processor answers for the test cards (paymentsclient's
// TestCard...), by their digits.
var (
	declinedDigits    = strings.ReplaceAll(paymentsclient.TestCardDeclined, " ", "")
	unavailableDigits = strings.ReplaceAll(paymentsclient.TestCardUnavailable, " ", "")
)

// DeclineInsufficientFunds is the reason the processor gives for the
// declined test card.
const DeclineInsufficientFunds = "insufficient funds"

// CheckAmount returns an Invalid error, naming the field "amount", unless
// amount can be charged: more than zero, at most MaxAmountUnits minor
// units, in a currency of three capital letters.
func CheckAmount(amount bookshop.Money) error {
	if amount == (bookshop.Money{}) {
		return bookshop.Errorf(bookshop.Invalid, "amount: required")
	}
	if err := bookshop.CheckCurrency(amount.Currency); err != nil {
		return bookshop.Errorf(bookshop.Invalid, "amount: %s", bookshop.ErrorMessage(err))
	}
	switch most := (bookshop.Money{Units: MaxAmountUnits, Currency: amount.Currency}); {
	case amount.Units <= 0:
		return bookshop.Errorf(bookshop.Invalid, "amount: want more than zero, not %s", amount)
	case amount.Units > MaxAmountUnits:
		return bookshop.Errorf(bookshop.Invalid, "amount: at most %s in one charge, not %s", most, amount)
	}
	return nil
}

// CheckKey returns an Invalid error, naming the field "idempotency key",
// unless key is one (see bookshop.CheckKey).
func CheckKey(key string) error { return bookshop.CheckKey("idempotency key", key) }

// CheckChargeID returns an Invalid error, naming the field "charge id",
// unless id could name a charge: "ch_" and 22 characters of A-Z, a-z,
// 0-9, '-' and '_'.
func CheckChargeID(id string) error {
	rest, ok := strings.CutPrefix(id, chargeIDPrefix)
	if !ok || len(rest) != chargeIDRandLen || bookshop.CheckKey("charge id", rest) != nil {
		return bookshop.Errorf(bookshop.Invalid, "charge id: want %q and %d letters, digits, '-' or '_'", chargeIDPrefix, chargeIDRandLen)
	}
	return nil
}
