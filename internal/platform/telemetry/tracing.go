package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/stats"
)

// Tracing makes the spans of one service: a server span for each call or
// request it serves, a client span for each call it makes, with W3C trace
// context (traceparent, tracestate, and baggage) passed on in gRPC
// metadata, so that a page load and the calls it makes are one trace. At
// the public HTTP edge a caller's traceparent is linked, not continued
// (see HTTPHandler).
//
// A nil *Tracing traces nothing: the servers and clients are then built
// without the OpenTelemetry handlers at all, so that tracing costs nothing
// when it is off.
type Tracing struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// NewTracing returns a Tracing whose spans go to tp. Its Shutdown does
// nothing: tp's owner shuts it down. For tests, with an in-memory
// exporter, and for programs that make their own provider.
func NewTracing(tp trace.TracerProvider) *Tracing {
	return &Tracing{
		provider:   tp,
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
	}
}

// TracingFromEnv returns the tracing of service as the standard
// OpenTelemetry environment asks for it, or nil, with no error, when it
// asks for none:
//
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or else
//     OTEL_EXPORTER_OTLP_ENDPOINT: where to export spans, over OTLP/gRPC,
//     such as http://otel-collector:4317 (http: in plaintext, https: with
//     TLS). Unset or empty: no tracing.
//   - OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: no tracing.
//   - OTEL_SERVICE_NAME: the service's name, instead of service.
//
// The SDK reads the other standard variables itself, from the process's
// environment: OTEL_TRACES_SAMPLER (by default every trace is sampled,
// unless the caller's traceparent says otherwise), OTEL_RESOURCE_ATTRIBUTES,
// OTEL_EXPORTER_OTLP_HEADERS and the like. Spans are exported in batches,
// in the background; Shutdown exports what is left.
func TracingFromEnv(ctx context.Context, service, version string, getenv func(string) string) (*Tracing, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return nil, nil
	}
	endpoint, name := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if endpoint == "" {
		endpoint, name = getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	if endpoint == "" {
		return nil, nil
	}
	if err := checkEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("%s=%q: %w", name, endpoint, err)
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := getenv(v); p != "" && p != "grpc" {
			return nil, fmt.Errorf("%s=%q: only grpc is supported", v, p)
		}
	}
	if s := getenv("OTEL_SERVICE_NAME"); s != "" {
		service = s
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %w", endpoint, err)
	}
	// The resource: the SDK's, OTEL_RESOURCE_ATTRIBUTES, then the name and
	// version, which win.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithFromEnv(),
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(version)))
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := NewTracing(tp)
	t.shutdown = tp.Shutdown
	return t, nil
}

// checkEndpoint refuses what the exporter would silently replace with its
// default, https://localhost:4317.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return errors.New("want a URL such as http://otel-collector:4317")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want a URL such as http://otel-collector:4317, starting with http:// (plaintext) or https:// (TLS)")
	}
	return nil
}

// Shutdown exports the spans not yet exported and stops the exporter. It
// does nothing on a nil *Tracing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// untraced reports whether a gRPC method is left out of traces: the health
// checks, which every balancer and probe makes all the time, and server
// reflection.
func untraced(info *stats.RPCTagInfo) bool {
	return strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(info.FullMethodName, "/grpc.reflection.")
}

// grpcOptions are the options of both gRPC handlers. OpenTelemetry's
// metrics are turned off: the Prometheus ones count the calls.
func (t *Tracing) grpcOptions() []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool { return !untraced(info) }),
	}
}

// ServerHandler returns the gRPC stats handler that makes a server span for
// each call, the child of the caller's span when its metadata carries one.
// Give it to grpc.StatsHandler.
func (t *Tracing) ServerHandler() stats.Handler {
	return otelgrpc.NewServerHandler(t.grpcOptions()...)
}

// ClientHandler returns the gRPC stats handler that makes a client span for
// each call, and passes its trace context on in the call's metadata. Give
// it to grpc.WithStatsHandler.
func (t *Tracing) ClientHandler() stats.Handler {
	return otelgrpc.NewClientHandler(t.grpcOptions()...)
}

// HTTPHandler returns h wrapped in a server span for each request, for a
// public endpoint: each request starts a trace of its own, linked to the
// caller's span when its traceparent header names one, rather than
// continuing it, so that a client on the internet can neither choose the
// trace ids in our logs nor force sampling; and the caller's baggage is
// not read, so that none of it travels on to the services behind. The
// span is named after the method until the route is known; see SetRoute.
// Requests for which skip returns true are not traced.
//
// The span records the request's path (url.path) as path returns it, or
// as it is when path is nil: for routes whose paths hold what a trace
// must not (a live session's id, which lets whoever holds it post to the
// session), path returns their pattern. h gets the request as it came.
func (t *Tracing) HTTPHandler(h http.Handler, skip func(*http.Request) bool, path func(*http.Request) string) http.Handler {
	inner := h
	if path != nil {
		// The request as it came, under the copy that otelhttp saw.
		inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, ok := r.Context().Value(requestURL{}).(*url.URL); ok {
				r = r.WithContext(r.Context())
				r.URL = u
			}
			h.ServeHTTP(w, r)
		})
	}
	traced := otelhttp.NewHandler(inner, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !skip(r) }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
	if path == nil {
		return traced
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path(r)
		if p == r.URL.Path {
			traced.ServeHTTP(w, r)
			return
		}
		// A shallow copy whose URL has the path to record; the request's
		// own URL goes along in the context, for inner to put back.
		u := *r.URL
		u.Path, u.RawPath = p, ""
		shown := r.WithContext(context.WithValue(r.Context(), requestURL{}, r.URL))
		shown.URL = &u
		traced.ServeHTTP(w, shown)
	})
}

// requestURL is the context key of a request's own URL, under the copy
// of the request that HTTPHandler gives otelhttp.
type requestURL struct{}

// SetRoute names ctx's server span after the route that matched the
// request, such as "GET /books/{id}", as OpenTelemetry's conventions ask:
// a name that does not grow with the paths clients ask for. It does
// nothing when ctx has no span being recorded.
func SetRoute(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() || route == "" {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route))
}
