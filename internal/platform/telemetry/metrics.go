package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
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
//   - each slice's own (bookshop_*), which the slice makes and registers
//     with Register;
//   - the Go runtime (go_*) and the process (process_*).
//
// With WithExemplars, when a call or request is traced, its latency and
// count carry the trace id as an exemplar, which links a point of a
// dashboard to its trace.
//
// A nil *Metrics counts nothing: the methods that servers call as they
// serve (ObserveHTTP, InitServer) do nothing on it, and Register returns
// the collector it is given, registered nowhere. Those
// that set a server or client up (ServerInterceptors, ClientInterceptors,
// Handler) need a real one.
type Metrics struct {
	registry     *prometheus.Registry
	grpcServer   *grpcMetrics
	grpcClient   *grpcMetrics
	httpDuration *prometheus.HistogramVec
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
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration,
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
// authorization or validation too. Call InitServer once the services are
// registered.
func (m *Metrics) ServerInterceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	return m.grpcServer.unaryServer, m.grpcServer.streamServer
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

// Register registers a slice's own collector c in the process's registry
// and returns it; when an equal collector (same names, labels and help) is
// registered already, as when one process runs several replicas of a
// service, it returns that one, so that the replicas count together. On a
// nil *Metrics it returns c, registered nowhere, which counts in vain.
// It panics when c clashes with a different collector of the same name,
// as prometheus.MustRegister does: the names are constants of the code,
// so a clash is a programming error that the first test of the slice
// finds, not a condition a running service could meet.
func Register[C prometheus.Collector](m *Metrics, c C) C {
	if m == nil {
		return c
	}
	err := m.registry.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(fmt.Sprintf("telemetry.Register: %v", err))
	}
	return c
}
