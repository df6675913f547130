// Package launch runs services as processes, and knows none of them: a
// service describes itself as a [Service] (its name, settings, port, Run,
// and, for a gRPC service, its authorization policy and contracts), and
// launch gives it what every process gives its services: the process's
// settings with their environment variables ([Process]: logging,
// draining, the admin endpoints, health in plaintext, TLS), a logger,
// metrics, tracing, a listener, and graceful shutdown.
//
// A service's own command is one line, [Run] of the service's Service:
//
//	func main() { launch.Run(orders.Command()) }
//
// so that its binary links no other service's server; the bookshop tool
// runs the same Service values, alone (`bookshop orders`, with [Alone])
// and all together (`bookshop up`).
package launch

import (
	"context"
	"io"
	"log/slog"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/grpclog"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// A Service is one of the shop's services as a process runs it: alone, as
// its own command, or with the others in `bookshop up`. Its functions
// close over the service's own Config: the process reads a service's
// settings only through them, under the service's namespace, so that
// adding a service adds no setting to another. Name, Flags, Validate,
// Port and Run are required; the rest may be left zero.
type Service struct {
	Name    string // the command, and the namespace of the settings
	Title   string // the name people read: "Catalog"
	Summary string // one line, for `bookshop help`
	About   string // what the command's -h says it does

	Serves   bool   // serves gRPC: takes a server certificate and a health port
	Identity string // the identity it presents when it calls others; "" if it calls none
	HTTP     bool   // serves HTTP: up prints its address as a URL
	Scales   bool   // up can run several replicas of it (-NAME-replicas)

	// Flags declares the service's own settings on own.
	Flags func(own *config.Set)
	// Dependencies declares, when it runs alone, where the services it
	// calls are, on the process's set (CATALOG_HOST); up wires them
	// instead, with Wire. Nil for a service that calls none.
	Dependencies func(proc *config.Set)
	// Wire tells the service, in up, where the others listen: their
	// addresses by name, each a comma-separated list of host:port.
	Wire func(addrs map[string]string)
	// Validate checks the settings once parsed.
	Validate func(own *config.Set) error
	// Port is the port it listens on (the first, with replicas).
	Port func() int
	// Run runs it on deps until ctx is done.
	Run func(ctx context.Context, deps process.Deps) error
	// Policy is who may call which of its gRPC methods, and Contracts the
	// gRPC services it serves: the tool checks and documents the shop's
	// services by them (its authorization reference), and the process does
	// not read them. Both nil for a service that serves no gRPC, and for
	// one the reference leaves out (bookshop demo serve).
	Policy    func() rpc.Policy
	Contracts func() []*grpc.ServiceDesc
}

// Main runs cmd as the process (see config.Main), with grpc-go's own log
// going to the process's logger once it has one (see grpcLog), as
// grpc-go's variables GRPC_GO_LOG_SEVERITY_LEVEL and
// GRPC_GO_LOG_VERBOSITY_LEVEL say (see telemetry.GRPCLog.ReadEnv).
func Main(name string, cmd config.Command) {
	grpclog.SetLoggerV2(grpcLog) // before any gRPC work: grpc-go reads it without a lock
	config.Main(name, func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		grpcLog.ReadEnv(getenv)
		return cmd(ctx, args, getenv, stdout, stderr)
	})
}

// Run runs s alone as the process, the command named after it: the main
// of a service's own binary (see Main and Alone).
func Run(s *Service) { Main(s.Name, Alone(s.Name, s)) }

// grpcLog is grpc-go's log in a process that Main runs: errors on stderr
// until Process.Start gives it the service's logger. It is global
// because grpc-go's log is (grpclog.SetLoggerV2); tests, which do not run
// Main, leave grpc-go's own logger in place.
var grpcLog = telemetry.NewGRPCLog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))

// Alone returns the command that runs s alone, which its usage text calls
// usage ("catalog" for cmd/catalog, "bookshop catalog" for the tool's
// subcommand): it reads the process's settings and the service's own
// (bare flag names, the service's variables), and where the services it
// calls are; it listens on the service's port, and runs it with the Deps
// of the process.
func Alone(usage string, s *Service) config.Command {
	return func(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
		fs := config.NewFlagSet(usage, s.About, stderr)
		own := fs.Service(s.Name, true)
		s.Flags(own)
		if s.Dependencies != nil {
			s.Dependencies(fs.Process())
		}
		var p Process
		p.Register(fs.Process(), s.Serves, s.Identity != "", "")
		if err := fs.Parse(args, getenv); err != nil {
			return err
		}
		if err := s.Validate(own); err != nil {
			return err
		}
		if err := p.CheckTLS(); err != nil {
			return err
		}
		r, err := p.Start(ctx, getenv, stderr, s.Name)
		if err != nil {
			return err
		}
		defer r.Close(ctx)
		lis, err := Listen("", s.Port(), own.Setting("port"))
		if err != nil {
			return err
		}
		deps, err := r.Deps(s.Name, lis, p.Server, p.Client)
		if err != nil {
			lis.Close()
			return err
		}
		if deps.HealthListener, err = r.HealthListener(); err != nil {
			lis.Close()
			return err
		}
		return process.RunAll(ctx,
			func(ctx context.Context) error { return s.Run(ctx, deps) },
			r.ServeAdmin)
	}
}
