package inventory

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The outcomes of bookshop_inventory_reservations_total besides the
// states a reservation reaches (held, committed, released, expired).
const (
	outcomeSoldOut  = "sold_out" // a Reserve refused: too few copies
	outcomeReplayed = "replayed" // a Reserve whose key had reserved: a retry
)

// outcomes are every outcome, so that each is exported at zero from the
// start.
var outcomes = []string{Held, outcomeSoldOut, outcomeReplayed, Committed, Released, Expired}

// metrics are the Inventory's own: bookshop_inventory_reservations_total
// by outcome, and bookshop_inventory_stockouts_total. A nil *metrics
// counts nothing.
type metrics struct {
	reservations   *prometheus.CounterVec
	stockOutsTotal prometheus.Counter
}

// newMetrics registers the Inventory's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	mm := &metrics{
		reservations: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_inventory_reservations_total",
			Help: "Reservations by outcome: held (a Reserve that held), sold_out (a Reserve refused for too few copies), " +
				"replayed (a Reserve whose idempotency key had held: a retry), committed, released, expired (held past their expiry).",
		}, []string{"outcome"})),
		stockOutsTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_inventory_stockouts_total",
			Help: "Books whose last available copy a reservation took: each time a book went out of stock.",
		})),
	}
	for _, o := range outcomes {
		mm.reservations.WithLabelValues(o)
	}
	return mm
}

// reserved counts a reservation's outcome.
func (m *metrics) reserved(outcome string) {
	if m != nil {
		m.reservations.WithLabelValues(outcome).Inc()
	}
}

// expired counts n reservations expired by the sweeper.
func (m *metrics) expired(n int) {
	if m != nil && n > 0 {
		m.reservations.WithLabelValues(Expired).Add(float64(n))
	}
}

// stockOuts counts n books gone out of stock.
func (m *metrics) stockOuts(n int) {
	if m != nil && n > 0 {
		m.stockOutsTotal.Add(float64(n))
	}
}
