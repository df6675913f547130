package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of the CPU times of
// /proc/PID/stat: a hundredth of a second on every architecture Go
// supports.
const clockTick = 10 * time.Millisecond

// ProcessesCPU returns the CPU time, user and system, that the processes
// pids have used so far, together, from /proc/PID/stat: to a hundredth of
// a second each. Errors: a process that does not exist, or whose stat
// cannot be read.
func ProcessesCPU(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
		}
		d, err := statCPU(b)
		if err != nil {
			return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
		}
		total += d
	}
	return total, nil
}

// statCPU reads utime and stime, the 14th and 15th fields, from the text
// of /proc/PID/stat. The second field, the command's name, is in
// parentheses and may hold spaces and parentheses itself: the fields are
// counted from the last ')'.
func statCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	fields := bytes.Fields(stat[i+1:]) // from the 3rd field, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc stat %q", stat)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
