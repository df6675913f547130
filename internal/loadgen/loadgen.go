// Package loadgen puts Bookshop's services under load and measures them:
// the engine of `bookshop bench`.
//
// A run is a closed loop: Concurrency workers, each with one call in
// flight, each making its next call as soon as its last one is answered
// (after a pause of Interval, when one is set). So the load follows what
// the server can take, and a slower server is offered fewer calls, not a
// growing queue. The latency of every successful call is recorded in an
// HdrHistogram (github.com/HdrHistogram/hdrhistogram-go), to three
// significant digits, from a microsecond to a minute.
//
// What a worker calls is a [Target]'s business: Recommend over gRPC, the
// homepage over HTTP, an export or import stream, or one live
// recommendation session held open for the whole run (see the targets in
// grpc.go and http.go).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Target makes the workers of a run.
type Target interface {
	// Worker opens worker i of a run: a stream or a session it holds, or
	// nothing but a handle on shared connections. ctx lasts as long as the
	// worker: a stream opened with it stays open until Close.
	Worker(ctx context.Context, i int) (Worker, error)
	// Close releases what the target shares between its workers, such as
	// connections.
	Close() error
}

// Worker makes calls, one at a time.
type Worker interface {
	// Call makes one call, within ctx's deadline, and returns how many
	// items it moved: books for an export or import, one for a page or a
	// unary call, the books of the fresh list for a live update.
	Call(ctx context.Context) (items int, err error)
	// Close ends what the worker holds. It is called once, after its last
	// call.
	Close() error
}

// PartTimer is a Worker whose calls have one part timed on its own as
// well as whole: the POST that places an order, say, within the three
// requests of a purchase. After each successful call, Run records the
// call's LastPart in Result.Part.
type PartTimer interface {
	Worker
	// LastPart returns how long the part took in the last call, which
	// succeeded.
	LastPart() time.Duration
}

// Options say how much load a run puts on its target.
type Options struct {
	// Concurrency is the number of workers, each with one call in flight.
	Concurrency int
	// Duration is how long calls are measured, after Warmup. A run ends
	// after Duration or Count, whichever comes first; at least one must
	// be set.
	Duration time.Duration
	// Count is how many calls the workers make in all; zero means no
	// limit.
	Count int64
	// Warmup is how long calls are made, and not measured, before the
	// measured Duration starts: connections, pools and the server's caches
	// settle.
	Warmup time.Duration
	// Interval is how long each worker waits between the end of a call
	// and the start of the next: a shopper's pause between two clicks.
	// Zero makes each worker call again at once. Workers start at random
	// moments within the first Interval, so that they do not call in step.
	Interval time.Duration
	// Timeout is the deadline of each call. Zero means DefaultTimeout.
	Timeout time.Duration
	// ServerCPU, when set, reads the CPU time the servers under load have
	// used so far (see ProcessesCPU): Run reads it when the measured time
	// starts and when it ends, for Result.ServerCPU.
	ServerCPU func() (time.Duration, error)
	// ServerAllocs, when set, reads what the servers under load have
	// allocated so far (see ServersAllocs): Run reads it when the measured
	// time starts, and twice once its calls are over, for
	// Result.ServerAllocs: what the servers allocated between the first
	// two, less what the third found the second had cost. The calls cut
	// off by the end of the measured time are not counted, though what
	// they allocated is: with 20 purchases in flight over 3 s, a few
	// percent more than a purchase's own.
	ServerAllocs func() (Allocs, error)
}

// DefaultTimeout is the deadline of a call when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxOpening is how many workers open at once: a thousand live sessions
// opened all at once would measure the server's accept queue.
const maxOpening = 64

// The range of the latency histogram, in microseconds, and its precision.
const (
	minLatencyMicros = 1
	maxLatencyMicros = int64(time.Minute / time.Microsecond)
	latencyDigits    = 3
)

// Result is what a run measured.
type Result struct {
	// Concurrency is the number of workers of the run.
	Concurrency int
	// Calls counts the successful calls, Errors the failed ones, both
	// within the measured time.
	Calls, Errors int64
	// Items counts the items the successful calls moved.
	Items int64
	// Elapsed is the measured time.
	Elapsed time.Duration
	// Latency holds the latency of each successful call, in microseconds.
	Latency *hdrhistogram.Histogram
	// Part holds, for workers that are PartTimers, the latency of the
	// part of each successful call that they time on its own, in
	// microseconds; nil for other workers.
	Part *hdrhistogram.Histogram
	// ErrorSamples are the first few distinct errors, with how often each
	// occurred.
	ErrorSamples []ErrorCount
	// ServerCPU is the CPU time the servers used over the measured time,
	// when Options.ServerCPU was set and could be read; else zero.
	ServerCPU time.Duration
	// ServerAllocs is what the servers allocated over the measured time,
	// when Options.ServerAllocs was set and could be read; else zero.
	ServerAllocs Allocs
}

// ServerAllocsPerCall returns the bytes and the objects the servers
// allocated per call of the measured time, failed ones included, or
// zeros when they were not measured.
func (r *Result) ServerAllocsPerCall() (bytes, objects float64) {
	if n := r.Calls + r.Errors; n > 0 {
		return float64(r.ServerAllocs.Bytes) / float64(n), float64(r.ServerAllocs.Objects) / float64(n)
	}
	return 0, 0
}

// ServerCPUPerCall returns the servers' CPU time per call of the measured
// time, failed ones included, or zero when it was not measured.
func (r *Result) ServerCPUPerCall() time.Duration {
	if n := r.Calls + r.Errors; n > 0 {
		return r.ServerCPU / time.Duration(n)
	}
	return 0
}

// ErrorCount is one kind of error of a run, and how often it occurred.
type ErrorCount struct {
	Message string
	Count   int64
}

// Rate returns the successful calls per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// ItemRate returns the items moved per second.
func (r *Result) ItemRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Items) / r.Elapsed.Seconds()
}

// Percentile returns the latency below which p percent of the successful
// calls fell (p from 0 to 100), or 0 when there were none.
func (r *Result) Percentile(p float64) time.Duration {
	if r.Latency.TotalCount() == 0 {
		return 0
	}
	return time.Duration(r.Latency.ValueAtPercentile(p)) * time.Microsecond
}

// PartPercentile is Percentile of the part of the calls in Part, or 0
// when there is none.
func (r *Result) PartPercentile(p float64) time.Duration {
	if r.Part == nil || r.Part.TotalCount() == 0 {
		return 0
	}
	return time.Duration(r.Part.ValueAtPercentile(p)) * time.Microsecond
}

// Max returns the highest latency of a successful call.
func (r *Result) Max() time.Duration {
	return time.Duration(r.Latency.Max()) * time.Microsecond
}

// Run opens opts.Concurrency workers of t, then runs them as a closed loop
// until opts.Duration has been measured or opts.Count calls were made, or
// ctx ends. Workers are all opened before the first call, so that a run of
// many live sessions measures updates to sessions already held, not the
// opening of them.
//
// Errors: when opts are invalid, when a worker cannot be opened, or when
// ctx ended first. A call that fails is not an error of Run: it is counted
// in Result.Errors.
func Run(ctx context.Context, t Target, opts Options) (*Result, error) {
	switch {
	case opts.Concurrency < 1:
		return nil, fmt.Errorf("concurrency %d: want 1 or more", opts.Concurrency)
	case opts.Duration < 0 || opts.Count < 0 || opts.Warmup < 0 || opts.Interval < 0 || opts.Timeout < 0:
		return nil, errors.New("durations and counts must not be negative")
	case opts.Duration == 0 && opts.Count == 0:
		return nil, errors.New("set a duration, a count, or both")
	case opts.Count > 0 && opts.Warmup > 0:
		// Calls of the warmup would count against Count and not be measured.
		return nil, errors.New("a run of a count of calls has no warmup: give a duration for a warmup")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}

	lifeCtx, endWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer endWorkers()
	workers, err := open(ctx, lifeCtx, t, opts.Concurrency)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, w := range workers {
			w.Close()
		}
	}()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	rec := newRecorder()
	if _, ok := workers[0].(PartTimer); ok {
		rec.part = newHistogram()
	}
	var started atomic.Int64
	begin := time.Now()
	measureFrom := begin.Add(opts.Warmup)
	if opts.Duration > 0 {
		timer := time.AfterFunc(opts.Warmup+opts.Duration, stop)
		defer timer.Stop()
	}
	cpu := newMeter(opts.ServerCPU, opts.Warmup)
	defer cpu.stop()
	allocs := newAllocMeter(opts.ServerAllocs, opts.Warmup)
	defer allocs.stop()

	var wg sync.WaitGroup
	for _, w := range workers {
		parts, _ := w.(PartTimer)
		wg.Go(func() {
			if opts.Interval > 0 && !sleep(runCtx, rand.N(opts.Interval)) {
				return
			}
			for runCtx.Err() == nil {
				if opts.Count > 0 && started.Add(1) > opts.Count {
					return
				}
				callCtx, cancel := context.WithTimeout(runCtx, opts.Timeout)
				t0 := time.Now()
				items, err := w.Call(callCtx)
				took := time.Since(t0)
				cancel()
				if err != nil && runCtx.Err() != nil {
					return // cut off by the end of the run: not a failure
				}
				if !t0.Before(measureFrom) {
					part := time.Duration(-1)
					if parts != nil && err == nil {
						part = parts.LastPart()
					}
					rec.record(took, items, err, part)
				}
				if opts.Interval > 0 && !sleep(runCtx, opts.Interval) {
					return
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("run stopped after %v: %w", end.Sub(begin).Round(time.Millisecond), ctx.Err())
	}
	elapsed := end.Sub(measureFrom)
	if opts.Duration > 0 && opts.Count == 0 {
		elapsed = opts.Duration // calls cut off at the end were not counted either
	}
	res := rec.result(opts.Concurrency, elapsed)
	if c0, c1, ok := cpu.end(); ok && c1 >= c0 {
		res.ServerCPU = c1 - c0
	}
	res.ServerAllocs = allocs.end()
	return res, nil
}

// meter reads a counter of the servers (their CPU clock, their
// allocations) when the measured time starts, after the warmup, and when
// it ends.
type meter[T any] struct {
	read  func() (T, error)
	timer *time.Timer
	start chan T // the first reading; nothing when it failed
}

// newMeter starts a meter of read, the measured time starting after
// warmup; a nil read measures nothing.
func newMeter[T any](read func() (T, error), warmup time.Duration) *meter[T] {
	m := &meter[T]{read: read, start: make(chan T, 1)}
	if read == nil {
		return m
	}
	first := func() {
		if v, err := read(); err == nil {
			m.start <- v
		}
		close(m.start)
	}
	if warmup <= 0 {
		first()
	} else {
		m.timer = time.AfterFunc(warmup, first)
	}
	return m
}

// end returns the readings at the start and at the end, and false when
// either failed or the run ended before the measured time began.
func (m *meter[T]) end() (start, end T, ok bool) {
	if m.read == nil || (m.timer != nil && m.timer.Stop()) {
		return start, end, false
	}
	start, ok = <-m.start
	if !ok {
		return start, end, false
	}
	end, err := m.read()
	return start, end, err == nil
}

func (m *meter[T]) stop() {
	if m.timer != nil {
		m.timer.Stop()
	}
}

// open opens n workers of t, maxOpening at a time, each with lifeCtx. On
// any error it closes those it opened.
func open(ctx, lifeCtx context.Context, t Target, n int) ([]Worker, error) {
	workers := make([]Worker, n)
	errs := make([]error, n)
	sem := make(chan struct{}, maxOpening)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			workers[i], errs[i] = t.Worker(lifeCtx, i)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		for _, w := range workers {
			if w != nil {
				w.Close()
			}
		}
		return nil, fmt.Errorf("open worker %d of %d: %w", i+1, n, err)
	}
	return workers, nil
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// maxErrorSamples is how many distinct errors a Result keeps.
const maxErrorSamples = 5

// recorder collects the calls of a run. One lock is enough: a call takes
// tens of microseconds at the least, recording one well under one.
type recorder struct {
	mu      sync.Mutex
	latency *hdrhistogram.Histogram
	part    *hdrhistogram.Histogram // nil unless the workers time a part
	calls   int64
	errors  int64
	items   int64
	samples []ErrorCount
}

func newRecorder() *recorder { return &recorder{latency: newHistogram()} }

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(minLatencyMicros, maxLatencyMicros, latencyDigits)
}

// record records a call that took took, moved items and failed with err,
// and whose part took part (negative: none timed).
func (r *recorder) record(took time.Duration, items int, err error, part time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
		msg := err.Error()
		if i := slices.IndexFunc(r.samples, func(e ErrorCount) bool { return e.Message == msg }); i >= 0 {
			r.samples[i].Count++
		} else if len(r.samples) < maxErrorSamples {
			r.samples = append(r.samples, ErrorCount{Message: msg, Count: 1})
		}
		return
	}
	r.calls++
	r.items += int64(items)
	_ = r.latency.RecordValue(micros(took)) // within range: cannot fail
	if r.part != nil && part >= 0 {
		_ = r.part.RecordValue(micros(part))
	}
}

// micros returns d in microseconds, within the histograms' range.
func micros(d time.Duration) int64 {
	return min(max(d.Microseconds(), minLatencyMicros), maxLatencyMicros)
}

func (r *recorder) result(concurrency int, elapsed time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &Result{
		Concurrency:  concurrency,
		Calls:        r.calls,
		Errors:       r.errors,
		Items:        r.items,
		Elapsed:      elapsed,
		Latency:      r.latency,
		Part:         r.part,
		ErrorSamples: r.samples,
	}
}
