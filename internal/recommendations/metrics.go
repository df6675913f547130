package recommendations

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// metrics are Recommendations' own: bookshop_recommendations_served_total
// by category, the gauge bookshop_live_streams, and the gauge
// bookshop_recommendations_books (the books of its copy of the catalog).
// A nil *metrics counts nothing.
type metrics struct {
	served      *prometheus.CounterVec
	liveStreams prometheus.Gauge
	books       prometheus.Gauge
}

// newMetrics registers Recommendations' metrics with m (see
// telemetry.Register); a nil m counts in vain.
func newMetrics(m *telemetry.Metrics) *metrics {
	return &metrics{
		served: telemetry.Register(m, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_recommendations_served_total",
			Help: "Books recommended by the Recommendations service, by category.",
		}, []string{"category"})),
		liveStreams: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_live_streams",
			Help: "Live recommendation streams open on the Recommendations service.",
		})),
		books: telemetry.Register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_recommendations_books",
			Help: "Books in the Recommendations service's copy of the catalog.",
		})),
	}
}

func (m *metrics) liveStreamOpened() {
	if m != nil {
		m.liveStreams.Inc()
	}
}

func (m *metrics) liveStreamClosed() {
	if m != nil {
		m.liveStreams.Dec()
	}
}

func (m *metrics) setBooks(n int) {
	if m != nil {
		m.books.Set(float64(n))
	}
}

// counting returns r, counting the books it recommends by category. Each
// category's series is looked up once, at its first use, not at every
// call; any number of categories works.
func (m *metrics) counting(r bookshop.Recommender) bookshop.Recommender {
	if m == nil {
		return r
	}
	c := &countingRecommender{next: r, served: make(map[bookshop.Category]prometheus.Counter)}
	for _, cat := range bookshop.Categories() {
		c.served[cat] = m.served.WithLabelValues(cat.String())
	}
	return c
}

// countingRecommender counts into series looked up at start, one per
// category: the map is only read after that.
type countingRecommender struct {
	next   bookshop.Recommender
	served map[bookshop.Category]prometheus.Counter
}

func (c *countingRecommender) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	books, err := c.next.Recommend(ctx, req)
	if counter, ok := c.served[req.Category]; ok && err == nil && len(books) > 0 {
		counter.Add(float64(len(books)))
	}
	return books, err
}

// RecommendAppend is Recommend, appending to dst, when the recommender it
// counts for can (see booksAppender).
func (c *countingRecommender) RecommendAppend(ctx context.Context, req bookshop.RecommendRequest, dst []bookshop.Book) ([]bookshop.Book, error) {
	n := len(dst)
	var err error
	if a, ok := c.next.(booksAppender); ok {
		dst, err = a.RecommendAppend(ctx, req, dst)
	} else {
		var books []bookshop.Book
		books, err = c.next.Recommend(ctx, req)
		dst = append(dst, books...)
	}
	if counter, ok := c.served[req.Category]; ok && err == nil && len(dst) > n {
		counter.Add(float64(len(dst) - n))
	}
	return dst, err
}
