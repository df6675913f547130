package launch

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
	"syscall"
	"time"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/fault"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// Process is the settings of a process that runs services, which belong
// to no service: logging, draining, the admin endpoints, health in
// plaintext, and TLS. Register declares them; Start starts the process.
type Process struct {
	Logging    config.Logging
	Drain      time.Duration // how long a graceful shutdown waits for requests in flight
	AdminAddr  string        // where /metrics and /debug/pprof/ listen; "" for nowhere
	HealthAddr string        // where health is served alone, in plaintext; "" for nowhere
	Server     ServerTLS
	Client     ClientTLS
}

// Register declares the settings on s: those of a server when server is
// set, those of a caller of other services when client is.
func (p *Process) Register(s *config.Set, server, client bool, adminDefault string) {
	p.Logging.Flags(s)
	s.Duration(&p.Drain, "shutdown-timeout", 10*time.Second, "how long to let requests in flight finish at shutdown before cutting them off")
	s.String(&p.AdminAddr, "admin-addr", adminDefault, "serve the admin endpoints, /metrics (Prometheus) and /debug/pprof/, in plaintext on this address, such as :9464; never expose it publicly; empty turns them off")
	if server {
		s.String(&p.HealthAddr, "health-addr", "", "also serve the health service alone, in plaintext, on this address (such as :8086), for probes that cannot use the main port's mutual TLS")
		s.String(&p.Server.Cert, "tls-cert", "", "serve TLS with this certificate (PEM); needs -tls-key")
		s.String(&p.Server.Key, "tls-key", "", "the private key of -tls-cert (PEM)")
		s.String(&p.Server.ClientCA, "tls-client-ca", "", "require client certificates from this CA (mutual TLS), and authorize callers by their identity")
		s.String(&p.Server.Identity, "tls-client-identity", "", "with -tls-client-ca, what names a caller: spiffe, the default (its certificate's URI spiffe://bookshop/<identity> alone, as bookshop certs makes them), spiffe-or-cn (the URI, or the Common Name of a certificate without a spiffe:// URI, as the tutorial's: only for a client CA that signs certificates for this shop's services alone, as anyone it signs a certificate CN=admin for is admin), or any-verified (no identities: every client the CA signed may call every method, as the tutorial's server allows)")
	}
	if client {
		s.String(&p.Client.CA, "tls-ca", "", "call other services over TLS, trusting servers certified by this CA (PEM)")
		s.String(&p.Client.Cert, "tls-client-cert", "", "for mutual TLS, present this client certificate (PEM), which carries this service's identity; needs -tls-client-key")
		s.String(&p.Client.Key, "tls-client-key", "", "the private key of -tls-client-cert (PEM)")
	}
}

// ServerTLS are the files of a server's TLS, and how a client
// certificate names its caller (a certs.IdentityRule; "" is the default).
type ServerTLS struct{ Cert, Key, ClientCA, Identity string }

// Config loads the files: nil for plaintext.
func (f ServerTLS) Config() (*tls.Config, error) {
	if f.Cert == "" && f.Key == "" && f.ClientCA == "" {
		return nil, nil
	}
	if f.Cert == "" || f.Key == "" {
		return nil, config.UsageErrorf("-tls-cert and -tls-key go together (env TLS_CERT, TLS_KEY)")
	}
	return rpc.ServerTLS(f.Cert, f.Key, f.ClientCA)
}

// Rule returns how a client certificate names its caller. Errors: a name
// that is no rule; a rule without -tls-client-ca, where no caller has a
// certificate to be named by, so that the rule would be silently ignored.
func (f ServerTLS) Rule() (certs.IdentityRule, error) {
	r, err := certs.ParseIdentityRule(f.Identity)
	if err != nil {
		return "", config.UsageErrorf("-tls-client-identity or TLS_CLIENT_IDENTITY: %v", err)
	}
	if f.Identity != "" && f.ClientCA == "" {
		return "", config.UsageErrorf("-tls-client-identity or TLS_CLIENT_IDENTITY %q needs -tls-client-ca (TLS_CLIENT_CA): without mutual TLS, callers present no certificate to be named by", f.Identity)
	}
	return r, nil
}

// ClientTLS are the files of a client's TLS: the CA it trusts and,
// for mutual TLS, its own certificate, which carries its identity. A
// service names the certificate -tls-client-cert and -tls-client-key (its
// -tls-cert is its server's); a tool, which only calls, -tls-cert and
// -tls-key.
type ClientTLS struct {
	CA, Cert, Key string
	Tool          bool // the flags are a tool's: -tls-cert, -tls-key
	NoEnv         bool // the flags have no environment variables (bookshop health)
}

// Config loads the files: nil for plaintext.
func (f ClientTLS) Config() (*tls.Config, error) {
	if f.CA == "" && f.Cert == "" && f.Key == "" {
		return nil, nil
	}
	env := func(vars string) string {
		if f.NoEnv {
			return ""
		}
		return " (env " + vars + ")"
	}
	if f.CA == "" {
		return nil, config.UsageErrorf("-tls-ca is needed to call over TLS%s", env("TLS_CA"))
	}
	if (f.Cert == "") != (f.Key == "") {
		if f.Tool {
			return nil, config.UsageErrorf("-tls-cert and -tls-key go together%s", env("TLS_CERT, TLS_KEY"))
		}
		return nil, config.UsageErrorf("-tls-client-cert and -tls-client-key go together%s", env("TLS_CLIENT_CERT, TLS_CLIENT_KEY"))
	}
	return rpc.ClientTLS(f.CA, f.Cert, f.Key)
}

// CheckTLS loads the TLS files the settings name and checks the rule of
// client identities, so that a mistake in them is told before the
// process listens anywhere.
func (p *Process) CheckTLS() error {
	if _, err := p.Server.Rule(); err != nil {
		return err
	}
	if _, err := p.Server.Config(); err != nil {
		return err
	}
	_, err := p.Client.Config()
	return err
}

// TLSDir returns both sides' files from a directory made by `bookshop
// certs`: the server certificate, with the CA as client CA, and the
// certificate of identity.
func TLSDir(dir, identity string) (ServerTLS, ClientTLS) {
	at := func(name string) string { return filepath.Join(dir, name) }
	return ServerTLS{Cert: at("server.crt"), Key: at("server.key"), ClientCA: at("ca.crt")},
		ClientTLS{CA: at("ca.crt"), Cert: at(identity + ".crt"), Key: at(identity + ".key")}
}

// Running is a process that runs services, once its settings are read.
type Running struct {
	Logger   *slog.Logger // the process's logger
	closeLog func()
	obs      *observer
	flags    *Process
}

// Start makes the logger and the observer of a process that runs the
// named services, and warns in the log of fault points armed (see package
// fault). Call Close at the end.
func (p *Process) Start(ctx context.Context, getenv func(string) string, stderr io.Writer, services ...string) (*Running, error) {
	if p.Drain <= 0 {
		return nil, config.UsageErrorf("-shutdown-timeout or SHUTDOWN_TIMEOUT %v: want a positive duration such as 10s", p.Drain)
	}
	logger, closeLog, err := p.Logging.ServiceLogger(stderr)
	if err != nil {
		return nil, err
	}
	obs, logger, err := newObserver(ctx, p.AdminAddr, getenv, logger, services...)
	if err != nil {
		closeLog()
		return nil, err
	}
	process.TuneRuntime(getenv, logger)
	if armed := fault.Armed(); len(armed) > 0 {
		logger.Warn("fault points armed: the process kills itself at them; for tests only", "env", fault.EnvVar, "points", armed)
	}
	grpcLog.SetLogger(logger, closeLog) // grpc-go's Fatal writes out the log before it exits
	return &Running{Logger: logger, closeLog: closeLog, obs: obs, flags: p}, nil
}

// Close exports the spans still waiting, for up to 5 seconds, and closes
// the log.
func (r *Running) Close(ctx context.Context) {
	r.obs.close(ctx, r.Logger)
	r.closeLog()
}

// Deps returns what the process gives service, serving on lis, with the
// TLS files of server and client (either may be empty: plaintext).
func (r *Running) Deps(service string, lis net.Listener, server ServerTLS, client ClientTLS) (process.Deps, error) {
	d := process.Deps{
		Logger:       r.Logger.With("service", service),
		Metrics:      r.obs.metrics,
		Tracing:      r.obs.tracing(service),
		DrainTimeout: r.flags.Drain,
		Listener:     lis,
	}
	var err error
	if d.ClientIdentity, err = server.Rule(); err != nil {
		return d, err
	}
	if d.ServerTLS, err = server.Config(); err != nil {
		return d, err
	}
	if d.ClientTLS, err = client.Config(); err != nil {
		return d, err
	}
	return d, nil
}

// HealthListener listens on the -health-addr, if there is one.
func (r *Running) HealthListener() (net.Listener, error) {
	if r.flags.HealthAddr == "" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", r.flags.HealthAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for health on %s (-health-addr or HEALTH_ADDR): %w", r.flags.HealthAddr, err)
	}
	return lis, nil
}

// Listen listens on TCP host:port ("" host: every interface), turning the
// common "address already in use" into advice naming the setting to change.
func Listen(host string, port int, setting string) (net.Listener, error) {
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

// LoopbackAddr is addr as a client on this machine reaches it: "localhost"
// with addr's port; addr.String() itself for an address without a port.
func LoopbackAddr(addr net.Addr) string {
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return net.JoinHostPort("localhost", port)
}

// Register declares, on fs, the TLS flags of a command that only calls,
// such as bookshop import: -tls-ca, -tls-cert and -tls-key, the
// certificate of the caller's identity; it sets f.Tool, so that Config's
// errors name those flags. It returns their environment
// variables (TLS_CA, TLS_CERT, TLS_KEY) by flag, for fs.BindEnv.
func (f *ClientTLS) Register(fs *config.FlagSet) map[string]string {
	f.Tool = true
	fs.StringVar(&f.CA, "tls-ca", "", "call over TLS, trusting servers certified by this CA (PEM) (env TLS_CA)")
	fs.StringVar(&f.Cert, "tls-cert", "", "for mutual TLS, present this client certificate (PEM); needs -tls-key (env TLS_CERT)")
	fs.StringVar(&f.Key, "tls-key", "", "the private key of -tls-cert (PEM) (env TLS_KEY)")
	return map[string]string{"tls-ca": "TLS_CA", "tls-cert": "TLS_CERT", "tls-key": "TLS_KEY"}
}

// Apply loads the files into cfg: plaintext when none are named. Its
// errors are Config's: a usage error for a missing CA or a certificate
// without its key, or the error of loading a file.
func (f ClientTLS) Apply(cfg *rpc.ClientConfig) error {
	c, err := f.Config()
	if err != nil {
		return err
	}
	cfg.TLS = c
	return nil
}
