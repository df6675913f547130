package telemetry

import (
	"fmt"
	"log"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// maxProfileSeconds bounds how long one CPU profile or execution trace
// may run: whoever can reach the admin port (Prometheus's namespace, on
// Kubernetes) cannot keep the profiler on for hours.
const maxProfileSeconds = 120

// boundSeconds refuses a profile or trace longer than maxProfileSeconds.
func boundSeconds(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.FormValue("seconds"); v != "" {
			if n, err := strconv.ParseFloat(v, 64); err != nil || !(n > 0 && n <= maxProfileSeconds) {
				http.Error(w, fmt.Sprintf("seconds=%q: want a number of seconds, at most %d", v, maxProfileSeconds), http.StatusBadRequest)
				return
			}
		}
		h(w, r)
	})
}

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
	mux.Handle("/debug/pprof/", boundSeconds(pprof.Index)) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.Handle("/debug/pprof/profile", boundSeconds(pprof.Profile))
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.Handle("/debug/pprof/trace", boundSeconds(pprof.Trace))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "Bookshop admin\n\n/metrics        Prometheus metrics\n/debug/pprof/   Go profiler\n")
	})
	return mux
}

// AdminServer returns the server of AdminHandler, with the bounds of a
// port that operators' tools reach and anyone else may: 5 s for a
// request's headers, at most 32 KiB of them, 10 s for the whole request
// (the profiler's forms are a few bytes), and 30 s to write an answer
// (net/http/pprof adds a profile's or a trace's length to it), so that a
// client that reads nothing, or sends a body it never finishes, holds
// its connection and goroutine for a while at most. errorLog receives
// net/http's own errors; nil is its default.
func AdminServer(m *Metrics, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           AdminHandler(m),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          errorLog,
	}
}
