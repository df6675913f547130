package process_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/process"
)

func TestRunAllStopsTheOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	boom := errors.New("boom")
	stopped := make(chan struct{})
	err := process.RunAll(ctx,
		func(context.Context) error { return boom },
		func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil })
	if !errors.Is(err, boom) {
		t.Errorf("RunAll = %v, want the failure boom", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("RunAll returned before the other part stopped")
	}
}

func TestRunAllEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- process.RunAll(ctx,
			func(ctx context.Context) error { <-ctx.Done(); return nil },
			func(ctx context.Context) error { <-ctx.Done(); return nil })
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunAll after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunAll did not return after its context ended")
	}
}

func TestDepsValidate(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	good := process.Deps{Logger: logger, Listener: lis, DrainTimeout: time.Second}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v, want nil", good, err)
	}
	for name, d := range map[string]process.Deps{
		"no logger":   {Listener: lis, DrainTimeout: time.Second},
		"no listener": {Logger: logger, DrainTimeout: time.Second},
		"no drain":    {Logger: logger, Listener: lis},
	} {
		if err := d.Validate(); err == nil {
			t.Errorf("%s: Validate = nil, want an error", name)
		}
	}
}

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		files []string
		want  int64
		ok    bool
	}{
		{"cgroup v2 limit", []string{write("v2", "268435456\n")}, 268435456, true},
		{"cgroup v2 no limit", []string{write("v2max", "max\n")}, 0, false},
		{"cgroup v1 no limit", []string{write("v1", "9223372036854771712\n")}, 0, false},
		{"missing, then v1", []string{filepath.Join(dir, "none"), write("v1b", "104857600")}, 104857600, true},
		{"garbage", []string{write("bad", "lots")}, 0, false},
		{"none", []string{filepath.Join(dir, "none")}, 0, false},
	}
	for _, tt := range tests {
		got, ok := process.ContainerMemoryLimit(tt.files)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: containerMemoryLimit = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTuneRuntime(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(oldLimit)
	oldPercent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(oldPercent)
	logger := slog.New(slog.DiscardHandler)
	limit := filepath.Join(t.TempDir(), "memory.max")
	if err := os.WriteFile(limit, []byte("268435456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{"GOMEMLIMIT": "1GiB"}
	process.TuneRuntimeWith(func(k string) string { return set[k] }, logger, []string{limit})
	if got := debug.SetMemoryLimit(-1); got != oldLimit {
		t.Errorf("with GOMEMLIMIT set, the memory limit became %d, want it left alone", got)
	}
	if got := debug.SetGCPercent(100); got != process.GCPercent {
		t.Errorf("without GOGC, the collector's target is %d, want %d", got, process.GCPercent)
	}
	process.TuneRuntimeWith(func(string) string { return "" }, logger, []string{limit})
	if got, want := debug.SetMemoryLimit(-1), int64(268435456/10*9); got != want {
		t.Errorf("without GOMEMLIMIT, under a limit of 256 MiB, the memory limit is %d, want %d", got, want)
	}
	set["GOGC"] = "150" // the runtime read it at start; TuneRuntime leaves it
	debug.SetGCPercent(150)
	process.TuneRuntimeWith(func(k string) string { return set[k] }, logger, []string{limit})
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("with GOGC set, the collector's target became %d, want it left alone (150)", got)
	}
	var log strings.Builder
	set["GOGC"] = "lots"
	process.TuneRuntimeWith(func(k string) string { return set[k] }, slog.New(slog.NewTextHandler(&log, nil)), []string{limit})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=lots, the collector's target became %d, want it left alone (100)", got)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "GOGC=lots") {
		t.Errorf("with GOGC=lots, the log says %q, want a warning naming it", log.String())
	}
}

// TestEvery checks that Every calls at once, then on each tick, and
// returns nil once its context ends, calling no more.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- process.Every(ctx, 5*time.Millisecond, func(context.Context) { calls <- struct{}{} })
	}()
	for range 3 {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatal("Every did not call again within 5s")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Every after its context ended = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return once its context ended")
	}
}

// TestWatch checks that Watch reports the first result of its check and
// then only its changes between passing and failing.
func TestWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	down := errors.New("down")
	results := []error{nil, nil, down, errors.New("still down"), nil, nil}
	var calls int
	var reported []error
	err := process.Watch(ctx, time.Millisecond, func(context.Context) error {
		err := results[calls]
		calls++
		if calls == len(results) {
			cancel()
		}
		return err
	}, func(err error) { reported = append(reported, err) })
	if err != nil {
		t.Errorf("Watch = %v, want nil", err)
	}
	want := []error{nil, down, nil}
	if len(reported) != len(want) {
		t.Fatalf("Watch reported %v, want %v", reported, want)
	}
	for i := range want {
		if reported[i] != want[i] {
			t.Errorf("Watch reported %v, want %v", reported, want)
		}
	}
}

// closerFunc is an io.Closer that calls itself.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// TestCloseLoggedLogsTheError closes with CloseLogged what closes well,
// which logs nothing, and what fails, which logs an error naming what was
// closed and why.
func TestCloseLoggedLogsTheError(t *testing.T) {
	var logs strings.Builder
	d := process.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	closed := 0
	d.CloseLogged("database", closerFunc(func() error { closed++; return nil }))
	if closed != 1 || logs.Len() != 0 {
		t.Errorf("a Close that succeeds: called %d times, logged %q; want once, nothing", closed, logs.String())
	}
	d.CloseLogged("database", closerFunc(func() error { closed++; return errors.New("2 connections still open after 2s") }))
	got := logs.String()
	if closed != 2 || !strings.Contains(got, "level=ERROR") || !strings.Contains(got, `msg="could not close the database"`) ||
		!strings.Contains(got, `err="2 connections still open after 2s"`) {
		t.Errorf("a Close that fails logged %q; want an error naming the database and the cause", got)
	}
}
