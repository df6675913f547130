package orders

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// metrics are the Orders service's own: bookshop_orders_created_total,
// bookshop_orders_sales_minor_units_total (by currency, at most
// maxCurrencySeries of them, the rest as "other"; the series of
// bookshop.DefaultCurrency from the start),
// bookshop_orders_create_replays_total,
// bookshop_orders_create_refused_total and
// bookshop_orders_cancelled_total. A nil *metrics counts nothing.
type metrics struct {
	createdTotal, replaysTotal, refusedTotal, cancelledTotal prometheus.Counter
	salesTotal                                               *prometheus.CounterVec
	currencies                                               *telemetry.CappedValues // salesTotal's
}

// maxCurrencySeries caps the series of bookshop_orders_sales_minor_units_total:
// any three capital letters make a valid currency, so the sales of the
// currencies past the first maxCurrencySeries are counted under
// currency="other" rather than let an order make a series of its own.
const maxCurrencySeries = 16

// newMetrics registers the Orders service's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	ms := &metrics{
		createdTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_orders_created_total",
			Help: "Orders recorded (CreateOrder calls that recorded a new order).",
		})),
		salesTotal: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_orders_sales_minor_units_total",
			Help: "The totals of the orders recorded, in the minor units of their currency (cents for EUR), by currency; cancelled orders are not taken off.",
		}, []string{"currency"})),
		replaysTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_orders_create_replays_total",
			Help: "CreateOrder calls that recorded nothing because their idempotency key had recorded the same order: retries of a creation done.",
		})),
		refusedTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_orders_create_refused_total",
			Help: "CreateOrder calls refused by the rules of an order (its lines do not add up, say) or for a key used for another order.",
		})),
		cancelledTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_orders_cancelled_total",
			Help: "Orders cancelled (CancelOrder calls that cancelled a placed order).",
		})),
	}
	// The shop's usual currency has its series from the start, at 0, so
	// that a dashboard shows the sales before the first order.
	ms.salesTotal.WithLabelValues(bookshop.DefaultCurrency)
	ms.currencies = telemetry.NewCappedValues(maxCurrencySeries, bookshop.DefaultCurrency)
	return ms
}

func (m *metrics) recorded(o bookshop.Order) {
	if m != nil {
		m.createdTotal.Inc()
		m.salesTotal.WithLabelValues(m.currencies.Value(o.Total.Currency)).Add(float64(o.Total.Units))
	}
}

func (m *metrics) replayed() {
	if m != nil {
		m.replaysTotal.Inc()
	}
}

func (m *metrics) refused() {
	if m != nil {
		m.refusedTotal.Inc()
	}
}

func (m *metrics) cancelled() {
	if m != nil {
		m.cancelledTotal.Inc()
	}
}
