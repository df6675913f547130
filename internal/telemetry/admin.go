package telemetry

import (
	"fmt"
	"net/http"
	"net/http/pprof"
)

// AdminHandler serves what operators and their tools ask a service, on an
// admin port of its own, which must never be the public port:
//
//	/metrics        the Prometheus metrics of m
//	/debug/pprof/   the Go profiler: CPU, heap, goroutines, execution trace
//
// It registers the profiler on a mux of its own, not on
// http.DefaultServeMux, so that nothing else can publish it by accident.
func AdminHandler(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "Bookshop admin\n\n/metrics        Prometheus metrics\n/debug/pprof/   Go profiler\n")
	})
	return mux
}
