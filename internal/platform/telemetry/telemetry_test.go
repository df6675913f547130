package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

func TestTracingFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		on      bool
		wantErr string
	}{
		{"nothing set: off", nil, false, ""},
		{"empty endpoint: off", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, false, ""},
		{"endpoint: on", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, true, ""},
		{"traces endpoint: on", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example:4317"}, true, ""},
		{"SDK disabled wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_SDK_DISABLED": "true"}, false, ""},
		{"exporter none wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_TRACES_EXPORTER": "none"}, false, ""},
		{"no scheme", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, false, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"not a URL", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://[::1"}, false, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"HTTP protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, false, "only grpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tr, err := telemetry.TracingFromEnv(ctx, "test", "dev", func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("TracingFromEnv(%v) error = %v, want one naming %q", tc.env, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TracingFromEnv(%v) = %v", tc.env, err)
			}
			if (tr != nil) != tc.on {
				t.Errorf("TracingFromEnv(%v) on = %v, want %v", tc.env, tr != nil, tc.on)
			}
			if err := tr.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "test")
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	logger.InfoContext(context.Background(), "untraced", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6)
	logger.InfoContext(ctx, "traced", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), buf.String())
	}
	var untraced, traced map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &untraced); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &traced); err != nil {
		t.Fatal(err)
	}
	if _, ok := untraced["trace_id"]; ok {
		t.Errorf("line without a span has a trace_id: %s", lines[0])
	}
	sc := span.SpanContext()
	if traced["trace_id"] != sc.TraceID().String() || traced["span_id"] != sc.SpanID().String() {
		t.Errorf("traced line = %s, want trace_id %s and span_id %s", lines[1], sc.TraceID(), sc.SpanID())
	}
	if traced["service"] != "test" || traced["f"] != float64(6) {
		t.Errorf("traced line lost attributes: %s", lines[1])
	}
}

func TestObserveHTTPBoundsLabels(t *testing.T) {
	m := telemetry.NewMetrics()
	m.ObserveHTTP(context.Background(), "BREW", "", 418, time.Millisecond)
	m.ObserveHTTP(context.Background(), http.MethodGet, "/books/{id}", 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`http_request_duration_seconds_count{code="418",method="OTHER",route="none"} 1`,
		`http_request_duration_seconds_count{code="200",method="GET",route="/books/{id}"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "BREW") {
		t.Errorf("a client's method name became a label value")
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *telemetry.Metrics
	m.ObserveHTTP(context.Background(), http.MethodGet, "/", 200, time.Millisecond)
	m.InitServer(nil)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "bookshop_test_total", Help: "A test."})
	if got := telemetry.Register(m, c); got != c {
		t.Errorf("Register(nil, c) = %v, want c itself", got)
	}
}

func TestRegisterSharesEqualCollectors(t *testing.T) {
	m := telemetry.NewMetrics()
	opts := prometheus.CounterOpts{Name: "bookshop_things_total", Help: "Things."}
	first := telemetry.Register(m, prometheus.NewCounter(opts))
	second := telemetry.Register(m, prometheus.NewCounter(opts))
	if first != second {
		t.Fatalf("Register of an equal collector returned a new one; want the one registered first, so that replicas count together")
	}
	second.Add(2)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "bookshop_things_total 2") {
		t.Errorf("/metrics has no bookshop_things_total 2:\n%s", rec.Body.String())
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Register of a clashing collector (same name, other help) did not panic")
		}
	}()
	telemetry.Register(m, prometheus.NewCounter(prometheus.CounterOpts{Name: "bookshop_things_total", Help: "Other things."}))
}

func TestAdminHandler(t *testing.T) {
	h := telemetry.AdminHandler(telemetry.NewMetrics())
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/metrics", "go_goroutines", http.StatusOK},
		{"/debug/pprof/", "goroutine", http.StatusOK},
		{"/debug/pprof/heap?debug=1", "heap profile", http.StatusOK},
		{"/", "/metrics", http.StatusOK},
		{"/debug/pprof/profile?seconds=100000", "at most", http.StatusBadRequest},
		{"/debug/pprof/heap?seconds=100000", "at most", http.StatusBadRequest},
		{"/debug/pprof/trace?seconds=-1", "seconds", http.StatusBadRequest},
		{"/debug/pprof/trace?seconds=0.05", "", http.StatusOK},
		{"/elsewhere", "", http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s = %d %.100q, want %d with %q", tc.path, rec.Code, rec.Body.String(), tc.code, tc.want)
		}
	}
}

// TestExemplars checks that, with WithExemplars, a traced request's
// latency carries its trace id, as OpenMetrics shows it, and that without
// it none does.
func TestExemplars(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	traceID := span.SpanContext().TraceID().String()
	for _, tc := range []struct {
		name string
		opts []telemetry.MetricsOption
		want bool
	}{
		{"with", []telemetry.MetricsOption{telemetry.WithExemplars()}, true},
		{"without", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := telemetry.NewMetrics(tc.opts...)
			m.ObserveHTTP(ctx, http.MethodGet, "/{$}", 200, 3*time.Millisecond)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, req)
			if got := strings.Contains(rec.Body.String(), `trace_id="`+traceID+`"`); got != tc.want {
				t.Errorf("exemplar with the trace id in the OpenMetrics scrape: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHTTPHandlerPath checks that a request's span records its path as
// HTTPHandler's path function says, so that a secret in a path (a live
// session's id) stays out of traces, while the handler gets the path as
// it came.
func TestHTTPHandlerPath(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	var seen []string
	h := telemetry.NewTracing(tp).HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	}), func(*http.Request) bool { return false }, func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/live/") {
			return "/live/{session}/events"
		}
		return r.URL.Path
	})
	for _, target := range []string{"/live/SECRETSESSIONID/events", "/books/1"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, target, nil))
	}
	if want := []string{"/live/SECRETSESSIONID/events", "/books/1"}; !slices.Equal(seen, want) {
		t.Errorf("the handler got the paths %q, want %q, as they came", seen, want)
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for i, want := range []string{"/live/{session}/events", "/books/1"} {
		var path string
		for _, a := range spans[i].Attributes() {
			if a.Key == "url.path" {
				path = a.Value.String()
			}
			if strings.Contains(a.Value.String(), "SECRET") {
				t.Errorf("span %d records %s = %q, which holds the secret of the path", i, a.Key, a.Value.String())
			}
		}
		if path != want {
			t.Errorf("span %d records url.path %q, want %q", i, path, want)
		}
	}
}

// TestAdminServer serves AdminServer on loopback: a request with more
// than 32 KiB of headers is refused with 431; and its other bounds are
// set, 5 s for the headers, 10 s for the request and 30 s for the
// answer, which net/http/pprof extends by a profile's length.
func TestAdminServer(t *testing.T) {
	srv := telemetry.AdminServer(telemetry.NewMetrics(), nil)
	if srv.ReadHeaderTimeout != 5*time.Second || srv.ReadTimeout != 10*time.Second || srv.WriteTimeout != 30*time.Second {
		t.Errorf("timeouts: headers %v, request %v, answer %v; want 5s, 10s and 30s", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+lis.Addr().String()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("x", 40<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics with 40 KiB of headers: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET /metrics with 40 KiB of headers = %d, want 431", resp.StatusCode)
	}
}
