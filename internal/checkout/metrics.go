package checkout

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The outcomes of checkouts, the values of the label outcome of
// bookshop_checkout_checkouts_total.
const (
	outcomePlaced       = "placed"
	outcomeSoldOut      = "sold_out"
	outcomeDeclined     = "declined"
	outcomeTotalChanged = "total_changed"
	outcomeRefused      = "refused" // an empty cart, one whose total no one payment can take, one whose books are not those confirmed, or one another checkout is buying
	outcomeInvalid      = "invalid" // a malformed request, a card refused, a key reused
	outcomeUnavailable  = "unavailable"
	outcomeInternal     = "internal"
)

// The results of taking up an unfinished checkout, the values of the
// label result of bookshop_checkout_recovered_total.
const (
	recoveredFinished = "finished"
	recoveredUndone   = "undone"
	recoveredStalled  = "stalled"
)

// metrics are the Checkout's own: bookshop_checkout_checkouts_total by
// outcome, bookshop_checkout_recovered_total by result, and the gauges
// bookshop_checkout_unfinished and
// bookshop_checkout_unfinished_oldest_age_seconds. A nil *metrics counts
// nothing.
type metrics struct {
	checkouts, recoveries *prometheus.CounterVec
	unfinishedGauge       prometheus.Gauge
	oldestGauge           prometheus.Gauge
}

// newMetrics registers the Checkout's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	mt := &metrics{
		checkouts: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_checkout_checkouts_total",
			Help: "Checkouts ended, by outcome: placed, sold_out, declined, total_changed, refused (an empty cart), invalid, unavailable (nothing charged in the end) or internal.",
		}, []string{"outcome"})),
		recoveries: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_checkout_recovered_total",
			Help: "Unfinished checkouts taken up by the recoverer, by result: finished (the order placed), undone, or stalled (a service it needs is still down).",
		}, []string{"result"})),
		unfinishedGauge: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_checkout_unfinished",
			Help: "Checkouts recorded but not ended when the recoverer last looked: those running, and those waiting for a service.",
		})),
		oldestGauge: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_checkout_unfinished_oldest_age_seconds",
			Help: "How long ago the oldest checkout not ended began, when the recoverer last looked; 0 when none. A checkout older than a few minutes waits for a service that does not answer.",
		})),
	}
	for _, o := range []string{outcomePlaced, outcomeSoldOut, outcomeDeclined, outcomeTotalChanged, outcomeRefused, outcomeInvalid, outcomeUnavailable, outcomeInternal} {
		mt.checkouts.WithLabelValues(o)
	}
	for _, r := range []string{recoveredFinished, recoveredUndone, recoveredStalled} {
		mt.recoveries.WithLabelValues(r)
	}
	return mt
}

func (m *metrics) outcome(o string) {
	if m != nil {
		m.checkouts.WithLabelValues(o).Inc()
	}
}

func (m *metrics) recovered(result string) {
	if m != nil {
		m.recoveries.WithLabelValues(result).Inc()
	}
}

func (m *metrics) unfinished(n int, oldest time.Duration) {
	if m != nil {
		m.unfinishedGauge.Set(float64(n))
		m.oldestGauge.Set(oldest.Seconds())
	}
}
