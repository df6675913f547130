// Package heapstats lets the comparison servers of bench/ tell what their
// heaps did, for scripts/allocs.sh: the bytes and objects allocated since
// the start, the collections run, and the heap's goal and live size. The
// services tell the same on their admin port's /metrics (the go_*
// metrics); the comparison servers have no such port, and a line written
// on a signal keeps them as small as they are: nothing runs until the
// signal comes. MatchServices sets their garbage collector's target to
// the services'.
package heapstats

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
)

// names are the runtime metrics of a line, in its order.
var names = []string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/allocs:objects",
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/goal:bytes",
	"/gc/heap/live:bytes",
	"/gc/heap/tiny/allocs:objects",
}

// ReportOnSignal writes a line of the heap's figures (see Line) to w each
// time the process receives SIGUSR1, until ctx ends. It takes the signal
// before it returns, so that a SIGUSR1 sent once the caller has said it
// serves cannot end the process (its default action); the lines are
// written by a goroutine of its own.
func ReportOnSignal(ctx context.Context, w io.Writer) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-sig:
				_, _ = io.WriteString(w, Line())
			case <-ctx.Done():
				return
			}
		}
	}()
}

// Line is the heap's figures now, as one line:
//
//	heapstats allocs_bytes=N allocs_objects=N gc_cycles=N heap_goal_bytes=N heap_live_bytes=N
//
// allocs_objects counts the tiny allocations too (small objects without
// pointers, several to a block), as runtime.MemStats.Mallocs and the
// services' go_memstats_mallocs_total do.
func Line() string {
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	metrics.Read(samples)
	v := make([]uint64, len(samples))
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	return fmt.Sprintf("heapstats allocs_bytes=%d allocs_objects=%d gc_cycles=%d heap_goal_bytes=%d heap_live_bytes=%d\n",
		v[0], v[1]+v[5], v[2], v[3], v[4])
}

// servicesGCPercent is process.GCPercent, the garbage collector's target
// that the services set (a test holds them equal): this package does not
// import process, which would link the services' telemetry into the
// comparison servers and grow the heaps they are compared by.
const servicesGCPercent = 300

// MatchServices sets the garbage collector's target to the one Bookshop's
// services set, unless getenv("GOGC") says otherwise: a comparison server
// collects as often as a service would with its heap, so that a ratio of
// the two measures what the service does, not how their collectors are
// set.
func MatchServices(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(servicesGCPercent)
	}
}
