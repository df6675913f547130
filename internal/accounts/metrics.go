package accounts

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// The results of a sign-in, as bookshop_accounts_signins_total labels them.
const (
	resultOK        = "ok"        // signed in
	resultWrong     = "wrong"     // a wrong email or password
	resultThrottled = "throttled" // refused: too many failures
)

// metrics are the Accounts service's own: bookshop_accounts_signups_total,
// bookshop_accounts_signins_total{result} and the gauge bookshop_accounts_sessions. A nil
// *metrics counts nothing.
type metrics struct {
	signUps  prometheus.Counter
	signIns  *prometheus.CounterVec
	sessions prometheus.Gauge
}

// newMetrics registers the Accounts service's metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	ms := &metrics{
		signUps: telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_accounts_signups_total",
			Help: "Accounts opened.",
		})),
		signIns: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_accounts_signins_total",
			Help: "Sign-ins, by result: ok, wrong (a wrong email or password) or throttled (refused after too many failures).",
		}, []string{"result"})),
		sessions: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_accounts_sessions",
			Help: "Signed-in sessions that have not ended: counted from the database at start and at each sweep of expired sessions, and kept up to date between.",
		})),
	}
	// Every result shows from the start, at 0, so that a rate over it is
	// defined before the first failure.
	for _, r := range []string{resultOK, resultWrong, resultThrottled} {
		ms.signIns.WithLabelValues(r)
	}
	return ms
}

func (m *metrics) signedUp() {
	if m != nil {
		m.signUps.Inc()
	}
}

func (m *metrics) signedIn(result string) {
	if m != nil {
		m.signIns.WithLabelValues(result).Inc()
	}
}

func (m *metrics) sessionsChanged(delta int) {
	if m != nil {
		m.sessions.Add(float64(delta))
	}
}

func (m *metrics) setSessions(n int) {
	if m != nil {
		m.sessions.Set(float64(n))
	}
}
