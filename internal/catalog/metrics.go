package catalog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// metrics are the Catalog's own: bookshop_books_imported_total,
// bookshop_books_rejected_total and the gauges bookshop_catalog_watches
// and bookshop_catalog_imports. A nil *metrics counts nothing.
type metrics struct {
	importedTotal, rejectedTotal prometheus.Counter
	watches, imports             prometheus.Gauge
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
		imports: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_catalog_imports",
			Help: fmt.Sprintf("ImportBooks streams on the Catalog, the one writing and those waiting for it: at most %d, past which imports are refused.", MaxImports),
		})),
	}
}

// imported counts an import of items items that res reports. A replayed
// import wrote nothing now, and counts nothing.
func (m *metrics) imported(items int, res bookshop.ImportResult) {
	if m != nil && !res.Replayed {
		m.importedTotal.Add(float64(res.Imported))
		// The report names at most bookshop.MaxRejectionsReported; every
		// item not imported was rejected.
		m.rejectedTotal.Add(float64(items - res.Imported))
	}
}

// importing counts an import from its start (+1) to its end (-1).
func (m *metrics) importing(delta float64) {
	if m != nil {
		m.imports.Add(delta)
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
