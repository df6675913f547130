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

// TuneRuntime sets the Go runtime for a service process: when GOMEMLIMIT
// is unset and the process has a memory limit (a container's, or a
// systemd unit's), a soft memory limit of nine tenths of it, so that the
// garbage collector works harder as the process nears the limit rather
// than let it be killed. It logs what it set. The collector's target
// stays Go's (GOGC): raising it bought Recommendations about a tenth more
// calls a second for half as much memory again (docs/performance.md), a
// trade for each deployment to make.
func TuneRuntime(getenv func(string) string, logger *slog.Logger) {
	tuneRuntime(getenv, logger, cgroupLimitFiles())
}

func tuneRuntime(getenv func(string) string, logger *slog.Logger, limitFiles []string) {
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
