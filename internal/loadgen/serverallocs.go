package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Allocs is what Go servers have allocated on their heaps: bytes and
// objects, as their runtimes count them.
type Allocs struct {
	Bytes, Objects uint64
}

// sub returns a less b, each count at least zero.
func (a Allocs) sub(b Allocs) Allocs {
	d := func(x, y uint64) uint64 {
		if x < y {
			return 0
		}
		return x - y
	}
	return Allocs{Bytes: d(a.Bytes, b.Bytes), Objects: d(a.Objects, b.Objects)}
}

// The metrics of Prometheus's Go collector that ServersAllocs reads.
const (
	allocBytesMetric = "go_memstats_alloc_bytes_total"
	mallocsMetric    = "go_memstats_mallocs_total"
)

// metricsClient scrapes the servers' metrics: loopback, a few kilobytes.
var metricsClient = &http.Client{Timeout: 5 * time.Second}

// ServersAllocs returns what the servers whose Prometheus metrics are at
// urls (such as http://127.0.0.1:9090/metrics, each a Bookshop service's
// admin endpoint) have allocated so far, together: the sums of their
// go_memstats_alloc_bytes_total and go_memstats_mallocs_total. A scrape
// allocates too, on the server: a run measures what one costs, once its
// calls are over, and leaves it out (see Options.ServerAllocs). Errors: a
// server that does not answer, or whose metrics lack those counters.
func ServersAllocs(ctx context.Context, urls []string) (Allocs, error) {
	var total Allocs
	for _, u := range urls {
		a, err := scrapeAllocs(ctx, u)
		if err != nil {
			return Allocs{}, fmt.Errorf("allocations of %s: %w", u, err)
		}
		total.Bytes += a.Bytes
		total.Objects += a.Objects
	}
	return total, nil
}

func scrapeAllocs(ctx context.Context, url string) (Allocs, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Allocs{}, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return Allocs{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Allocs{}, fmt.Errorf("GET: %s", resp.Status)
	}
	var (
		a         Allocs
		haveBytes bool
		haveObjs  bool
	)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != allocBytesMetric && name != mallocsMetric) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64) // the text format may write 1.2e+07
		if err != nil || v < 0 {
			return Allocs{}, fmt.Errorf("%s: unexpected value %q", name, value)
		}
		if name == allocBytesMetric {
			a.Bytes, haveBytes = uint64(v), true
		} else {
			a.Objects, haveObjs = uint64(v), true
		}
	}
	if err := sc.Err(); err != nil {
		return Allocs{}, err
	}
	if !haveBytes || !haveObjs {
		return Allocs{}, fmt.Errorf("no %s or %s in the metrics", allocBytesMetric, mallocsMetric)
	}
	return a, nil
}

// newAllocMeter is newMeter of read, the servers' allocations. A reading
// allocates too, on every server (a scrape of its metrics): end reads the
// counters twice when the run is over and the servers are idle, and
// leaves out what the second reading found the first had cost, the cost
// of the one reading the measured time holds (its start's allocations
// come after its counters are read; its end's, before).
func newAllocMeter(read func() (Allocs, error), warmup time.Duration) *allocMeter {
	return &allocMeter{meter: newMeter(read, warmup)}
}

// allocMeter measures the servers' allocations over the measured time.
type allocMeter struct {
	*meter[Allocs]
}

// end returns what the servers allocated over the measured time, less
// what a reading costs them; zero when it was not measured.
func (m *allocMeter) end() Allocs {
	a0, a1, ok := m.meter.end()
	if !ok {
		return Allocs{}
	}
	a2, err := m.read()
	if err != nil {
		return Allocs{}
	}
	return a1.sub(a0).sub(a2.sub(a1))
}
