package telemetry

import (
	"io"
	"runtime"
	"sync"
	"time"
)

const (
	// busyLines is how many lines in a batch make the service busy: its
	// next batch waits flushDelay to gather more.
	busyLines = 8

	// flushDelay is how long a busy service's batch gathers lines.
	flushDelay = time.Millisecond

	// maxPendingLog is how much log output may wait to be written before
	// the services' writers wait for it: a log that cannot keep up slows
	// the service, rather than fill its memory.
	maxPendingLog = 1 << 20
)

// LogWriter writes a service's log to w from a goroutine of its own, in
// batches: each Write appends to a buffer and returns, and the goroutine
// writes whatever has gathered. The access log writes a line for every
// call and page, and a system call for each line cost more than making
// the line (see docs/performance.md). Lines keep their order. Close
// writes what is left; a Write after Close goes straight to w.
//
// When a batch took fewer than busyLines lines, the next line goes out
// as soon as the goroutines ready to run have run: an idle service's line
// at once, and a quiet one's without a wake-up of its own. When a batch
// took more, the service is busy, and the next batch gathers for a
// millisecond (flushDelay): a busy server would otherwise write whenever
// it had run every call in hand, just when it should read the next ones
// (docs/performance.md).
type LogWriter struct {
	w    io.Writer
	done chan struct{} // closed when the goroutine has written everything

	mu      sync.Mutex
	changed *sync.Cond // lines arrived, room was made, or Close was called
	pending []byte
	lines   int // Writes in pending
	closed  bool
}

// NewLogWriter returns a LogWriter to w and starts its goroutine; Close
// ends it.
func NewLogWriter(w io.Writer) *LogWriter {
	l := &LogWriter{w: w, done: make(chan struct{})}
	l.changed = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// Write implements io.Writer. It fails only after Close, as w does.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for len(l.pending) >= maxPendingLog && !l.closed {
		l.changed.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return l.w.Write(p)
	}
	l.pending = append(l.pending, p...)
	l.lines++
	l.mu.Unlock()
	l.changed.Broadcast()
	return len(p), nil
}

// run writes the pending lines until Close.
func (l *LogWriter) run() {
	defer close(l.done)
	var out []byte
	busy := false
	l.mu.Lock()
	for {
		for len(l.pending) == 0 && !l.closed {
			l.changed.Wait()
		}
		if len(l.pending) == 0 {
			l.mu.Unlock()
			return
		}
		if !l.closed {
			// Let the goroutines that are ready run first, and a busy
			// service's for a millisecond: their lines join this write.
			// Without it, a core serving 50 calls at once made a write
			// every two calls.
			l.mu.Unlock()
			if busy {
				time.Sleep(flushDelay)
			} else {
				runtime.Gosched()
			}
			l.mu.Lock()
		}
		busy = l.lines >= busyLines
		out, l.pending = l.pending, out[:0] // the two buffers take turns
		l.lines = 0
		l.mu.Unlock()
		l.changed.Broadcast() // room for writers waiting
		_, _ = l.w.Write(out) // as slog does, a log that cannot be written is dropped
		if cap(out) > 64<<10 {
			out = nil // do not keep a burst's buffer
		}
		l.mu.Lock()
	}
}

// Close writes the pending lines and stops the goroutine.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.changed.Broadcast()
	<-l.done
	return nil
}
