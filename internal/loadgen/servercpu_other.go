//go:build !linux

package loadgen

import (
	"errors"
	"time"
)

// ProcessesCPU returns an error: the CPU time of other processes is read
// from Linux's /proc only.
func ProcessesCPU(pids []int) (time.Duration, error) {
	return 0, errors.New("the CPU time of other processes is read on Linux only")
}
