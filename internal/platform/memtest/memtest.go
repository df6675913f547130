// Package memtest measures the memory that code under test holds, for the
// tests that keep a service to its memory budget (docs/capacity.md). What
// it counts is what a service's resident memory grows with: Go's live heap
// and the stacks of its goroutines, read after full garbage collections
// so that garbage not yet collected does not count (Held: two; a Peak's
// readings: one each). (The collector may let
// the heap grow to twice the live heap before it collects, less as the
// soft memory limit nears: that headroom is the budget's, not the test's.)
//
// A reading taken while the code under test allocates counts more than it
// holds, never less: a collection counts as live every object that was
// reachable when it began, and every object allocated while it marks, even
// those that are garbage by the time it ends. The longer a collection
// takes, the more it counts, and on a busy host it takes much longer: one
// of TestBooksMemory's readings took 488 ms at load 6 on two cores, while
// 82 MiB were allocated, and read 210 MiB where the quiet readings either
// side read 128 and 140. So a test that follows a Peak measures the run a
// few times and holds the least reading to its budget (Least).
package memtest

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The runtime's metrics that Held adds up.
const (
	liveHeap = "/gc/heap/live:bytes"
	stacks   = "/memory/classes/heap/stacks:bytes"
)

// Budgets marks tb as a test of a memory budget, which it skips in a
// binary built with -race: the race detector adds to every goroutine and
// allocation what no service pays, so its figures are not the service's.
// scripts/test.sh runs these tests (named ...Memory) a second time without
// -race, where they are asserted.
func Budgets(tb testing.TB) {
	tb.Helper()
	if raceEnabled {
		tb.Skip("a memory budget: asserted without -race (scripts/test.sh, step \"memory budgets\")")
	}
}

// Held returns the bytes the process holds now: its live heap and its
// goroutines' stacks, after two full garbage collections. One is not
// enough for a difference of two readings: a sync.Pool keeps what it held
// before a collection until the next one, so after one collection what
// the pools hold (the connections' buffers, among others) counts or not as
// they were last used before it or after. TestCacheMemory read 2,166 or
// 2,440 B a book with one, as it fell; with two, 2,411 to 2,463 in 15
// runs.
func Held() uint64 {
	return held(2)
}

// held returns what is held after the given number of full garbage
// collections.
func held(collections int) uint64 {
	for range collections {
		runtime.GC()
	}
	s := []metrics.Sample{{Name: liveHeap}, {Name: stacks}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}

// RSS returns the resident set size of process pid (0: this one), as
// Linux reports it (VmRSS in /proc/PID/status), and false where it cannot
// be read.
func RSS(pid int) (uint64, bool) {
	proc := "self"
	if pid != 0 {
		proc = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + proc + "/status")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "12345", "kB"
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}

// Peak follows what is held while something runs, for the most it
// reaches: a goroutine reads it every interval from StartPeak until Stop,
// each reading after one collection (see sample). Its
// collections follow one another with little between them, so that what
// is held at any moment is counted by one of them; while the code
// allocates, each counts more (see the package's doc), so a Peak is at
// least the most held and, on a busy host, at times much more: see Least.
type Peak struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  uint64
}

// StartPeak reads Held now, and then what is held every interval (each
// reading is a full collection: an interval of 50 ms or more keeps their
// cost small).
func StartPeak(interval time.Duration) *Peak {
	p := &Peak{stop: make(chan struct{}), done: make(chan struct{}), max: Held()}
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.sample()
			}
		}
	}()
	return p
}

// sample reads what is held after one collection, not Held's two: what
// the pools hold at a peak is held too, and a reading costs one
// collection, not two.
func (p *Peak) sample() {
	n := held(1)
	p.mu.Lock()
	p.max = max(p.max, n)
	p.mu.Unlock()
}

// Stop stops the readings, makes a last one, and returns the most that
// any of them found.
func (p *Peak) Stop() uint64 {
	close(p.stop)
	<-p.done
	p.sample()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// Least makes up to rounds readings with measure, each the peak of one
// run of what a test measures (a Peak's, less where the run started), and
// returns the least of them, with all it made. A reading counts more than
// was held, never less (see the package's doc), so the least is the
// closest: a test holds it to its budget, and logs the readings. Least
// stops at the first reading within budget, as the least would be too.
func Least(rounds int, budget uint64, measure func() uint64) (least uint64, readings []uint64) {
	for range max(rounds, 1) {
		n := measure()
		readings = append(readings, n)
		if len(readings) == 1 || n < least {
			least = n
		}
		if least <= budget {
			break
		}
	}
	return least, readings
}

// MiBs formats readings of bytes in mebibytes, for test logs: "112.3 MiB"
// for one, "194.3, 131.0 MiB" for more.
func MiBs(readings []uint64) string {
	s := make([]string, len(readings))
	for i, n := range readings {
		s[i] = strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64)
	}
	return strings.Join(s, ", ") + " MiB"
}

// Handler answers each request with Held(), in decimal: for a child
// process that serves what a test measures, so that the test's own
// clients are not counted (see ReadHeld).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strconv.FormatUint(Held(), 10)) //nolint:errcheck // the reader sees a short answer
	})
}

// ReadHeld asks the Handler at url for Held() of its process.
func ReadHeld(url string) (uint64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(b), 10, 64)
}

// Documented returns the count and the bytes of one of the items that
// docs/capacity.md budgets service with: the item whose words are what,
// or else the first whose words hold it, such as "6,000 live sessions × 20 KiB = 117 MiB" for "live
// sessions", is 6000 and 20480; an item of one amount, such as "an
// import's commit at the caps = 96 MiB" for "commit", is 1 and its
// amount. A test holds its package's caps and budgets to it, as deploy's
// tests hold it to the memory limits. It fails the test when the document
// has no such item.
func Documented(tb testing.TB, service, what string) (count int, each uint64) {
	tb.Helper()
	doc, err := os.ReadFile(filepath.Join(moduleRoot(tb), "docs", "capacity.md"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, exact := range []bool{true, false} {
		for line := range strings.SplitSeq(string(doc), "\n") {
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			if len(cells) != 5 || cells[0] != service {
				continue
			}
			for item := range strings.SplitSeq(cells[3], "; ") {
				words, n, number, unit := "", 1, "", ""
				if m := documentedItem.FindStringSubmatch(item); m != nil {
					c, err := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
					if err != nil {
						continue
					}
					words, n, number, unit = m[2], c, m[3], m[4]
				} else if m := documentedAmount.FindStringSubmatch(item); m != nil && !strings.Contains(m[1], "×") {
					words, number, unit = m[1], m[2], m[3]
				} else {
					continue
				}
				if (exact && words != what) || (!exact && !strings.Contains(words, what)) {
					continue
				}
				if b, err := amount(number, unit); err == nil {
					return n, b
				}
			}
		}
	}
	tb.Fatalf("docs/capacity.md budgets no %q of %s (an item such as \"6,000 %s × 20 KiB = 117 MiB\")", what, service, what)
	return 0, 0
}

// documentedItem is an item of a budget: count, words, bytes each, unit;
// documentedAmount one of one amount: words, bytes, unit.
var (
	documentedItem   = regexp.MustCompile(`^([0-9][0-9,]*) ([^×]*) × ([0-9][0-9,]*) (B|KiB|MiB) = `)
	documentedAmount = regexp.MustCompile(`^(.*) = ([0-9][0-9,]*) (B|KiB|MiB)$`)
)

// amount reads an amount of a budget: a number, with thousands separators,
// and its unit.
func amount(number, unit string) (uint64, error) {
	n, err := strconv.ParseUint(strings.ReplaceAll(number, ",", ""), 10, 64)
	return n * map[string]uint64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[unit], err
}

// moduleRoot returns the directory of the module's go.mod, above the
// test's own.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// MiB formats n bytes in mebibytes, for test logs.
func MiB(n uint64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }
