package tool

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// processFlags are the settings of a process that runs services, which
// belong to no service: logging, draining, the admin endpoints, health in
// plaintext, and TLS.
type processFlags struct {
	logging    config.Logging
	drain      time.Duration
	adminAddr  string
	healthAddr string
	server     serverTLSFlags
	client     clientTLSFlags
}

// register declares the settings on s: those of a server when server is
// set, those of a caller of other services when client is.
func (p *processFlags) register(s *config.Set, server, client bool, adminDefault string) {
	p.logging.Flags(s)
	s.Duration(&p.drain, "shutdown-timeout", 10*time.Second, "how long to let requests in flight finish at shutdown before cutting them off")
	s.String(&p.adminAddr, "admin-addr", adminDefault, "serve the admin endpoints, /metrics (Prometheus) and /debug/pprof/, in plaintext on this address, such as :9464; never expose it publicly; empty turns them off")
	if server {
		s.String(&p.healthAddr, "health-addr", "", "also serve the health service alone, in plaintext, on this address (such as :8086), for probes that cannot use the main port's mutual TLS")
		s.String(&p.server.cert, "tls-cert", "", "serve TLS with this certificate (PEM); needs -tls-key")
		s.String(&p.server.key, "tls-key", "", "the private key of -tls-cert (PEM)")
		s.String(&p.server.clientCA, "tls-client-ca", "", "require client certificates from this CA (mutual TLS), and authorize callers by their identity")
		s.String(&p.server.identity, "tls-client-identity", "", "with -tls-client-ca, what names a caller: spiffe, the default (its certificate's URI spiffe://bookshop/<identity> alone, as bookshop certs makes them), spiffe-or-cn (the URI, or the Common Name of a certificate without a spiffe:// URI, as the tutorial's: only for a client CA that signs certificates for this shop's services alone, as anyone it signs a certificate CN=admin for is admin), or any-verified (no identities: every client the CA signed may call every method, as the tutorial's server allows)")
	}
	if client {
		s.String(&p.client.ca, "tls-ca", "", "call other services over TLS, trusting servers certified by this CA (PEM)")
		s.String(&p.client.cert, "tls-client-cert", "", "for mutual TLS, present this client certificate (PEM), which carries this service's identity; needs -tls-client-key")
		s.String(&p.client.key, "tls-client-key", "", "the private key of -tls-client-cert (PEM)")
	}
}

// serverTLSFlags are the files of a server's TLS, and how a client
// certificate names its caller (a certs.IdentityRule; "" is the default).
type serverTLSFlags struct{ cert, key, clientCA, identity string }

// config loads the files: nil for plaintext.
func (f serverTLSFlags) config() (*tls.Config, error) {
	if f.cert == "" && f.key == "" && f.clientCA == "" {
		return nil, nil
	}
	if f.cert == "" || f.key == "" {
		return nil, usageErrorf("-tls-cert and -tls-key go together (env TLS_CERT, TLS_KEY)")
	}
	return rpc.ServerTLS(f.cert, f.key, f.clientCA)
}

// rule returns how a client certificate names its caller. Errors: a name
// that is no rule; a rule without -tls-client-ca, where no caller has a
// certificate to be named by, so that the rule would be silently ignored.
func (f serverTLSFlags) rule() (certs.IdentityRule, error) {
	r, err := certs.ParseIdentityRule(f.identity)
	if err != nil {
		return "", usageErrorf("-tls-client-identity or TLS_CLIENT_IDENTITY: %v", err)
	}
	if f.identity != "" && f.clientCA == "" {
		return "", usageErrorf("-tls-client-identity or TLS_CLIENT_IDENTITY %q needs -tls-client-ca (TLS_CLIENT_CA): without mutual TLS, callers present no certificate to be named by", f.identity)
	}
	return r, nil
}

// clientTLSFlags are the files of a client's TLS: the CA it trusts and,
// for mutual TLS, its own certificate, which carries its identity. A
// service names the certificate -tls-client-cert and -tls-client-key (its
// -tls-cert is its server's); a tool, which only calls, -tls-cert and
// -tls-key.
type clientTLSFlags struct {
	ca, cert, key string
	tool          bool // the flags are the tool's: -tls-cert, -tls-key
	noEnv         bool // the flags have no environment variables (health)
}

// config loads the files: nil for plaintext.
func (f clientTLSFlags) config() (*tls.Config, error) {
	if f.ca == "" && f.cert == "" && f.key == "" {
		return nil, nil
	}
	env := func(vars string) string {
		if f.noEnv {
			return ""
		}
		return " (env " + vars + ")"
	}
	if f.ca == "" {
		return nil, usageErrorf("-tls-ca is needed to call over TLS%s", env("TLS_CA"))
	}
	if (f.cert == "") != (f.key == "") {
		if f.tool {
			return nil, usageErrorf("-tls-cert and -tls-key go together%s", env("TLS_CERT, TLS_KEY"))
		}
		return nil, usageErrorf("-tls-client-cert and -tls-client-key go together%s", env("TLS_CLIENT_CERT, TLS_CLIENT_KEY"))
	}
	return rpc.ClientTLS(f.ca, f.cert, f.key)
}

// tlsDir returns both sides' files from a directory made by `bookshop
// certs`: the server certificate, with the CA as client CA, and the
// certificate of identity.
func tlsDir(dir, identity string) (serverTLSFlags, clientTLSFlags) {
	at := func(name string) string { return filepath.Join(dir, name) }
	return serverTLSFlags{cert: at("server.crt"), key: at("server.key"), clientCA: at("ca.crt")},
		clientTLSFlags{ca: at("ca.crt"), cert: at(identity + ".crt"), key: at(identity + ".key")}
}

// running is a process that runs services, once its settings are read.
type running struct {
	logger   *slog.Logger
	closeLog func()
	obs      *observer
	flags    *processFlags
	drain    time.Duration
}

// start makes the logger and the observer of a process that runs the
// named services. Call close at the end.
func (p *processFlags) start(ctx context.Context, getenv func(string) string, stderr io.Writer, services ...string) (*running, error) {
	if p.drain <= 0 {
		return nil, usageErrorf("-shutdown-timeout or SHUTDOWN_TIMEOUT %v: want a positive duration such as 10s", p.drain)
	}
	logger, closeLog, err := p.logging.ServiceLogger(stderr)
	if err != nil {
		return nil, err
	}
	obs, logger, err := newObserver(ctx, observeFlags{adminAddr: p.adminAddr}, getenv, logger, services...)
	if err != nil {
		closeLog()
		return nil, err
	}
	process.TuneRuntime(getenv, logger)
	grpcLog.SetLogger(logger, closeLog) // grpc-go's Fatal writes out the log before it exits
	return &running{logger: logger, closeLog: closeLog, obs: obs, flags: p, drain: p.drain}, nil
}

func (r *running) close(ctx context.Context) {
	r.obs.close(ctx, r.logger)
	r.closeLog()
}

// deps returns what the process gives service, serving on lis, with the
// TLS files of server and client (either may be empty: plaintext).
func (r *running) deps(service string, lis net.Listener, server serverTLSFlags, client clientTLSFlags) (process.Deps, error) {
	d := process.Deps{
		Logger:       r.logger.With("service", service),
		Metrics:      r.obs.metrics,
		Tracing:      r.obs.tracing(service),
		DrainTimeout: r.drain,
		Listener:     lis,
	}
	var err error
	if d.ClientIdentity, err = server.rule(); err != nil {
		return d, err
	}
	if d.ServerTLS, err = server.config(); err != nil {
		return d, err
	}
	if d.ClientTLS, err = client.config(); err != nil {
		return d, err
	}
	return d, nil
}

// healthListener listens on the -health-addr, if there is one.
func (r *running) healthListener() (net.Listener, error) {
	if r.flags.healthAddr == "" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", r.flags.healthAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for health on %s (-health-addr or HEALTH_ADDR): %w", r.flags.healthAddr, err)
	}
	return lis, nil
}

// runService runs the service called name alone, as `bookshop NAME` and
// cmd/NAME do: it reads the process's settings and the service's own
// (bare flag names, the service's variables), and where the services it
// calls are; it listens on the service's port, and runs it with the Deps
// of the process.
func runService(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer) error {
	return runServiceAs(ctx, name, name, args, getenv, stderr)
}

// runServiceAs is runService for a command that its usage text calls
// usage: "catalog" for cmd/catalog, "bookshop catalog" for the
// subcommand.
func runServiceAs(ctx context.Context, usage, name string, args []string, getenv func(string) string, stderr io.Writer) error {
	s := serviceNamed(name)
	if s == nil {
		return fmt.Errorf("no service %q", name) // a bug of the tool, not of the caller
	}
	fs := flagSet(usage, s.about, stderr)
	own := fs.Service(name, true)
	s.flags(own)
	if s.dependencies != nil {
		s.dependencies(fs.Process())
	}
	var pf processFlags
	pf.register(fs.Process(), s.serves, s.identity != "", "")
	if err := fs.Parse(args, getenv); err != nil {
		return err
	}
	if err := s.validate(own); err != nil {
		return err
	}
	r, err := pf.start(ctx, getenv, stderr, name)
	if err != nil {
		return err
	}
	defer r.close(ctx)
	lis, err := listen("", s.port(), own.Setting("port"))
	if err != nil {
		return err
	}
	deps, err := r.deps(name, lis, pf.server, pf.client)
	if err != nil {
		lis.Close()
		return err
	}
	if deps.HealthListener, err = r.healthListener(); err != nil {
		lis.Close()
		return err
	}
	return process.RunAll(ctx,
		func(ctx context.Context) error { return s.run(ctx, deps) },
		func(ctx context.Context) error { return r.obs.serveAdmin(ctx, r.logger) })
}

// RunService returns the command that runs the service called name alone,
// for its cmd/NAME main.
func RunService(name string) Command {
	return func(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
		return runService(ctx, name, args, getenv, stderr)
	}
}

// serviceSubcommand returns `bookshop NAME`, the subcommand that runs the
// service called name alone: RunService's, its usage text saying so.
func serviceSubcommand(name string) Command {
	return func(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
		return runServiceAs(ctx, "bookshop "+name, name, args, getenv, stderr)
	}
}

// RunCatalog is the `catalog` command: the Catalog gRPC service, alone.
func RunCatalog(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	return runService(ctx, "catalog", args, getenv, stderr)
}

// RunRecommendations is the `recommendations` command: the
// Recommendations gRPC service, alone. Without a Catalog to follow
// (CATALOG_HOST), it serves the built-in catalog from memory, as the
// tutorial's service does.
func RunRecommendations(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	return runService(ctx, "recommendations", args, getenv, stderr)
}

// RunMarketplace is the `marketplace` command: the web front end, alone,
// calling Recommendations at RECOMMENDATIONS_HOST and the Catalog at
// CATALOG_HOST.
func RunMarketplace(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	return runService(ctx, "marketplace", args, getenv, stderr)
}

// listen listens on TCP host:port ("" host: every interface), turning the
// common "address already in use" into advice naming the setting to change.
func listen(host string, port int, setting string) (net.Listener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	lis, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: port %d is already in use; stop what uses it or choose another port with %s", addr, port, setting)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return lis, nil
}

// loopbackAddr is addr as a client on this machine reaches it: "localhost"
// with addr's port.
func loopbackAddr(addr net.Addr) string {
	port := addr.(*net.TCPAddr).Port
	return net.JoinHostPort("localhost", strconv.Itoa(port))
}

// register declares the TLS flags of a command that only calls: -tls-ca,
// -tls-cert and -tls-key (TLS_CA, TLS_CERT, TLS_KEY), the certificate of
// the caller's identity.
func (f *clientTLSFlags) register(fs *config.FlagSet) map[string]string {
	f.tool = true
	fs.StringVar(&f.ca, "tls-ca", "", "call over TLS, trusting servers certified by this CA (PEM) (env TLS_CA)")
	fs.StringVar(&f.cert, "tls-cert", "", "for mutual TLS, present this client certificate (PEM); needs -tls-key (env TLS_CERT)")
	fs.StringVar(&f.key, "tls-key", "", "the private key of -tls-cert (PEM) (env TLS_KEY)")
	return map[string]string{"tls-ca": "TLS_CA", "tls-cert": "TLS_CERT", "tls-key": "TLS_KEY"}
}

// apply loads the files into cfg.
func (f *clientTLSFlags) apply(cfg *rpc.ClientConfig) error {
	c, err := f.config()
	if err != nil {
		return err
	}
	cfg.TLS = c
	return nil
}

// notThere returns, for err of a call to the service what at host, which
// the flag names, a plain error when nothing answered there (the
// connection refused, or no such host): which service, where, and how to
// start or name it, rather than gRPC's chain of retries. It returns nil
// for any other error.
func notThere(err error, what, host, flag string) error {
	if bookshop.ErrorCode(err) != bookshop.Unavailable {
		return nil
	}
	msg := err.Error()
	for _, cause := range []string{"connection refused", "no such host"} {
		if strings.Contains(msg, cause) {
			return fmt.Errorf("no %s answers at %s (%s): start it (bookshop up starts them all), or say where it runs with -%s", what, host, cause, flag)
		}
	}
	return nil
}
