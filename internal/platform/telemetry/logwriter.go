package telemetry

import (
	"io"
	"sync"
	"time"
)

const (
	// flushDelay is how long a line may wait for others to join it: a
	// line written while the service is idle goes out this soon.
	flushDelay = time.Millisecond

	// flushSize is how much log output makes a write at once, without
	// waiting for flushDelay.
	flushSize = 64 << 10

	// maxPendingLog is how much log output may wait to be written before
	// the services' writers wait for it: a log that cannot keep up slows
	// the service, rather than fill its memory.
	maxPendingLog = 1 << 20
)

// LogWriter writes a service's log to w from a goroutine of its own, in
// batches: each Write appends to a buffer and returns, and the goroutine
// writes what has gathered a millisecond (flushDelay) after the first line
// of a batch, or as soon as 64 KiB wait. The access log writes a line for
// every call and page, and a system call for each line cost more than
// making the line (see docs/performance.md). Nothing wakes the goroutine
// but a timer, once a batch: under load it runs a thousand times a
// second, not whenever the calls in hand are done, where its system call
// kept the server from reading the next calls (docs/performance.md).
// Lines keep their order. Close writes what is left; a Write after Close
// goes straight to w.
type LogWriter struct {
	w     io.Writer
	timer *time.Timer   // set by the first line of a batch
	full  chan struct{} // flushSize waits, or Close was called
	done  chan struct{} // closed when the goroutine has written everything

	mu      sync.Mutex
	room    *sync.Cond // the goroutine took the pending lines
	pending []byte
	timed   bool // the timer is set for the pending lines
	closed  bool
}

// NewLogWriter returns a LogWriter to w and starts its goroutine; Close
// ends it.
func NewLogWriter(w io.Writer) *LogWriter {
	l := &LogWriter{
		w:     w,
		timer: time.NewTimer(time.Hour),
		full:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	l.timer.Stop()
	l.room = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// Write implements io.Writer. It fails only after Close, as w does.
func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for len(l.pending) >= maxPendingLog && !l.closed {
		l.room.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		return l.w.Write(p)
	}
	was := len(l.pending)
	l.pending = append(l.pending, p...)
	if !l.timed {
		l.timed = true
		l.timer.Reset(flushDelay)
	}
	full := was < flushSize && len(l.pending) >= flushSize
	l.mu.Unlock()
	if full {
		l.signal()
	}
	return len(p), nil
}

// signal wakes the goroutine, unless a wake is pending already.
func (l *LogWriter) signal() {
	select {
	case l.full <- struct{}{}:
	default:
	}
}

// run writes the pending lines when the timer fires or they fill, until
// Close.
func (l *LogWriter) run() {
	defer close(l.done)
	defer l.timer.Stop()
	var out []byte
	for {
		select {
		case <-l.timer.C:
		case <-l.full:
		}
		l.mu.Lock()
		out, l.pending = l.pending, out[:0] // the two buffers take turns
		l.timed = false
		closed := l.closed
		l.mu.Unlock()
		l.room.Broadcast() // room for writers waiting
		if len(out) > 0 {
			_, _ = l.w.Write(out) // as slog does, a log that cannot be written is dropped
		}
		if cap(out) > flushSize*2 {
			out = nil // do not keep a burst's buffer
		}
		if closed {
			return
		}
	}
}

// Close writes the pending lines and stops the goroutine.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.room.Broadcast()
	l.signal()
	<-l.done
	return nil
}
