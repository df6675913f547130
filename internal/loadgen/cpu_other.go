//go:build !unix

package loadgen

import "time"

// ProcessCPU returns false: the CPU time of the process is read on Unix
// only.
func ProcessCPU() (time.Duration, bool) { return 0, false }
