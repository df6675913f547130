package process

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupLimitFiles returns where Linux says how much memory the process
// may use, most specific first: the memory.max of its own cgroup (v2, as
// /proc/self/cgroup names it), that of the root of the cgroup file system
// (a container's, with a cgroup namespace), then cgroup v1's.
func cgroupLimitFiles() []string {
	var files []string
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if path, ok := strings.CutPrefix(line, "0::"); ok && path != "/" {
				files = append(files, filepath.Join("/sys/fs/cgroup", path, "memory.max"))
			}
		}
	}
	return append(files, "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
}

// GCPercent is the garbage collector's target that a service process
// sets, unless GOGC says otherwise: a collection when the heap has grown
// by three times what the last one left (Go's default is once).
//
// The services' heaps are small (Recommendations keeps some 1 MB live),
// and Go's default puts the next collection at 4 MB, the least it allows
// at 100 (the least scales with the target: 12 MB at 300):
// under load Recommendations collected every 7 ms, each time marking
// more than the minimal gRPC server does, and its callers' latency paid
// for it. At 300 it collects a third as often; paired with the minimal
// server at the same target (docs/performance.md), its calls a second
// went from 0.85 to 0.92 of the minimal's and its p99 from 1.35 to 1.17
// times, for a peak resident size of 32 MiB against 25 under that load.
// A process under a memory limit keeps to it (see TuneRuntime): near the
// limit the collector runs as often as it must, whatever GCPercent says.
const GCPercent = 300

// TuneRuntime sets the Go runtime for a service process: the garbage
// collector's target to GCPercent, unless GOGC is set; and when GOMEMLIMIT
// is unset and the process has a memory limit (a container's, or a
// systemd unit's), a soft memory limit of nine tenths of it, so that the
// garbage collector works harder as the process nears the limit rather
// than let it be killed. It logs what it set.
func TuneRuntime(getenv func(string) string, logger *slog.Logger) {
	tuneRuntime(getenv, logger, cgroupLimitFiles())
}

func tuneRuntime(getenv func(string) string, logger *slog.Logger, limitFiles []string) {
	switch gogc := getenv("GOGC"); {
	case gogc == "":
		debug.SetGCPercent(GCPercent)
		logger.Info("Go runtime: the garbage collector's target set", "gogc", GCPercent)
	case gogc != "off":
		if _, err := strconv.Atoi(gogc); err != nil {
			// The runtime reads such a value as 100, and says nothing.
			logger.Warn("Go runtime: GOGC is neither a number nor off: the garbage collector's target is Go's default, 100", "GOGC", gogc)
		}
	}
	if getenv("GOMEMLIMIT") == "" {
		if l, ok := containerMemoryLimit(limitFiles); ok {
			debug.SetMemoryLimit(l / 10 * 9)
			logger.Info("Go runtime: soft memory limit set from the process's limit", "limit", l, "memory_limit", l/10*9)
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
