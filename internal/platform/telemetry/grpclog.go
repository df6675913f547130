package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/grpclog"
)

// GRPCLog writes grpc-go's own log (package grpclog) to a *slog.Logger, so
// that its lines come out in the service's format, with the service's
// other lines, rather than as grpc-go's plain text on stderr. Errors stay
// errors; grpc-go's info and warnings, which it hides by default, are
// debug lines, unless grpc-go's own variables ask for them (see ReadEnv).
//
// One of grpc-go's errors is no error: "health check is unimplemented at
// server side", which grpc-go logs for every connection to a server that
// has no health service, such as the tutorial's Python server, which
// counts as serving then, as gRFC A17 says. GRPCLog says so once, as a
// warning, and drops the repeats.
//
// grpclog has one logger for the process, set with grpclog.SetLoggerV2
// before any gRPC work starts (it is read without a lock): a process
// makes one GRPCLog at start, sets it, and gives it the service's logger
// with SetLogger once that is made. It is safe for concurrent use.
type GRPCLog struct {
	sink      atomic.Pointer[grpcLogSink]
	info      atomic.Int64 // the slog level of grpc-go's info lines
	warning   atomic.Int64 // the slog level of grpc-go's warnings
	verbosity atomic.Int64 // the most verbose level V reports as wanted
}

// grpcLogSink is where a GRPCLog writes, how to flush it, and whether it
// has said that a server has no health service.
type grpcLogSink struct {
	logger          *slog.Logger
	flush           func() // nil: nothing to flush
	noHealthWarning sync.Once
}

// NewGRPCLog returns a GRPCLog that writes to logger until SetLogger
// gives it another.
func NewGRPCLog(logger *slog.Logger) *GRPCLog {
	g := &GRPCLog{}
	g.info.Store(int64(slog.LevelDebug))
	g.warning.Store(int64(slog.LevelDebug))
	g.SetLogger(logger, nil)
	return g
}

// SetLogger makes g write to logger from now on, and say again, once, that
// a server has no health service. flush, when not nil, writes out what
// logger holds back (such as the end of a LogWriter): grpc-go's Fatal
// calls it before it ends the process, so that its last line is not lost.
func (g *GRPCLog) SetLogger(logger *slog.Logger, flush func()) {
	g.sink.Store(&grpcLogSink{logger: logger, flush: flush})
}

// ReadEnv honours grpc-go's own variables, read with getenv, as its
// default logger does:
//
//   - GRPC_GO_LOG_SEVERITY_LEVEL: "info" (or "INFO") logs grpc-go's info
//     lines at the info level and its warnings at the warn level;
//     "warning" (or "WARNING") its warnings at the warn level, its info at
//     debug; unset, "error" or any other value, both at debug, as
//     NewGRPCLog does. The service's -log-level still decides which
//     levels come out.
//   - GRPC_GO_LOG_VERBOSITY_LEVEL: the most verbose of grpc-go's V levels
//     logged, a whole number; unset or not a number, 0.
//
// GRPC_GO_LOG_FORMATTER does not apply: the lines are in the service's
// format. Call it before any gRPC work, as grpclog.SetLoggerV2.
func (g *GRPCLog) ReadEnv(getenv func(string) string) {
	info, warning := slog.LevelDebug, slog.LevelDebug
	switch getenv("GRPC_GO_LOG_SEVERITY_LEVEL") {
	case "INFO", "info":
		info, warning = slog.LevelInfo, slog.LevelWarn
	case "WARNING", "warning":
		warning = slog.LevelWarn
	}
	g.info.Store(int64(info))
	g.warning.Store(int64(warning))
	v, err := strconv.Atoi(getenv("GRPC_GO_LOG_VERBOSITY_LEVEL"))
	if err != nil {
		v = 0
	}
	g.verbosity.Store(int64(v))
}

// Compile-time check: a GRPCLog is what grpclog.SetLoggerV2 takes.
var _ grpclog.LoggerV2 = (*GRPCLog)(nil)

// noHealthMessage is the part of grpc-go's error for a server without the
// health service that is the same in every version that logs it.
const noHealthMessage = "health check is unimplemented at server side"

// log writes one of grpc-go's lines at level.
func (g *GRPCLog) log(level slog.Level, msg string) {
	sink := g.sink.Load()
	if level == slog.LevelError && strings.Contains(msg, noHealthMessage) {
		sink.noHealthWarning.Do(func() {
			sink.logger.Warn("a gRPC server has no health service (it answers UNIMPLEMENTED): its connections count as serving, as gRFC A17 says, and readiness follows whether it answers calls; said once",
				"grpc", msg)
		})
		return
	}
	ctx := context.Background()
	if !sink.logger.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, "grpc-go: "+msg, 0)
	_ = sink.logger.Handler().Handle(ctx, r) // nowhere to report a failed log write
}

// Info writes grpc-go's info at the debug level (see ReadEnv).
func (g *GRPCLog) Info(args ...any) { g.log(slog.Level(g.info.Load()), fmt.Sprint(args...)) }

// Infoln is Info.
func (g *GRPCLog) Infoln(args ...any) { g.log(slog.Level(g.info.Load()), sprintln(args...)) }

// Infof is Info.
func (g *GRPCLog) Infof(format string, args ...any) {
	g.log(slog.Level(g.info.Load()), fmt.Sprintf(format, args...))
}

// Warning writes grpc-go's warnings at the debug level (see ReadEnv):
// grpc-go hides them by default, and most say that a connection failed,
// which the calls on it report too.
func (g *GRPCLog) Warning(args ...any) { g.log(slog.Level(g.warning.Load()), fmt.Sprint(args...)) }

// Warningln is Warning.
func (g *GRPCLog) Warningln(args ...any) { g.log(slog.Level(g.warning.Load()), sprintln(args...)) }

// Warningf is Warning.
func (g *GRPCLog) Warningf(format string, args ...any) {
	g.log(slog.Level(g.warning.Load()), fmt.Sprintf(format, args...))
}

// Error writes grpc-go's errors at the error level.
func (g *GRPCLog) Error(args ...any) { g.log(slog.LevelError, fmt.Sprint(args...)) }

// Errorln is Error.
func (g *GRPCLog) Errorln(args ...any) { g.log(slog.LevelError, sprintln(args...)) }

// Errorf is Error.
func (g *GRPCLog) Errorf(format string, args ...any) {
	g.log(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal writes the error, flushes the log (see SetLogger) and ends the
// process with status 1, as grpclog requires of a logger's Fatal
// (grpc-go calls it only when it cannot go on).
func (g *GRPCLog) Fatal(args ...any) { g.Error(args...); g.exit() }

// Fatalln is Fatal.
func (g *GRPCLog) Fatalln(args ...any) { g.Errorln(args...); g.exit() }

// Fatalf is Fatal.
func (g *GRPCLog) Fatalf(format string, args ...any) { g.Errorf(format, args...); g.exit() }

// exit flushes the log and ends the process with status 1.
func (g *GRPCLog) exit() {
	if flush := g.sink.Load().flush; flush != nil {
		flush()
	}
	os.Exit(1)
}

// V reports whether grpc-go's verbose lines of level l are wanted: up to
// GRPC_GO_LOG_VERBOSITY_LEVEL (see ReadEnv), level 0 only by default, as
// grpc-go's default logger.
func (g *GRPCLog) V(l int) bool { return int64(l) <= g.verbosity.Load() }

// sprintln joins args with spaces, as fmt.Sprintln does, without its
// newline.
func sprintln(args ...any) string { return strings.TrimSuffix(fmt.Sprintln(args...), "\n") }
