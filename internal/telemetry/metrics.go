package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
)

// latencyBuckets are the bounds, in seconds, of every latency histogram: a
// Recommend call takes well under a millisecond on loopback, a page a few,
// and a call that waits for its deadline a second or more.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics are the Prometheus metrics of one process, in a registry of
// their own:
//
//   - gRPC servers: grpc_server_started_total, grpc_server_handled_total
//     (by grpc_type, grpc_service, grpc_method and grpc_code),
//     grpc_server_msg_received_total, grpc_server_msg_sent_total, and the
//     histogram grpc_server_handling_seconds, for unary and streaming calls,
//     as go-grpc-prometheus named them (see grpcMetrics);
//   - gRPC clients: the same, grpc_client_*;
//   - the Marketplace: the histogram http_request_duration_seconds by
//     method, route (the pattern that matched, such as /books/{id}) and
//     code;
//   - Bookshop's own: bookshop_recommendations_served_total by category,
//     bookshop_books_imported_total, bookshop_books_rejected_total, and the
//     gauges bookshop_live_streams (Recommendations) and
//     bookshop_live_sessions (Marketplace);
//   - the Go runtime (go_*) and the process (process_*).
//
// With WithExemplars, when a call or request is traced, its latency and
// count carry the trace id as an exemplar, which links a point of a
// dashboard to its trace.
//
// A nil *Metrics counts nothing: the methods that servers call as they
// serve (ObserveHTTP, LiveSessionOpened and Closed, InitServer) do nothing
// on it, and Recommender and Importer return what they are given. Those
// that set a server or client up (ServerInterceptors, ClientInterceptors,
// Handler) need a real one.
type Metrics struct {
	registry     *prometheus.Registry
	grpcServer   *grpcMetrics
	grpcClient   *grpcMetrics
	httpDuration *prometheus.HistogramVec
	recommended  *prometheus.CounterVec
	imported     prometheus.Counter
	rejected     prometheus.Counter
	liveStreams  prometheus.Gauge
	liveSessions prometheus.Gauge
	exemplars    bool
}

// MetricsOption is an option of NewMetrics.
type MetricsOption func(*Metrics)

// WithExemplars makes the metrics of traced calls and requests carry
// their trace ids. Without it, the metrics do not look for a trace at all:
// give it when the process traces.
func WithExemplars() MetricsOption {
	return func(m *Metrics) {
		m.exemplars = true
		m.grpcServer.exemplars = true
		m.grpcClient.exemplars = true
	}
}

// NewMetrics returns the metrics of a process, registered in a new
// registry. One process makes one, and shares it between its servers and
// clients.
func NewMetrics(opts ...MetricsOption) *Metrics {
	m := &Metrics{
		registry:   prometheus.NewRegistry(),
		grpcServer: newGRPCMetrics("server"),
		grpcClient: newGRPCMetrics("client"),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time the Marketplace took to answer an HTTP request, by method, route and status code.",
			Buckets: latencyBuckets,
		}, []string{"method", "route", "code"}),
		recommended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bookshop_recommendations_served_total",
			Help: "Books recommended by the Recommendations service, by category.",
		}, []string{"category"}),
		imported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_books_imported_total",
			Help: "Books added to the catalog by imports.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bookshop_books_rejected_total",
			Help: "Books refused by imports, each for a reason given in the import's report.",
		}),
		liveStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_live_streams",
			Help: "Live recommendation streams open on the Recommendations service.",
		}),
		liveSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bookshop_live_sessions",
			Help: "Live recommendation sessions of shoppers' browsers open on the Marketplace.",
		}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration, m.recommended, m.imported, m.rejected, m.liveStreams, m.liveSessions,
	)
	for _, o := range opts {
		o(m)
	}
	m.registry.MustRegister(m.grpcServer.collectors()...)
	m.registry.MustRegister(m.grpcClient.collectors()...)
	return m
}

// Handler serves the metrics in the Prometheus text format, or in
// OpenMetrics, with exemplars, to a scraper that asks for it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		// A metric that fails to be gathered is left out, and the rest
		// served, rather than the whole scrape failing.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// exemplar is the trace id of ctx's span, as an exemplar label, when the
// span is sampled; else nil, which records no exemplar.
func exemplar(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return nil
	}
	return prometheus.Labels{"trace_id": sc.TraceID().String()}
}

// ServerInterceptors return the interceptors that count a gRPC server's
// calls, to run first, so that they count every call, those that fail
// authorization or validation too. They also keep bookshop_live_streams.
// Call InitServer once the services are registered.
func (m *Metrics) ServerInterceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	liveStream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if info.FullMethod != recommendationsv1.LiveRecommendationsService_LiveRecommend_FullMethodName {
			return m.grpcServer.streamServer(srv, ss, info, handler)
		}
		m.liveStreams.Inc()
		defer m.liveStreams.Dec()
		return m.grpcServer.streamServer(srv, ss, info, handler)
	}
	return m.grpcServer.unaryServer, liveStream
}

// InitServer makes every method of srv's services appear in the metrics,
// at zero, before its first call, so that a rate over them is defined from
// the start.
func (m *Metrics) InitServer(srv *grpc.Server) {
	if m != nil {
		m.grpcServer.init(srv)
	}
}

// ClientInterceptors return the interceptors that count a gRPC client's
// calls. A call is counted once, with the status it ended with, however
// many times it was retried.
func (m *Metrics) ClientInterceptors() (grpc.UnaryClientInterceptor, grpc.StreamClientInterceptor) {
	return m.grpcClient.unaryClient, m.grpcClient.streamClient
}

// ObserveHTTP records a request that the Marketplace answered. route is
// the pattern that matched ("" for none), which keeps the number of series
// small whatever paths clients ask for.
func (m *Metrics) ObserveHTTP(ctx context.Context, method, route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "OTHER" // any client can send any method name
	}
	if route == "" {
		route = "none"
	}
	obs := m.httpDuration.WithLabelValues(method, route, strconv.Itoa(code))
	if !m.exemplars {
		obs.Observe(d.Seconds())
		return
	}
	if ex := exemplar(ctx); ex != nil {
		obs.(prometheus.ExemplarObserver).ObserveWithExemplar(d.Seconds(), ex)
		return
	}
	obs.Observe(d.Seconds())
}

// LiveSessionOpened and LiveSessionClosed keep bookshop_live_sessions.
func (m *Metrics) LiveSessionOpened() {
	if m != nil {
		m.liveSessions.Inc()
	}
}

// LiveSessionClosed: see LiveSessionOpened.
func (m *Metrics) LiveSessionClosed() {
	if m != nil {
		m.liveSessions.Dec()
	}
}

// Recommender returns r, counting the books it recommends in
// bookshop_recommendations_served_total. It returns r itself when m is nil.
func (m *Metrics) Recommender(r bookshop.Recommender) bookshop.Recommender {
	if m == nil {
		return r
	}
	c := &countingRecommender{next: r}
	for cat := range c.served {
		c.served[cat] = m.recommended.WithLabelValues(bookshop.Category(cat).String())
	}
	return c
}

// countingRecommender counts into series looked up once per category, not
// at every call.
type countingRecommender struct {
	next   bookshop.Recommender
	served [bookshop.SelfHelp + 1]prometheus.Counter // by category
}

func (c *countingRecommender) Recommend(ctx context.Context, req bookshop.RecommendRequest) ([]bookshop.Book, error) {
	books, err := c.next.Recommend(ctx, req)
	if err == nil && len(books) > 0 && req.Category.Valid() {
		c.served[req.Category].Add(float64(len(books)))
	}
	return books, err
}

// Importer returns i, counting the books that its imports add and refuse
// in bookshop_books_imported_total and bookshop_books_rejected_total. It
// returns i itself when m is nil.
func (m *Metrics) Importer(i bookshop.Importer) bookshop.Importer {
	if m == nil {
		return i
	}
	return &countingImporter{next: i, imported: m.imported, rejected: m.rejected}
}

type countingImporter struct {
	next               bookshop.Importer
	imported, rejected prometheus.Counter
}

func (c *countingImporter) ImportBooks(ctx context.Context, items []bookshop.ImportItem) (bookshop.ImportResult, error) {
	res, err := c.next.ImportBooks(ctx, items)
	if err == nil {
		c.imported.Add(float64(res.Imported))
		c.rejected.Add(float64(len(res.Rejected)))
	}
	return res, err
}
