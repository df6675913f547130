package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
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
		served <- web.Serve(ctx, web.NewServer(ctx, handler, 5*time.Second, logger), lis, 5*time.Second, logger)
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
		served <- web.Serve(ctx, web.NewServer(ctx, handler, time.Minute, logger), lis, 100*time.Millisecond, logger)
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
