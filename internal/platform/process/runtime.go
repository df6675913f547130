package process

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultGCPercent is the garbage collector's target of a service process
// when GOGC does not say: the next collection when the heap has grown
// fivefold. The services' heaps are small (tens of MiB, against budgets of
// hundreds), and under load Go's default of 100 spent a fifth of
// Recommendations' CPU collecting; 400 gave it about a tenth more calls a
// second (docs/performance.md). A memory limit (TuneRuntime) keeps the
// larger target from costing memory the process does not have.
const DefaultGCPercent = 400

// cgroupLimitFiles are where Linux says how much memory the process's
// container may use: cgroup v2, then v1.
var cgroupLimitFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// TuneRuntime sets the Go runtime for a service process, leaving alone
// what the environment sets itself: the garbage collector's target to
// DefaultGCPercent unless GOGC is set, and, unless GOMEMLIMIT is set and
// the process runs in a container with a memory limit, a soft memory limit
// of nine tenths of it, so that the collector works harder as the process
// nears the limit rather than let the container be killed. It logs what
// it set.
func TuneRuntime(getenv func(string) string, logger *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
		logger.Debug("Go runtime: garbage collector target set", "gc_percent", DefaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		if l, ok := containerMemoryLimit(cgroupLimitFiles); ok {
			debug.SetMemoryLimit(l / 10 * 9)
			logger.Info("Go runtime: soft memory limit set from the container's", "container_limit", l, "memory_limit", l/10*9)
		}
	}
}

// containerMemoryLimit returns the memory limit in the first of files
// that holds one: a number of bytes; "max", or a number so large that it
// means none, is no limit.
func containerMemoryLimit(files []string) (int64, bool) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // cgroup v1 writes a huge number for "no limit"
			return 0, false
		}
		return n, true
	}
	return 0, false
}
