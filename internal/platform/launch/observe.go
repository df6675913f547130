package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// observer is how one process observes itself: its metrics, served on the
// admin port (nil when there is none), and the tracing of each service it
// runs (nil when tracing is off).
type observer struct {
	metrics  *telemetry.Metrics
	admin    net.Listener
	tracings map[string]*telemetry.Tracing // by service name
}

// newObserver sets up how a process that runs services observes itself:
// it listens on the admin address, if any, and makes the tracing of each
// service as the environment asks for it. It returns logger with the
// trace and span ids in its lines when tracing is on. Call close when
// done. Tracing has no flags: it follows the standard OpenTelemetry
// variables (see telemetry.TracingFromEnv).
func newObserver(ctx context.Context, adminAddr string, getenv func(string) string, logger *slog.Logger, services ...string) (*observer, *slog.Logger, error) {
	o := &observer{tracings: make(map[string]*telemetry.Tracing)}
	for _, service := range services {
		t, err := telemetry.TracingFromEnv(ctx, service, version(), getenv)
		if err != nil {
			o.close(ctx, logger)
			return nil, nil, config.UsageErrorf("%v", err)
		}
		if t != nil {
			o.tracings[service] = t
		}
	}
	if adminAddr != "" {
		if _, _, err := net.SplitHostPort(adminAddr); err != nil {
			o.close(ctx, logger)
			return nil, nil, config.UsageErrorf("-admin-addr or ADMIN_ADDR %q: want host:port or :port, such as :9464", adminAddr)
		}
		lis, err := net.Listen("tcp", adminAddr)
		if err != nil {
			o.close(ctx, logger)
			return nil, nil, fmt.Errorf("listen for the admin endpoints on %s (-admin-addr or ADMIN_ADDR): %w", adminAddr, err)
		}
		var opts []telemetry.MetricsOption
		if len(o.tracings) > 0 {
			opts = append(opts, telemetry.WithExemplars())
		}
		o.admin, o.metrics = lis, telemetry.NewMetrics(opts...)
	}
	if len(o.tracings) == 0 {
		return o, logger, nil
	}
	// The exporter tells of its failures only through OpenTelemetry's
	// global error handler, the one global of the telemetry: without this,
	// they would go to the standard log, unformatted. The last observer
	// made in a process wins, which is the process's own.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("OpenTelemetry: cannot export spans", "err", err)
	}))
	return o, slog.New(telemetry.LogHandler(logger.Handler())), nil
}

// tracing is the tracing of service: nil when it is off.
func (o *observer) tracing(service string) *telemetry.Tracing { return o.tracings[service] }

// ClientTracing is the tracing of a command that only calls services, such
// as bookshop import, as the environment asks for it (nil for none): each
// call is then a trace of its own, continued by the server. Call the
// returned func before the command returns: it exports the spans, for up
// to 5 seconds.
func ClientTracing(ctx context.Context, name string, getenv func(string) string, stderr io.Writer) (*telemetry.Tracing, func(), error) {
	t, err := telemetry.TracingFromEnv(ctx, name, version(), getenv)
	if err != nil {
		return nil, nil, config.UsageErrorf("%v", err)
	}
	return t, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			fmt.Fprintf(stderr, "OpenTelemetry: spans lost: %v\n", err)
		}
	}, nil
}

// serveAdmin serves the admin endpoints until ctx is done (with no admin
// port, it only waits for that).
func (o *observer) serveAdmin(ctx context.Context, logger *slog.Logger) error {
	if o.admin == nil {
		<-ctx.Done()
		return nil
	}
	logger.Info("admin endpoints serving in plaintext", "addr", o.admin.Addr().String(), "paths", "/metrics /debug/pprof/")
	srv := telemetry.AdminServer(o.metrics, slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(o.admin) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve the admin endpoints on %s: %w", o.admin.Addr(), err)
	case <-ctx.Done():
	}
	srv.Close() // scrapes and profiles in flight are not worth waiting for
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve the admin endpoints on %s: %w", o.admin.Addr(), err)
	}
	return nil
}

// close exports the spans still waiting, for up to 5 seconds, and closes
// the admin listener if it was never served.
func (o *observer) close(ctx context.Context, logger *slog.Logger) {
	if o.admin != nil {
		o.admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, t := range o.tracings {
		if err := t.Shutdown(ctx); err != nil {
			logger.Warn("OpenTelemetry: spans lost at shutdown", "err", err)
		}
	}
}

// version is the version of the binary, as the Go toolchain recorded it:
// the module version of a `go install`, else the VCS revision, else "dev".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return "dev"
}

// ServeAdmin serves the process's admin endpoints, if it has an admin
// address, until ctx is done.
func (r *Running) ServeAdmin(ctx context.Context) error { return r.obs.serveAdmin(ctx, r.Logger) }

// AdminAddr is where the admin endpoints listen: nil without an admin
// address.
func (r *Running) AdminAddr() net.Addr {
	if r.obs.admin == nil {
		return nil
	}
	return r.obs.admin.Addr()
}
