package process_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
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
