package telemetry

import (
	"io"
	"runtime"
	"sync"
	"time"
)

const (
	// busyWrites is how many writes in a batch make the service busy: its
	// next batch gathers for flushDelay.
	busyWrites = 8

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
// A batch goes out as soon as the goroutines ready to run have run (their
// lines join it): an idle service's line at once, with no wake-up of its
// own. After a batch of busyWrites writes or more, the service is busy,
// and the next batch gathers for a millisecond (flushDelay): a busy
// server would otherwise write whenever it had run every call in hand,
// just when it should read the next ones (docs/performance.md). A batch
// of fewer writes makes the service idle again: after a burst, one batch
// waits a millisecond. (Ending the busy mode whenever the goroutine found
// nothing to write ended it in the gaps of a busy server's work, and cost
// Recommend a tenth of its calls.)
type LogWriter struct {
	w       io.Writer
	delay   time.Duration // flushDelay, but in tests
	closing chan struct{} // closed by Close: a batch gathers no longer
	done    chan struct{} // closed when the goroutine has written everything

	mu      sync.Mutex
	changed *sync.Cond // lines arrived, room was made, or Close was called
	pending []byte
	writes  int  // Writes in pending
	busy    bool // the last batch held busyWrites writes or more
	closed  bool
}

// NewLogWriter returns a LogWriter to w and starts its goroutine; Close
// ends it.
func NewLogWriter(w io.Writer) *LogWriter {
	return newLogWriter(w, flushDelay)
}

func newLogWriter(w io.Writer, delay time.Duration) *LogWriter {
	l := &LogWriter{w: w, delay: delay, closing: make(chan struct{}), done: make(chan struct{})}
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
		<-l.done // after the lines before it, and not while they are written
		return l.w.Write(p)
	}
	l.pending = append(l.pending, p...)
	l.writes++
	l.mu.Unlock()
	l.changed.Broadcast()
	return len(p), nil
}

// run writes the pending lines until Close.
func (l *LogWriter) run() {
	defer close(l.done)
	var out []byte
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
			busy := l.busy
			l.mu.Unlock()
			if busy {
				l.gather()
			} else {
				runtime.Gosched()
			}
			l.mu.Lock()
		}
		l.busy = l.writes >= busyWrites
		out, l.pending = l.pending, out[:0] // the two buffers take turns
		l.writes = 0
		l.mu.Unlock()
		l.changed.Broadcast() // room for writers waiting
		_, _ = l.w.Write(out) // as slog does, a log that cannot be written is dropped
		if cap(out) > 64<<10 {
			out = nil // do not keep a burst's buffer
		}
		l.mu.Lock()
	}
}

// gather waits l.delay, or until Close.
func (l *LogWriter) gather() {
	t := time.NewTimer(l.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.closing:
	}
}

// Close writes the pending lines and stops the goroutine.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.closing)
	l.changed.Broadcast()
	<-l.done
	return nil
}
