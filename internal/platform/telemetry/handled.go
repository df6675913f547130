package telemetry

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// handledCounts is grpc_<side>_handled_total: the calls of each method
// by status code. A prometheus.CounterVec keeps a Counter of its own for
// each series, some 700 bytes with its labels, and a method has one for
// each of the 17 codes, made when the method is first seen so that they
// show at zero: for a server of seven methods (its own, health's and
// reflection's), some 85 KB that stay in the live heap, which the
// garbage collector marks at every cycle and which leaves it less room
// before the next (docs/performance.md). handledCounts keeps a method's
// counts in an array of atomic integers, a few hundred bytes, and makes
// the series only for a scrape: the same names, labels, values and
// exemplars as the CounterVec showed. It is safe for concurrent use.
type handledCounts struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	methods []*codeCounts // in the order first seen
}

// codeCounts are the counts of one method, by status code.
type codeCounts struct {
	typ, service, method string
	n                    [numCodes]atomic.Uint64
	// exemplars are the last traced call's of each code: set only
	// WithExemplars.
	exemplars [numCodes]atomic.Pointer[prometheus.Exemplar]
}

// codeNames are the grpc_code labels, codes.Code's names.
var codeNames = func() (names [numCodes]string) {
	for c := range names {
		names[c] = codes.Code(c).String()
	}
	return names
}()

func newHandledCounts(name, help string) *handledCounts {
	return &handledCounts{desc: prometheus.NewDesc(name, help, []string{"grpc_type", "grpc_service", "grpc_method", "grpc_code"}, nil)}
}

// method returns the counts of a new method. (grpcMetrics.method makes
// each method's once.)
func (h *handledCounts) method(typ, service, method string) *codeCounts {
	c := &codeCounts{typ: typ, service: service, method: method}
	h.mu.Lock()
	h.methods = append(h.methods, c)
	h.mu.Unlock()
	return c
}

// inc counts a call that ended with code.
func (c *codeCounts) inc(code codes.Code) { c.n[code].Add(1) }

// incWithExemplar counts a call that ended with code, and keeps ex, the
// labels of its trace, as the exemplar of code's series.
func (c *codeCounts) incWithExemplar(code codes.Code, ex prometheus.Labels) {
	c.n[code].Add(1)
	c.exemplars[code].Store(&prometheus.Exemplar{Value: 1, Labels: ex, Timestamp: time.Now()})
}

// Describe implements prometheus.Collector.
func (h *handledCounts) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *handledCounts) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	methods := h.methods[:len(h.methods):len(h.methods)]
	h.mu.Unlock()
	for _, c := range methods {
		for code := range c.n {
			m := prometheus.MustNewConstMetric(h.desc, prometheus.CounterValue, float64(c.n[code].Load()),
				c.typ, c.service, c.method, codeNames[code])
			if ex := c.exemplars[code].Load(); ex != nil {
				if withEx, err := prometheus.NewMetricWithExemplars(m, *ex); err == nil {
					m = withEx
				}
			}
			ch <- m
		}
	}
}
