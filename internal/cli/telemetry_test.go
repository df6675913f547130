package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
)

// upObserved matches what `bookshop up` prints when it serves the admin
// endpoints: the Marketplace URL, the first replica's address and the
// metrics URL.
var upObserved = regexp.MustCompile(`(?s)Marketplace:\s+(http://\S+/).*Recommendations:\s+([^ ,]+)\S* \(gRPC\).*Metrics:\s+(http://\S+)/metrics`)

// TestMetricsAfterTraffic runs `bookshop up` with its admin port, makes
// pages, unary and streaming calls, good and bad, then scrapes /metrics and
// checks the counters and histograms of exactly those calls.
func TestMetricsAfterTraffic(t *testing.T) {
	m := startCommand(t, []string{"up", "-port=0", "-recommendations-port=0", "-admin-addr=127.0.0.1:0", "-db=:memory:", "-rate-limit=0"}, upObserved)
	web, recs, admin := m[1], m[2], m[3]

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

	// A client-streaming import: one book added, one refused by the
	// service (the catalog has it already).
	csv := filepath.Join(t.TempDir(), "books.csv")
	content := "category,title,author,year\nmystery,The Clockwork Alibi,Ada Marsh,2024\nmystery,The Maltese Falcon,Dashiell Hammett,1930\n"
	if err := os.WriteFile(csv, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _ = runCmd(t, recs, "import", csv) // it fails, naming the refused line

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
