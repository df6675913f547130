package telemetry

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use, whose writes
// can be held up.
type lockedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	gate chan struct{} // when set, each Write waits until it is closed
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	if b.gate != nil {
		<-b.gate
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogWriterOrderAndClose checks that lines from many goroutines all
// arrive, whole and each goroutine's in order, by the time Close returns.
func TestLogWriterOrderAndClose(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(lw, "writer=%d line=%d\n", w, i)
			}
		})
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	next := make(map[int]int)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("got %d lines, want %d", len(got), writers*lines)
	}
	for _, line := range got {
		var w, i int
		if _, err := fmt.Sscanf(line, "writer=%d line=%d", &w, &i); err != nil {
			t.Fatalf("line %q is not whole: %v", line, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d came after line %d", w, i, next[w]-1)
		}
		next[w]++
	}
	fmt.Fprintln(lw, "after close")
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Errorf("a line written after Close is missing: %q", out.String()[max(0, out.Len()-40):])
	}
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// TestLogWriterBackPressure checks that writers wait, rather than buffer
// without bound, while the output is stuck, and go on once it moves.
func TestLogWriterBackPressure(t *testing.T) {
	out := &lockedBuffer{gate: make(chan struct{})}
	lw := NewLogWriter(out)
	line := strings.Repeat("x", 1023) + "\n"
	wrote := make(chan int)
	go func() {
		n := 0
		for range 3 * maxPendingLog / len(line) {
			lw.Write([]byte(line))
			n++
		}
		wrote <- n
	}()
	select {
	case n := <-wrote:
		t.Fatalf("wrote %d lines while the output was stuck, want the writer to wait", n)
	case <-time.After(200 * time.Millisecond):
	}
	lw.mu.Lock()
	pending := len(lw.pending)
	lw.mu.Unlock()
	if pending > maxPendingLog+len(line) {
		t.Errorf("%d bytes pending while the output was stuck, want at most %d", pending, maxPendingLog+len(line))
	}
	close(out.gate) // the output moves again
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer still waits after the output moved")
	}
	lw.Close()
	if got, want := out.Len(), 3*maxPendingLog/len(line)*len(line); got != want {
		t.Errorf("wrote %d bytes, want %d", got, want)
	}
}

// TestLogWriterIdleLine checks that lines written while the service is
// idle go out without waiting for others to join them: at once, and
// after a busy batch, once one batch has gathered for the delay (here
// 2 s) and held fewer than busyWrites lines.
func TestLogWriterIdleLine(t *testing.T) {
	const delay = 2 * time.Second
	var out lockedBuffer
	lw := newLogWriter(&out, delay)
	defer lw.Close()
	idle := func(line string) {
		t.Helper()
		start := time.Now()
		fmt.Fprint(lw, line)
		waitFor(t, &out, line)
		if d := time.Since(start); d >= delay {
			t.Errorf("%q went out after %v, want at once, not after the busy mode's %v", line, d, delay)
		}
	}
	idle("first\n")
	burst(lw)
	waitFor(t, &out, fmt.Sprintf("burst %d\n", busyWrites-1))
	fmt.Fprint(lw, "gathered\n") // the batch after a busy one gathers
	waitFor(t, &out, "gathered\n")
	for i := range 3 {
		idle(fmt.Sprintf("line %d\n", i))
	}
}

// burst gives lw a busy batch: busyWrites lines, "burst 0" and on, that
// its goroutine takes at once.
func burst(lw *LogWriter) {
	lw.mu.Lock()
	for i := range busyWrites {
		lw.pending = fmt.Appendf(lw.pending, "burst %d\n", i)
		lw.writes++
	}
	lw.mu.Unlock()
	lw.changed.Broadcast()
}

// waitFor waits until out ends with line, for 5 s at most.
func waitFor(t *testing.T, out *lockedBuffer, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasSuffix(out.String(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not written 5s after it was given: %q", line, out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLogWriterBusyGathers checks that the lines written while a busy
// batch is being written wait for the next batch to gather, and that
// Close writes them at once, without waiting out the delay.
func TestLogWriterBusyGathers(t *testing.T) {
	out := &lockedBuffer{gate: make(chan struct{})} // holds the burst's write
	lw := newLogWriter(out, time.Hour)
	burst(lw)
	// Once the goroutine has taken the burst (it is writing it, held at
	// the gate), the next line.
	lw.mu.Lock()
	for len(lw.pending) > 0 {
		lw.mu.Unlock()
		time.Sleep(time.Millisecond)
		lw.mu.Lock()
	}
	lw.pending = append(lw.pending, "gathering\n"...)
	lw.writes++
	lw.mu.Unlock()
	close(out.gate)
	waitFor(t, out, fmt.Sprintf("burst %d\n", busyWrites-1))
	time.Sleep(50 * time.Millisecond)
	if strings.Contains(out.String(), "gathering") {
		t.Fatal("a line after a busy batch went out before the batch gathered")
	}
	start := time.Now()
	lw.Close()
	if !strings.HasSuffix(out.String(), "gathering\n") {
		t.Errorf("Close did not write the gathering line: %q", out.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v, waiting out the batch's delay", d)
	}
}
