package promotions

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The outcomes of bookshop_promotions_offers_total: what an Offer showed.
const (
	offerShown    = "shown"    // the campaign runs and the shopper may use it: the banner
	offerUsed     = "used"     // the campaign runs, and the customer has used it: no banner
	offerInactive = "inactive" // the campaign does not run: no banner
)

// offerOutcomes are every outcome of an Offer, so that each is exported
// at zero from the start.
var offerOutcomes = []string{offerShown, offerUsed, offerInactive}

// The outcomes of bookshop_promotions_claims_total besides the states a
// claim ends in (released, expired).
const (
	claimClaimed    = "claimed"     // a Claim that took the customer's use
	claimReplayed   = "replayed"    // a Claim whose key held or spent the use: a retry
	claimUsed       = "used"        // refused: the customer has used the promotion
	claimTaken      = "taken"       // refused: another checkout of the customer holds it
	claimNoDiscount = "no_discount" // refused: the lines earn no discount
	claimInactive   = "inactive"    // refused: the campaign does not run
	// claimUnconfirmed: a confirmed claim released, its checkout undone
	// before its order was recorded; it takes back one of uses_total.
	claimUnconfirmed = "unconfirmed"
)

// claimOutcomes are every outcome of a claim, so that each is exported at
// zero from the start.
var claimOutcomes = []string{claimClaimed, claimReplayed, claimUsed, claimTaken, claimNoDiscount, claimInactive, Released, Expired, claimUnconfirmed}

// metrics are the Promotions service's own:
// bookshop_promotions_offers_total by outcome,
// bookshop_promotions_claims_total by outcome,
// bookshop_promotions_uses_total, and
// bookshop_promotions_discount_minor_units_total by currency (at most
// maxCurrencySeries of them, the rest as "other"; the series of
// bookshop.DefaultCurrency from the start). A nil *metrics counts
// nothing.
type metrics struct {
	offers, claims, discount *prometheus.CounterVec
	uses                     prometheus.Counter
	currencies               *telemetry.CappedValues // discount's
}

// maxCurrencySeries caps the currencies of
// bookshop_promotions_discount_minor_units_total, which come from the
// claims: any three capital letters make a valid currency.
const maxCurrencySeries = 16

// newMetrics registers the Promotions service's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	mm := &metrics{
		offers: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_promotions_offers_total",
			Help: "Offers shown to shoppers (GetOffer), by outcome: shown (the banner: the campaign runs and the shopper may use it), " +
				"used (the customer has used the promotion: no banner), inactive (the campaign does not run: no banner).",
		}, []string{"outcome"})),
		claims: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_promotions_claims_total",
			Help: "Claims of a customer's use of the promotion, by outcome: claimed (a checkout took it), replayed (a retry of a key that holds or spent it), " +
				"refused as used (spent before), taken (another checkout of the customer holds it), no_discount (the order earns none) or inactive (outside the campaign); " +
				"and how held claims ended without an order: released, expired; unconfirmed: a confirmed claim released, its checkout undone before its order was recorded " +
				"(the stock could not be taken), which takes back one of bookshop_promotions_uses_total.",
		}, []string{"outcome"})),
		uses: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_promotions_uses_total",
			Help: "Uses of the promotion confirmed: paid checkouts with its discount, one per customer; " +
				"less bookshop_promotions_claims_total{outcome=\"unconfirmed\"}, the orders placed with it.",
		})),
		discount: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_promotions_discount_minor_units_total",
			Help: "The discounts of the uses confirmed, in the minor units of their currency (cents for EUR), by currency: what the promotion gave " +
				"(with those of the uses unconfirmed after, rare: see bookshop_promotions_claims_total).",
		}, []string{"currency"})),
	}
	for _, o := range offerOutcomes {
		mm.offers.WithLabelValues(o)
	}
	for _, o := range claimOutcomes {
		mm.claims.WithLabelValues(o)
	}
	mm.discount.WithLabelValues(bookshop.DefaultCurrency)
	mm.currencies = telemetry.NewCappedValues(maxCurrencySeries, bookshop.DefaultCurrency)
	return mm
}

// offered counts an Offer's outcome.
func (m *metrics) offered(outcome string) {
	if m != nil {
		m.offers.WithLabelValues(outcome).Inc()
	}
}

// claimed counts a claim's outcome.
func (m *metrics) claimed(outcome string) {
	if m != nil {
		m.claims.WithLabelValues(outcome).Inc()
	}
}

// claimsExpired counts n claims recorded as expired.
func (m *metrics) claimsExpired(n int) {
	if m != nil && n > 0 {
		m.claims.WithLabelValues(Expired).Add(float64(n))
	}
}

// confirmed counts a use confirmed, with its discount.
func (m *metrics) confirmed(d bookshop.Discount) {
	if m != nil {
		m.uses.Inc()
		m.discount.WithLabelValues(m.currencies.Value(d.Amount.Currency)).Add(float64(d.Amount.Units))
	}
}
