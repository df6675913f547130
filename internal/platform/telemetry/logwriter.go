package telemetry

import (
	"io"
	"runtime"
	"sync"
)

// maxPendingLog is how much log output may wait to be written before the
// services' writers wait for it: a log that cannot keep up slows the
// service, rather than fill its memory.
const maxPendingLog = 1 << 20

// LogWriter writes a service's log to w from a goroutine of its own, in
// batches: each Write appends to a buffer and returns, and the goroutine
// writes whatever has gathered, as soon as it can. When the service is
// idle a line goes out at once; under load, many lines go out in one
// write. The access log writes a line for every call and page, and a
// system call for each line cost more than making the line (see
// docs/performance.md). Lines keep their order. Close writes what is
// left; a Write after Close goes straight to w.
type LogWriter struct {
	w    io.Writer
	done chan struct{} // closed when the goroutine has written everything

	mu      sync.Mutex
	changed *sync.Cond // lines arrived, room was made, or Close was called
	pending []byte
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
			// Let the goroutines that are ready run first: under load they
			// are serving calls, whose lines join this write; when the
			// service is idle there are none, and the line goes out at
			// once. Without it, a core serving 50 calls at once made a
			// write every two calls.
			l.mu.Unlock()
			runtime.Gosched()
			l.mu.Lock()
		}
		out, l.pending = l.pending, out[:0] // the two buffers take turns
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
