package payments

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The results of a Charge, as bookshop_payments_charges_total counts
// them.
const (
	resultApproved    = "approved"    // a new charge, approved
	resultDeclined    = "declined"    // a new charge, declined
	resultUnavailable = "unavailable" // the processor could not be reached: nothing recorded
	resultRetry       = "retry"       // a key already used, for the same charge: answered as before
	resultConflict    = "conflict"    // a key already used for another charge, or cancelled: refused
)

// metrics are the Payments service's own: bookshop_payments_charges_total
// by result, bookshop_payments_refunds_total and
// bookshop_payments_keys_cancelled_total. A nil *metrics counts nothing.
type metrics struct {
	chargesTotal   *prometheus.CounterVec
	refundsTotal   prometheus.Counter
	cancelledTotal prometheus.Counter
}

// newMetrics registers the Payments service's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	mt := &metrics{
		chargesTotal: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_payments_charges_total",
			Help: "Charges asked for with a valid card, by result: approved or declined (new charges, recorded), unavailable (the processor could not be reached: nothing recorded), retry (a key already used, for the same charge: answered as before, nothing charged) or conflict (a key already used for another charge, or cancelled: refused).",
		}, []string{"result"})),
		refundsTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_payments_refunds_total",
			Help: "Charges refunded (a refund of a charge already refunded is not counted again).",
		})),
		cancelledTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_payments_keys_cancelled_total",
			Help: "Idempotency keys cancelled by a refund before they made any charge: a caller making sure that a charge it lost track of takes nothing.",
		})),
	}
	// Every result from the start, so that a rate is 0 rather than absent.
	for _, r := range []string{resultApproved, resultDeclined, resultUnavailable, resultRetry, resultConflict} {
		mt.chargesTotal.WithLabelValues(r)
	}
	return mt
}

func (m *metrics) charged(result string) {
	if m != nil {
		m.chargesTotal.WithLabelValues(result).Inc()
	}
}

func (m *metrics) refunded() {
	if m != nil {
		m.refundsTotal.Inc()
	}
}

func (m *metrics) cancelled() {
	if m != nil {
		m.cancelledTotal.Inc()
	}
}
