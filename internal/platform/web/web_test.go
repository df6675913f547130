package web_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/web"
)

// TestServeDrains checks a graceful shutdown: a request in flight when the
// context ends gets its whole answer, and Serve returns nil after it.
func TestServeDrains(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	started, release := make(chan struct{}), make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- web.NewServer(ctx, handler, 5*time.Second, logger).Serve(ctx, lis, web.Drain{Timeout: 5 * time.Second}, logger)
	}()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + lis.Addr().String() + "/")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	cancel() // shut down with the request in flight
	time.Sleep(50 * time.Millisecond)
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("the request in flight at shutdown got %q, want %q", body, "finished")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after a shutdown = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}

// TestServeCutsOffAtTheDrainTimeout checks that a request that outlives
// the drain timeout is cut off, and Serve still returns.
func TestServeCutsOffAtTheDrainTimeout(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	started := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never answers: only the cut-off ends it
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- web.NewServer(ctx, handler, time.Minute, logger).Serve(ctx, lis, web.Drain{Timeout: 100 * time.Millisecond}, logger)
	}()
	go http.Get("http://" + lis.Addr().String() + "/") //nolint:errcheck // cut off on purpose
	<-started
	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Serve took %v to return, want about the drain timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain timeout")
	}
}

// TestChunkedRequestClosesTheConnection sends a request with both
// Content-Length and Transfer-Encoding, and a second request pipelined
// behind it: the first is answered with Connection: close, and the
// connection closed, so the second is never served.
func TestChunkedRequestClosesTheConnection(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var paths []string
	var mu sync.Mutex
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "ok")
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go web.NewServer(ctx, handler, 5*time.Second, logger).Serve(ctx, lis, web.Drain{Timeout: time.Second}, logger) //nolint:errcheck // ends with the test

	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "POST /first HTTP/1.1\r\nHost: shop\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\n"+
		"GET /smuggled HTTP/1.1\r\nHost: shop\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the first answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("the first answer: %s, Connection %q; want 200 closing the connection", resp.Status, resp.Header.Get("Connection"))
	}
	if resp, err := http.ReadResponse(r, nil); err == nil {
		t.Errorf("the request pipelined behind it was answered: %s", resp.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/first" {
		t.Errorf("served %v, want only /first", paths)
	}
}

// TestShutdownLosesNoKeepAliveRequest puts a server under keep-alive load
// (POSTs, which a client never retries on its own) and shuts it down: in
// the grace period every answer closes its connection, the clients stop
// sending in it (as a load balancer does once the readiness check fails),
// and not one request fails.
func TestShutdownLosesNoKeepAliveRequest(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(time.Millisecond)
		io.WriteString(w, "ok")
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	const grace = 400 * time.Millisecond
	served := make(chan error, 1)
	go func() {
		served <- web.NewServer(ctx, handler, 5*time.Second, logger).Serve(ctx, lis, web.Drain{Grace: grace, Timeout: 5 * time.Second}, logger)
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}
	url := "http://" + lis.Addr().String() + "/order"
	stop := make(chan struct{})
	var (
		wg                sync.WaitGroup
		ok, failed, after atomic.Int64
		draining          atomic.Bool
		firstErr          atomic.Value
	)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(url, "text/plain", strings.NewReader("one book"))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				switch {
				case err != nil:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				case draining.Load():
					after.Add(1)
					ok.Add(1)
				default:
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // keep-alive connections in use
	cancel()
	draining.Store(true)
	time.Sleep(grace / 2)
	close(stop)
	wg.Wait()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if failed.Load() != 0 || after.Load() == 0 {
		t.Errorf("%d requests failed (the first: %v), %d served; %d in the grace period; want none failed, some in the grace period",
			failed.Load(), firstErr.Load(), ok.Load(), after.Load())
	}
}
