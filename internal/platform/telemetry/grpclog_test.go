package telemetry_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/bookshop-go/bookshop/internal/platform/logtest"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// TestGRPCLog checks how grpc-go's lines come out: errors as errors, info
// and warnings as debug lines, and the error for every connection to a
// server without the health service as one warning, from any number of
// goroutines, until the logger is set again.
func TestGRPCLog(t *testing.T) {
	// As grpc-go's component loggers call it, several connections at once.
	noHealth := func(g *telemetry.GRPCLog) {
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				g.Errorln("[health_service]", "Subchannel health check is unimplemented at server side, thus health check is disabled for SubConn 0xc000123456")
			})
		}
		wg.Wait()
	}

	logger, buf := logtest.TextLogger(slog.LevelInfo)
	g := telemetry.NewGRPCLog(logger)
	noHealth(g)
	g.Errorf("[%s] %s", "core", "something went wrong")
	g.Warningln("[core]", "addrConn.createTransport failed to connect")
	g.Infof("[core] %s", "channel created")
	lines := buf.Lines()
	if len(lines) != 2 {
		t.Fatalf("GRPCLog at info wrote %d lines, want the warning once and the error:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if l := lines[0]; !strings.Contains(l, "level=WARN") || !strings.Contains(l, "no health service") || !strings.Contains(l, "gRFC A17") {
		t.Errorf("first line = %s\nwant a warning that the server has no health service", l)
	}
	if l := lines[1]; !strings.Contains(l, "level=ERROR") || !strings.Contains(l, `"grpc-go: [core] something went wrong"`) {
		t.Errorf("second line = %s\nwant grpc-go's error", l)
	}

	debug, dbuf := logtest.TextLogger(slog.LevelDebug)
	g.SetLogger(debug)
	g.Warningln("[core]", "addrConn.createTransport failed to connect")
	g.Info("[core] ", "channel created")
	noHealth(g)
	noHealth(g)
	lines = dbuf.Lines()
	if len(lines) != 3 {
		t.Fatalf("GRPCLog at debug wrote %d lines, want the two debug lines and the warning, said again once:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, want := range []string{`level=DEBUG msg="grpc-go: [core] addrConn.createTransport failed to connect"`, `level=DEBUG msg="grpc-go: [core] channel created"`, "level=WARN"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want %s", i+1, lines[i], want)
		}
	}
	if g.V(0) != true || g.V(2) != false {
		t.Errorf("V(0), V(2) = %v, %v; want true, false, as grpc-go's default logger", g.V(0), g.V(2))
	}
}
