package telemetry

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/grpc/codes"
)

// TestHandledCountsAsCounterVec checks that handledCounts shows what a
// prometheus.CounterVec of the same name, labels and counts shows, in
// the Prometheus text format and in OpenMetrics, exemplars included.
func TestHandledCountsAsCounterVec(t *testing.T) {
	const name, help = "grpc_server_handled_total", "gRPC calls completed on the server, by status code."
	ours := newHandledCounts(name, help)
	theirs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"})
	type call struct {
		typ, service, method string
		code                 codes.Code
		exemplar             prometheus.Labels
	}
	methods := [][3]string{{"unary", "Recommendations", "Recommend"}, {"server_stream", "grpc.health.v1.Health", "Watch"}, {"bidi_stream", "a.b", "c d"}}
	var counts []*codeCounts
	for _, m := range methods {
		counts = append(counts, ours.method(m[0], m[1], m[2]))
		for c := range numCodes {
			theirs.WithLabelValues(m[0], m[1], m[2], codes.Code(c).String())
		}
	}
	calls := []call{
		{"unary", "Recommendations", "Recommend", codes.OK, nil},
		{"unary", "Recommendations", "Recommend", codes.OK, nil},
		{"unary", "Recommendations", "Recommend", codes.InvalidArgument, prometheus.Labels{"trace_id": "0123456789abcdef0123456789abcdef"}},
		{"server_stream", "grpc.health.v1.Health", "Watch", codes.Unavailable, nil},
		{"bidi_stream", "a.b", "c d", codes.Unauthenticated, nil},
	}
	for _, c := range calls {
		i := 0
		for i < len(methods) && methods[i] != [3]string{c.typ, c.service, c.method} {
			i++
		}
		counter := theirs.WithLabelValues(c.typ, c.service, c.method, c.code.String())
		if c.exemplar != nil {
			counts[i].incWithExemplar(c.code, c.exemplar)
			counter.(prometheus.ExemplarAdder).AddWithExemplar(1, c.exemplar)
		} else {
			counts[i].inc(c.code)
			counter.Inc()
		}
	}
	for _, format := range []expfmt.Format{expfmt.NewFormat(expfmt.TypeTextPlain), expfmt.NewFormat(expfmt.TypeOpenMetrics)} {
		got, want := exposition(t, ours, format), exposition(t, theirs, format)
		if format == expfmt.NewFormat(expfmt.TypeOpenMetrics) {
			// The exemplars' times differ by the moments of the two adds.
			got, want = dropExemplarTimes(got), dropExemplarTimes(want)
			if !strings.Contains(got, "0123456789abcdef0123456789abcdef") {
				t.Errorf("OpenMetrics: no exemplar with the trace id in\n%s", got)
			}
		}
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", format, got, want)
		}
	}
}

// exposition is what a registry of c alone serves in format.
func exposition(t *testing.T, c prometheus.Collector, format expfmt.Format) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// dropExemplarTimes cuts each line of OpenMetrics at its exemplar's
// time stamp, the last field after the exemplar's value.
func dropExemplarTimes(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if j := strings.Index(l, " # {"); j >= 0 {
			if k := strings.LastIndexByte(l, ' '); k > j {
				lines[i] = l[:k]
			}
		}
	}
	return strings.Join(lines, "\n")
}

// TestHandledCountsMemory checks that the counts of a method by status
// code take a small part of what a CounterVec's 17 series took: the
// series of every method stay in the live heap.
func TestHandledCountsMemory(t *testing.T) {
	const methods = 100
	// What making them allocates: nearly all of it stays, as the
	// registry keeps the series.
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc
	}
	names := make([]string, methods)
	for i := range names {
		names[i] = "Method" + strings.Repeat("x", i%7) + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	before := heap()
	ours := newHandledCounts("a_total", "a")
	for _, n := range names {
		ours.method("unary", "bookshop.some.v1.SomeService", n)
	}
	oursBytes := heap() - before
	before = heap()
	theirs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "b_total", Help: "b"}, []string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"})
	for _, n := range names {
		for c := range numCodes {
			theirs.WithLabelValues("unary", "bookshop.some.v1.SomeService", n, codes.Code(c).String())
		}
	}
	theirBytes := heap() - before
	runtime.KeepAlive(ours)
	runtime.KeepAlive(theirs)
	t.Logf("a method's counts: %d bytes; a CounterVec's 17 series: %d bytes", oursBytes/methods, theirBytes/methods)
	if oursBytes*10 > theirBytes {
		t.Errorf("a method's counts take %d bytes, more than a tenth of the %d of a CounterVec's series", oursBytes/methods, theirBytes/methods)
	}
}
