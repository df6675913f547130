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

// TestLogWriterIdleLine checks that a line written while the service is
// idle goes out without waiting for others to join it, after a busy
// burst (whose next batch waits flushDelay) as well.
func TestLogWriterIdleLine(t *testing.T) {
	var out lockedBuffer
	lw := NewLogWriter(&out)
	defer lw.Close()
	for i := range 10 * busyLines {
		fmt.Fprintf(lw, "burst %d\n", i)
	}
	for i := range 3 {
		line := fmt.Sprintf("line %d\n", i)
		fmt.Fprint(lw, line)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.HasSuffix(out.String(), line) {
			if time.Now().After(deadline) {
				t.Fatalf("line %d not written 5s after it was given: %q", i, out.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
}
