package telemetry_test

import (
	"log/slog"
	"os"
	"os/exec"
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
	g.SetLogger(debug, nil)
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

// TestGRPCLogReadEnv checks that grpc-go's own variables are honoured:
// GRPC_GO_LOG_SEVERITY_LEVEL brings its info and warnings up to the info
// and warn levels, GRPC_GO_LOG_VERBOSITY_LEVEL its verbose lines, and
// values grpc-go ignores are ignored.
func TestGRPCLogReadEnv(t *testing.T) {
	for _, tc := range []struct {
		severity, verbosity string
		want                []string // the lines at info and above
		wantV               int      // the most verbose V level wanted
	}{
		{"", "", nil, 0},
		{"error", "x", nil, 0},
		{"WARNING", "2", []string{`level=WARN msg="grpc-go: a warning"`}, 2},
		{"info", "", []string{`level=INFO msg="grpc-go: some info"`, `level=WARN msg="grpc-go: a warning"`}, 0},
		{"loud", "-1", nil, -1},
	} {
		t.Run(tc.severity+","+tc.verbosity, func(t *testing.T) {
			logger, buf := logtest.TextLogger(slog.LevelInfo)
			g := telemetry.NewGRPCLog(logger)
			g.ReadEnv(func(name string) string {
				return map[string]string{"GRPC_GO_LOG_SEVERITY_LEVEL": tc.severity, "GRPC_GO_LOG_VERBOSITY_LEVEL": tc.verbosity}[name]
			})
			g.Info("some info")
			g.Warning("a warning")
			lines := buf.Lines()
			if len(lines) != len(tc.want) {
				t.Fatalf("GRPCLog wrote %q, want lines containing %q", lines, tc.want)
			}
			for i, want := range tc.want {
				if !strings.Contains(lines[i], want) {
					t.Errorf("line %d = %s, want %s", i+1, lines[i], want)
				}
			}
			if g.V(tc.wantV) != true || g.V(tc.wantV+1) != false {
				t.Errorf("V(%d), V(%d) = %v, %v; want true, false", tc.wantV, tc.wantV+1, g.V(tc.wantV), g.V(tc.wantV+1))
			}
		})
	}
}

// TestGRPCLogFatalFlushes runs grpc-go's Fatal in a child process whose
// log goes through a LogWriter, as a service's does: the fatal line is
// written before the process ends, with status 1.
func TestGRPCLogFatalFlushes(t *testing.T) {
	if os.Getenv("GRPCLOG_FATAL_CHILD") == "1" {
		lw := telemetry.NewLogWriter(os.Stdout)
		g := telemetry.NewGRPCLog(slog.New(slog.NewTextHandler(lw, nil)))
		g.SetLogger(slog.New(slog.NewTextHandler(lw, nil)), func() { lw.Close() })
		g.Fatalf("[transport] %s", "cannot go on")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGRPCLogFatalFlushes$")
	cmd.Env = append(os.Environ(), "GRPCLOG_FATAL_CHILD=1")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("a child calling Fatal ended with %v, want exit status 1", err)
	}
	if want := `level=ERROR msg="grpc-go: [transport] cannot go on"`; !strings.Contains(string(out), want) {
		t.Errorf("a child calling Fatal wrote %q, want a line containing %s", out, want)
	}
}
