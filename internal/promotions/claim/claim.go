// Package claim holds the records of the Promotions service's claims: a
// checkout's [Claim] of its customer's one use of a campaign, its
// states, a customer's [Usage], and the rule of a change ([Decide]),
// shared by the Service (package promotions) and the two stores of the
// claims (packages sqlite and postgres), which keep the same records by
// the same rules. See package promotions for what they mean to a
// checkout.
package claim

import (
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// The states of a claim.
const (
	// Held: the claim holds its customer's use until it is confirmed or
	// released, or until Expires.
	Held = "held"
	// Confirmed: its order was placed; the customer's use is spent.
	Confirmed = "confirmed"
	// Released: its order was not placed; it holds nothing.
	Released = "released"
	// Expired: it was held past Expires; it holds nothing.
	Expired = "expired"
)

// Claim is a checkout's claim of its customer's one use of a campaign:
// the campaign whose code its Discount has. A customer has a use of each
// campaign.
type Claim struct {
	CustomerID int32
	// Key is the checkout's idempotency key, which names the claim with
	// CustomerID.
	Key string
	// State is Held, Confirmed, Released or Expired.
	State string
	// Discount is what the claim's order gets; its Code is the campaign's.
	Discount bookshop.Discount
	// Expires is when a held claim expires; for the others, when it would
	// have.
	Expires time.Time
	// Updated is when its state last changed.
	Updated time.Time
}

// Usage is what a customer has done with their use of a campaign, at a
// time.
type Usage struct {
	// Spent is whether a claim of theirs was confirmed: an order used it.
	Spent bool
	// Held is whether a claim of theirs holds it: held, and not past its
	// expiry.
	Held bool
}

// Decide is the rule of a change of a claim, which a store's Update calls
// within its transaction: own is the claim of the key (nil when the key
// made none), of whichever campaign, and live the customer's claim that
// holds or spent their use of the campaign the Update is for (nil when
// none; own itself when own is of that campaign and held or confirmed). It returns
// the claim the key is to have: own, unchanged, to write nothing. A store
// may call it more than once for one Update (when the transaction is run
// again): it must set its results afresh at each call, not add to them.
type Decide func(own, live *Claim) (Claim, error)
