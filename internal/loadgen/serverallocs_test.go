package loadgen_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/loadgen"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// TestRunServerAllocs checks that a run reads the servers' allocations
// when the measured time starts and when it ends, and leaves out what a
// reading itself costs them, measured once the calls are over: here each
// call allocates 100 bytes in one object, and each reading 7 bytes in one
// object more.
func TestRunServerAllocs(t *testing.T) {
	target := &fakeTarget{}
	var reads atomic.Uint64
	counter := func() (loadgen.Allocs, error) {
		r := reads.Add(1)
		c := uint64(target.calls.Load())
		return loadgen.Allocs{Bytes: 100*c + 7*r, Objects: c + r}, nil
	}
	res, err := loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 2, Count: 50, ServerAllocs: counter})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if want := (loadgen.Allocs{Bytes: 5000, Objects: 50}); res.ServerAllocs != want {
		t.Errorf("ServerAllocs of 50 calls = %+v, want %+v: the readings' own left out", res.ServerAllocs, want)
	}
	if b, n := res.ServerAllocsPerCall(); b != 100 || n != 1 {
		t.Errorf("ServerAllocsPerCall = %v B, %v objects; want 100, 1", b, n)
	}
	rec := loadgen.NewRecord("l", "recommend", res)
	if rec.ServerAllocBytes != 100 || rec.ServerAllocs != 1 {
		t.Errorf("record's server_alloc_bytes, server_alloc_objects = %v, %v; want 100, 1", rec.ServerAllocBytes, rec.ServerAllocs)
	}

	// With a warmup: the calls before the measured time are left out.
	target = &fakeTarget{delay: time.Millisecond}
	res, err = loadgen.Run(testContext(t), target, loadgen.Options{Concurrency: 2, Duration: 200 * time.Millisecond, Warmup: 100 * time.Millisecond, ServerAllocs: counter})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if all := 100 * uint64(target.calls.Load()); res.ServerAllocs.Bytes == 0 || res.ServerAllocs.Bytes >= all {
		t.Errorf("ServerAllocs.Bytes = %d, want more than 0 and less than the %d of all the calls, the warmup's included", res.ServerAllocs.Bytes, all)
	}

	// Counters that cannot be read measure nothing.
	res, err = loadgen.Run(testContext(t), &fakeTarget{}, loadgen.Options{Concurrency: 1, Count: 10,
		ServerAllocs: func() (loadgen.Allocs, error) { return loadgen.Allocs{}, errors.New("no metrics") }})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if b, _ := res.ServerAllocsPerCall(); b != 0 || loadgen.NewRecord("l", "recommend", res).ServerAllocBytes != 0 {
		t.Errorf("ServerAllocs with counters that fail = %+v, want none", res.ServerAllocs)
	}
}

// TestServersAllocs reads the allocation counters of a Bookshop admin
// endpoint (this process's metrics), before and after allocating, and
// sums those of two.
func TestServersAllocs(t *testing.T) {
	admin := httptest.NewServer(telemetry.AdminHandler(telemetry.NewMetrics()))
	defer admin.Close()
	url := admin.URL + "/metrics"
	ctx := testContext(t)
	a0, err := loadgen.ServersAllocs(ctx, []string{url})
	if err != nil {
		t.Fatalf("ServersAllocs = %v", err)
	}
	var keep [][]byte
	for range 1000 {
		keep = append(keep, make([]byte, 1024))
	}
	a1, err := loadgen.ServersAllocs(ctx, []string{url})
	if err != nil {
		t.Fatalf("ServersAllocs = %v", err)
	}
	if a1.Bytes < a0.Bytes+1000*1024 || a1.Objects < a0.Objects+1000 {
		t.Errorf("after allocating 1,000 KiB in 1,000 objects: %+v -> %+v", a0, a1)
	}
	two, err := loadgen.ServersAllocs(ctx, []string{url, url})
	if err != nil || two.Bytes < 2*a1.Bytes || two.Objects < 2*a1.Objects {
		t.Errorf("the sum of the same server twice = %+v, %v; want twice %+v at least", two, err, a1)
	}
	_ = keep

	notMetrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up 1\n")) }))
	defer notMetrics.Close()
	for _, u := range []string{notMetrics.URL, admin.URL + "/nope"} {
		if _, err := loadgen.ServersAllocs(ctx, []string{url, u}); err == nil {
			t.Errorf("ServersAllocs with %s = nil error, want one", u)
		}
	}
}
