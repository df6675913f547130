package loadgen_test

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/loadgen"
)

// TestRunServerCPU checks that a run reads the servers' CPU clock when the
// measured time starts and when it ends: the warmup's share is left out.
func TestRunServerCPU(t *testing.T) {
	target := &fakeTarget{delay: time.Millisecond}
	// The servers' clock: a microsecond for each call made so far.
	clock := func() (time.Duration, error) { return time.Duration(target.calls.Load()) * time.Microsecond, nil }
	res, err := loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 2, Duration: 200 * time.Millisecond, Warmup: 100 * time.Millisecond, ServerCPU: clock})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	measured := res.Calls + res.Errors
	if got, all := res.ServerCPU, time.Duration(target.calls.Load())*time.Microsecond; got <= 0 || got >= all {
		t.Errorf("ServerCPU = %v, want more than 0 and less than the %v of all the calls, the warmup's included", got, all)
	}
	if per := res.ServerCPUPerCall(); per < 500*time.Nanosecond || per > 2*time.Microsecond {
		t.Errorf("ServerCPUPerCall = %v over %d calls, want about 1µs", per, measured)
	}
	rec := loadgen.NewRecord("l", "recommend", res)
	if rec.ServerCPU < 0.5 || rec.ServerCPU > 2 {
		t.Errorf("record's server_cpu_us = %v, want about 1", rec.ServerCPU)
	}

	// A run of a count: measured from its start.
	target = &fakeTarget{}
	res, err = loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 2, Count: 100, ServerCPU: clock})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.ServerCPU != 100*time.Microsecond {
		t.Errorf("ServerCPU of 100 calls = %v, want 100µs", res.ServerCPU)
	}

	// A clock that cannot be read measures nothing.
	res, err = loadgen.Run(testContext(t), &fakeTarget{}, loadgen.Options{Concurrency: 1, Count: 10,
		ServerCPU: func() (time.Duration, error) { return 0, errors.New("no clock") }})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if res.ServerCPU != 0 || res.ServerCPUPerCall() != 0 || loadgen.NewRecord("l", "recommend", res).ServerCPU != 0 {
		t.Errorf("ServerCPU with a clock that fails = %v, want 0", res.ServerCPU)
	}
}

// TestProcessesCPU reads this process's CPU time from /proc before and
// after some work.
func TestProcessesCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("read on Linux only")
	}
	pid := []int{os.Getpid()}
	before, err := loadgen.ProcessesCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	after, err := loadgen.ProcessesCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 20*time.Millisecond {
		t.Errorf("CPU time went from %v to %v over 100ms of work, want at least 20ms more", before, after)
	}
	if _, err := loadgen.ProcessesCPU([]int{1 << 30}); err == nil {
		t.Error("ProcessesCPU of a process that does not exist = nil error")
	}
}
