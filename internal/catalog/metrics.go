package catalog

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// metrics are the Catalog's own: bookshop_books_imported_total,
// bookshop_books_rejected_total and the gauge bookshop_catalog_watches.
// A nil *metrics counts nothing.
type metrics struct {
	importedTotal, rejectedTotal prometheus.Counter
	watches                      prometheus.Gauge
}

// newMetrics registers the Catalog's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	return &metrics{
		importedTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_books_imported_total",
			Help: "Books added to the catalog by imports.",
		})),
		rejectedTotal: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_books_rejected_total",
			Help: "Books refused by imports, each for a reason given in the import's report.",
		})),
		watches: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_catalog_watches",
			Help: "WatchBooks streams open on the Catalog: services following the catalog's changes.",
		})),
	}
}

func (m *metrics) imported(res bookshop.ImportResult) {
	if m != nil {
		m.importedTotal.Add(float64(res.Imported))
		m.rejectedTotal.Add(float64(len(res.Rejected)))
	}
}

func (m *metrics) watchOpened() {
	if m != nil {
		m.watches.Inc()
	}
}

func (m *metrics) watchClosed() {
	if m != nil {
		m.watches.Dec()
	}
}
