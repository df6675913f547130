package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/cli"
)

// testContext returns a context that ends with the test or after d.
func testContext(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// env returns a getenv that reads only vars, so tests do not depend on the
// environment they run in.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// syncBuffer is a bytes.Buffer safe for concurrent use: a command's log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var marketplaceURL = regexp.MustCompile(`http://\S+/`)

// startUp runs `bookshop up` as the README's first command does, on free
// ports, until the test ends. It returns the Marketplace URL it prints.
func startUp(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		args := append([]string{"up", "-port=0", "-recommendations-port=0", "-db=:memory:"}, args...)
		err := cli.Run(ctx, args, env(nil), stdoutW, &stderr)
		stdoutW.CloseWithError(io.EOF)
		done <- err
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("bookshop up returned %v after shutdown, want nil", err)
			}
		case <-time.After(15 * time.Second):
			tb.Errorf("bookshop up did not stop within 15s of shutdown")
		}
		if tb.Failed() {
			tb.Logf("bookshop up log:\n%s", stderr.String())
		}
	})
	return waitForURL(tb, stdoutR, done)
}

// waitForURL reads r until it prints the Marketplace URL, then keeps
// draining it in the background.
func waitForURL(tb testing.TB, r io.Reader, done <-chan error) string {
	tb.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if u := marketplaceURL.FindString(sc.Text()); u != "" && !sent {
				found <- u
				sent = true
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case err := <-done:
		tb.Fatalf("bookshop up stopped before printing its URL: %v", err)
	case <-time.After(15 * time.Second):
		tb.Fatal("bookshop up printed no URL within 15s")
	}
	return ""
}
