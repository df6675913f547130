package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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
// debug lines.
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
	sink atomic.Pointer[grpcLogSink]
}

// grpcLogSink is where a GRPCLog writes, and whether it has said that a
// server has no health service.
type grpcLogSink struct {
	logger          *slog.Logger
	noHealthWarning sync.Once
}

// NewGRPCLog returns a GRPCLog that writes to logger until SetLogger
// gives it another.
func NewGRPCLog(logger *slog.Logger) *GRPCLog {
	g := &GRPCLog{}
	g.SetLogger(logger)
	return g
}

// SetLogger makes g write to logger from now on, and say again, once, that
// a server has no health service.
func (g *GRPCLog) SetLogger(logger *slog.Logger) {
	g.sink.Store(&grpcLogSink{logger: logger})
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

// Info writes grpc-go's info at the debug level.
func (g *GRPCLog) Info(args ...any) { g.log(slog.LevelDebug, fmt.Sprint(args...)) }

// Infoln writes grpc-go's info at the debug level.
func (g *GRPCLog) Infoln(args ...any) { g.log(slog.LevelDebug, sprintln(args...)) }

// Infof writes grpc-go's info at the debug level.
func (g *GRPCLog) Infof(format string, args ...any) {
	g.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}

// Warning writes grpc-go's warnings at the debug level: grpc-go hides them
// by default, and most say that a connection failed, which the calls on
// it report too.
func (g *GRPCLog) Warning(args ...any) { g.log(slog.LevelDebug, fmt.Sprint(args...)) }

// Warningln is Warning.
func (g *GRPCLog) Warningln(args ...any) { g.log(slog.LevelDebug, sprintln(args...)) }

// Warningf is Warning.
func (g *GRPCLog) Warningf(format string, args ...any) {
	g.log(slog.LevelDebug, fmt.Sprintf(format, args...))
}

// Error writes grpc-go's errors at the error level.
func (g *GRPCLog) Error(args ...any) { g.log(slog.LevelError, fmt.Sprint(args...)) }

// Errorln is Error.
func (g *GRPCLog) Errorln(args ...any) { g.log(slog.LevelError, sprintln(args...)) }

// Errorf is Error.
func (g *GRPCLog) Errorf(format string, args ...any) {
	g.log(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal writes the error and ends the process with status 1, as grpclog
// requires of a logger's Fatal (grpc-go calls it only when it cannot go
// on).
func (g *GRPCLog) Fatal(args ...any) { g.Error(args...); os.Exit(1) }

// Fatalln is Fatal.
func (g *GRPCLog) Fatalln(args ...any) { g.Errorln(args...); os.Exit(1) }

// Fatalf is Fatal.
func (g *GRPCLog) Fatalf(format string, args ...any) { g.Errorf(format, args...); os.Exit(1) }

// V reports whether grpc-go's verbose lines of level l are wanted: level
// 0 only, as grpc-go's default logger.
func (g *GRPCLog) V(l int) bool { return l <= 0 }

// sprintln joins args with spaces, as fmt.Sprintln does, without its
// newline.
func sprintln(args ...any) string { return strings.TrimSuffix(fmt.Sprintln(args...), "\n") }
