package orders

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// TestSalesSeriesCapped records orders in more currencies than
// maxCurrencySeries: the sales metric keeps at most that many series of
// their own, and counts the rest under currency="other".
func TestSalesSeriesCapped(t *testing.T) {
	reg := telemetry.NewMetrics()
	m := newMetrics(reg)
	for i := range maxCurrencySeries + 10 {
		currency := string([]byte{'A' + byte(i/26), 'A' + byte(i%26), 'X'})
		m.recorded(bookshop.Order{Total: bookshop.Money{Units: 100, Currency: currency}})
	}
	m.recorded(bookshop.Order{Total: bookshop.Money{Units: 5, Currency: bookshop.DefaultCurrency}})
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	const name = "bookshop_orders_sales_minor_units_total{"
	var series []string
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, name) {
			series = append(series, strings.TrimSpace(line))
		}
	}
	if len(series) != maxCurrencySeries+1 {
		t.Errorf("%d series of sales, want %d (the cap, and other):\n%s", len(series), maxCurrencySeries+1, strings.Join(series, "\n"))
	}
	// The shop's currency has its series from the start, so 15 others
	// fit: 11 count under other.
	for _, want := range []string{name + `currency="other"} 1100`, name + `currency="` + bookshop.DefaultCurrency + `"} 5`} {
		if !strings.Contains(rec.Body.String(), "\n"+want+"\n") {
			t.Errorf("/metrics has no line %q", want)
		}
	}
}
