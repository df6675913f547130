package cart

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// metrics are the Cart's own: bookshop_cart_items_added_total,
// bookshop_cart_add_retries_total, bookshop_cart_merges_total,
// bookshop_cart_catalog_unavailable_total and
// bookshop_cart_guest_carts_swept_total. A nil *metrics counts nothing.
type metrics struct {
	addedTotal, retriesTotal, mergesTotal, unavailableTotal, sweptTotal prometheus.Counter
}

// newMetrics registers the Cart's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	return &metrics{
		addedTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_cart_items_added_total",
			Help: "Copies of books added to carts (AddItem calls that succeeded, by their quantities).",
		})),
		retriesTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_cart_add_retries_total",
			Help: "AddItem calls that added nothing because their idempotency key had already added: retries of an addition done.",
		})),
		mergesTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_cart_merges_total",
			Help: "Merges of a cart that held lines into another: a guest signing in with a cart.",
		})),
		unavailableTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_cart_catalog_unavailable_total",
			Help: "Carts that could not be priced because the Catalog failed or could not be reached.",
		})),
		sweptTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_cart_guest_carts_swept_total",
			Help: "Guests' carts deleted after going unchanged for the guest lifetime (CART_GUEST_TTL).",
		})),
	}
}

func (m *metrics) added(quantity int) {
	if m != nil {
		m.addedTotal.Add(float64(quantity))
	}
}

func (m *metrics) replayed() {
	if m != nil {
		m.retriesTotal.Inc()
	}
}

func (m *metrics) merged() {
	if m != nil {
		m.mergesTotal.Inc()
	}
}

func (m *metrics) catalogUnavailable() {
	if m != nil {
		m.unavailableTotal.Inc()
	}
}

func (m *metrics) swept(n int) {
	if m != nil && n > 0 {
		m.sweptTotal.Add(float64(n))
	}
}
