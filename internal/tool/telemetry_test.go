package tool_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/tool"
)

// upObserved matches what `bookshop up` prints when it serves the admin
// endpoints: the Marketplace URL, the first replica's address, the
// Catalog's address and the metrics URL.
var upObserved = regexp.MustCompile(`(?s)Marketplace:\s+(http://\S+/).*Recommendations:\s+([^ ,]+)\S* \(gRPC\).*Catalog:\s+(\S+) \(gRPC\).*Metrics:\s+(http://\S+)/metrics`)

// TestMetricsAfterTraffic runs `bookshop up` with its admin port, makes
// pages, unary and streaming calls, good and bad, then scrapes /metrics and
// checks the counters and histograms of exactly those calls.
func TestMetricsAfterTraffic(t *testing.T) {
	m := startCommand(t, upArgs("-admin-addr=127.0.0.1:0", "-marketplace-rate-limit=0"), upObserved)
	web, recs, catalog, admin := m[1], m[2], m[3], m[4]
	waitServing(t, recs, "Recommendations") // it holds the Catalog's books

	const homepages = 5
	for range homepages {
		get(t, web, http.StatusOK)
	}
	get(t, web+"books/1", http.StatusOK)
	get(t, web+"no/such/page", http.StatusNotFound)

	// A unary call refused by validation, straight to Recommendations.
	conn, err := grpc.NewClient(recs, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := testContext(t, 10*time.Second)
	_, err = recommendationspb.NewRecommendationsClient(conn).Recommend(ctx, &recommendationspb.RecommendationRequest{
		UserId: 1, Category: recommendationspb.BookCategory_MYSTERY, MaxResults: -1})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Recommend(max_results -1) = %v, want INVALID_ARGUMENT", err)
	}

	// A client-streaming import into the Catalog: one book added, one
	// refused by the service (the catalog has it already).
	csv := filepath.Join(t.TempDir(), "books.csv")
	content := "category,title,author,year,price\nmystery,The Clockwork Alibi,Ada Marsh,2024,15.99\nmystery,The Maltese Falcon,Dashiell Hammett,1930,10.99\n"
	if err := os.WriteFile(csv, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _ = runCmd(t, catalog, "import", csv) // it fails, naming the refused line
	// Recommendations follows the Catalog: the new book reaches its copy.
	waitFor(t, "Recommendations to hold the imported book", func() bool {
		v, ok := metricValue(scrape(t, admin+"/metrics"), "bookshop_recommendations_books", nil)
		return ok && v == 46
	})

	families := scrape(t, admin+"/metrics")
	checks := []struct {
		name   string
		labels map[string]string
		want   func(v float64) bool
		desc   string
	}{
		{"grpc_server_handled_total", map[string]string{"grpc_service": "Recommendations", "grpc_method": "Recommend", "grpc_type": "unary", "grpc_code": "OK"},
			func(v float64) bool { return v >= homepages }, ">= 5 (a call per homepage)"},
		{"grpc_server_handled_total", map[string]string{"grpc_service": "Recommendations", "grpc_method": "Recommend", "grpc_code": "InvalidArgument"},
			func(v float64) bool { return v == 1 }, "1"},
		{"grpc_server_handled_total", map[string]string{"grpc_service": "Recommendations", "grpc_method": "Recommend", "grpc_code": "Unavailable"},
			func(v float64) bool { return v == 0 }, "0 (initialized, never seen)"},
		{"grpc_server_handled_total", map[string]string{"grpc_service": "bookshop.catalog.v1.CatalogService", "grpc_method": "ImportBooks", "grpc_type": "client_stream", "grpc_code": "OK"},
			func(v float64) bool { return v == 1 }, "1"},
		{"grpc_server_msg_received_total", map[string]string{"grpc_method": "ImportBooks"},
			func(v float64) bool { return v >= 1 }, ">= 1"},
		{"grpc_server_handling_seconds", map[string]string{"grpc_service": "Recommendations", "grpc_method": "Recommend"},
			func(v float64) bool { return v >= homepages+1 }, ">= 6 observations"},
		{"grpc_server_handling_seconds", map[string]string{"grpc_method": "ImportBooks", "grpc_type": "client_stream"},
			func(v float64) bool { return v == 1 }, "1 observation"},
		{"grpc_client_handled_total", map[string]string{"grpc_service": "Recommendations", "grpc_method": "Recommend", "grpc_code": "OK"},
			func(v float64) bool { return v >= homepages }, ">= 5"},
		{"grpc_client_handling_seconds", map[string]string{"grpc_service": "Recommendations", "grpc_method": "Recommend"},
			func(v float64) bool { return v >= homepages }, ">= 5 observations"},
		{"http_request_duration_seconds", map[string]string{"method": "GET", "route": "/{$}", "code": "200"},
			func(v float64) bool { return v == homepages }, "5 observations"},
		{"http_request_duration_seconds", map[string]string{"method": "GET", "route": "/books/{id}", "code": "200"},
			func(v float64) bool { return v == 1 }, "1 observation"},
		{"http_request_duration_seconds", map[string]string{"method": "GET", "route": "/", "code": "404"},
			func(v float64) bool { return v == 1 }, "1 observation"},
		{"bookshop_recommendations_served_total", map[string]string{"category": "mystery"},
			func(v float64) bool { return v >= homepages }, ">= 5"},
		{"bookshop_books_imported_total", nil, func(v float64) bool { return v == 1 }, "1"},
		{"bookshop_books_rejected_total", nil, func(v float64) bool { return v == 1 }, "1"},
		{"bookshop_live_sessions", nil, func(v float64) bool { return v == 0 }, "0"},
		{"bookshop_live_streams", nil, func(v float64) bool { return v == 0 }, "0"},
		{"bookshop_catalog_watches", nil, func(v float64) bool { return v == 1 }, "1 (the one replica of Recommendations)"},
		{"grpc_server_handled_total", map[string]string{"grpc_service": "bookshop.catalog.v1.CatalogService", "grpc_method": "WatchBooks", "grpc_type": "server_stream", "grpc_code": "OK"},
			func(v float64) bool { return v == 0 }, "0 (the watch is still open)"},
		{"go_goroutines", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{"process_resident_memory_bytes", nil, func(v float64) bool { return v > 0 }, "> 0"},
	}
	for _, c := range checks {
		v, ok := metricValue(families, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v: no such series in the scrape", c.name, c.labels)
			continue
		}
		if !c.want(v) {
			t.Errorf("%s%v = %v, want %s", c.name, c.labels, v, c.desc)
		}
	}
	// Histograms have their buckets, with the latency bounds.
	h, _ := metricOf(families, "grpc_server_handling_seconds", map[string]string{"grpc_method": "Recommend"})
	if h == nil || len(h.GetHistogram().GetBucket()) < 10 {
		t.Errorf("grpc_server_handling_seconds of Recommend has no buckets: %v", h)
	}

	t.Run("pprof on the admin port only", func(t *testing.T) {
		if body := get(t, admin+"/debug/pprof/", http.StatusOK); !strings.Contains(body, "goroutine") {
			t.Errorf("admin /debug/pprof/ lacks the profiles:\n%.300s", body)
		}
		get(t, admin+"/debug/pprof/goroutine?debug=1", http.StatusOK)
		get(t, web+"debug/pprof/", http.StatusNotFound)
		get(t, web+"metrics", http.StatusNotFound)
	})
}

// scrape fetches and parses a Prometheus text exposition.
func scrape(tb testing.TB, url string) map[string]*dto.MetricFamily {
	tb.Helper()
	body := get(tb, url, http.StatusOK)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		tb.Fatalf("parse %s: %v", url, err)
	}
	return families
}

// metricOf returns the series of family name whose labels include want,
// and whether there is exactly one.
func metricOf(families map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	var found *dto.Metric
	n := 0
	for _, m := range families[name].GetMetric() {
		labels := make(map[string]string)
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			found, n = m, n+1
		}
	}
	return found, n == 1
}

// metricValue is the value of a counter or gauge, or a histogram's count.
func metricValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	m, ok := metricOf(families, name, labels)
	if !ok {
		return 0, false
	}
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount()), true
	}
	return 0, false
}

// collector is an OTLP trace receiver, as an OpenTelemetry Collector
// runs one: it keeps the spans it is sent.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	service string
	span    *tracepb.Span
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, receivedSpan{service, s})
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// find returns the span of service named name in trace traceID.
func (c *collector) find(service, name string, traceID []byte) *tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if s.service == service && s.span.GetName() == name && bytes.Equal(s.span.GetTraceId(), traceID) {
			return s.span
		}
	}
	return nil
}

// TestTracesExportedOverOTLP runs `bookshop up` with the standard
// OTEL_EXPORTER_OTLP_ENDPOINT naming an OTLP receiver, loads the homepage
// as a caller that is itself traced (a traceparent header), and checks
// that both services export their spans, under their own names, in one
// trace linked to the caller's.
func TestTracesExportedOverOTLP(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50") // ms: export at once rather than every 5 s
	col := &collector{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, col)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()

	endpoint := "http://" + lis.Addr().String()
	m := startCommandEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
		upArgs("-admin-addr="), upServices)
	web, catalog := m[1], m[3]
	waitReady(t, web)

	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
	)
	req, err := http.NewRequest(http.MethodGet, web, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", resp.StatusCode)
	}

	// The Marketplace is a public endpoint: the page starts a trace of its
	// own, linked to the caller's span, which the services continue.
	callerTraceID, _ := hex.DecodeString(callerTrace)
	var page, recsSpan *tracepb.Span
	waitFor(t, "both services' spans at the collector", func() bool {
		for _, s := range col.all() {
			if s.service == "marketplace" && s.span.GetName() == "GET /{$}" {
				page = s.span
			}
		}
		if page == nil {
			return false
		}
		recsSpan = col.find("recommendations", "Recommendations/Recommend", page.GetTraceId())
		return recsSpan != nil
	})
	if len(page.GetParentSpanId()) != 0 || bytes.Equal(page.GetTraceId(), callerTraceID) {
		t.Errorf("page span continues the caller's trace (parent %x); want a new trace", page.GetParentSpanId())
	}
	links := page.GetLinks()
	if len(links) != 1 || !bytes.Equal(links[0].GetTraceId(), callerTraceID) || hex.EncodeToString(links[0].GetSpanId()) != callerSpan {
		t.Errorf("page span links %v, want one link to the caller's span %s in trace %s", links, callerSpan, callerTrace)
	}
	if page.GetKind() != tracepb.Span_SPAN_KIND_SERVER || recsSpan.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("span kinds %v and %v, want SERVER", page.GetKind(), recsSpan.GetKind())
	}

	// A command that only calls, bookshop export, traces its call too, and
	// exports its span before it exits.
	var out strings.Builder
	err = tool.Run(testContext(t, 30*time.Second), []string{"export", "-category", "mystery"},
		env(map[string]string{"CATALOG_HOST": catalog, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}), &out, io.Discard)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	const exportMethod = "bookshop.catalog.v1.CatalogService/ExportBooks"
	var exportSpan *tracepb.Span
	for _, s := range col.all() {
		if s.service == "bookshop-export" && s.span.GetName() == exportMethod {
			exportSpan = s.span
		}
	}
	if exportSpan == nil {
		t.Fatalf("no %s span of service bookshop-export at the collector when export returned", exportMethod)
	}
	waitFor(t, "the server's span of the export", func() bool {
		return col.find("catalog", exportMethod, exportSpan.GetTraceId()) != nil
	})
}

// upServices matches what `bookshop up` prints: the Marketplace URL, the
// first replica's address and the Catalog's address.
var upServices = regexp.MustCompile(`(?s)Marketplace:\s+(http://\S+/).*Recommendations:\s+([^ ,]+)\S* \(gRPC\).*Catalog:\s+(\S+) \(gRPC\)`)

func (c *collector) all() []receivedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spans)
}

// TestDemoServeMetrics checks that the demo server, too, counts its calls
// on its admin port.
func TestDemoServeMetrics(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := lis.Addr().String()
	lis.Close()
	addr := startCommand(t, []string{"demo", "serve", "-port=0", "-admin-addr=" + admin}, demoListening)[1]
	_, port, _ := net.SplitHostPort(addr)
	var out strings.Builder
	if err := tool.Run(testContext(t, 10*time.Second), []string{"demo", "unary", "-addr", "localhost:" + port}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("demo unary: %v", err)
	}
	families := scrape(t, "http://"+admin+"/metrics")
	labels := map[string]string{"grpc_service": "unary.Unary", "grpc_method": "GetServerResponse", "grpc_code": "OK"}
	if v, ok := metricValue(families, "grpc_server_handled_total", labels); !ok || v != 1 {
		t.Errorf("grpc_server_handled_total%v = %v (found %v), want 1", labels, v, ok)
	}
}
