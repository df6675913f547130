package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/bookshop-go/bookshop/internal/platform/certs"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc/reflection"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Defaults of a ServerConfig.
const (
	DefaultDrainTimeout       = 10 * time.Second
	DefaultMaxConnectionAge   = 5 * time.Minute
	DefaultMaxRecvMessageSize = 4 << 20
	// streamWindow and connWindow are the HTTP/2 flow-control windows of
	// servers and clients: the most a stream, and a connection, may have
	// sent and not yet read. Set, they turn off grpc-go's estimate of the
	// bandwidth-delay product, which grows the windows up to 16 MiB but
	// sends a PING with a call's first data, and so costs a write and a
	// read on each side of most calls between services that call one
	// another now and then (a purchase's ten calls, say). 1 MiB a
	// stream moves 1 GB/s at 1 ms of round trip, more than a cluster's
	// calls need, and is the most a stream's sender can make the other
	// side hold unread (grpc-go gives the connection's window back as
	// data arrives, read or not: the streams' windows are the bound).
	streamWindow = 1 << 20
	connWindow   = 2 << 20

	// DefaultMaxConcurrentStreams caps the calls one client connection
	// has in flight at once: more than a service's callers run on one
	// connection (a caller's further calls wait, in its gRPC client, for
	// one to end), and a bound on what one connection can make a server
	// hold (a stream and its goroutine are some 13 KiB): without it,
	// grpc-go takes any number. A server of long-lived streams sets its
	// own, above the streams it lets one caller open.
	DefaultMaxConcurrentStreams = 1_000
)

// streamWorkers is how many goroutines a server keeps to run calls. By
// default grpc-go starts a goroutine for each call, whose stack then grows,
// by copying, as deep as the handler and the interceptors go: under load,
// a fifth of the server's CPU time (profile in docs/performance.md).
// A worker's stack stays grown from one call to the next. A call that
// finds every worker busy, such as one that arrives while the workers hold
// long streams, gets a goroutine of its own, as without workers. 64 is
// more than the calls one core has in flight at full load. (An option that
// grpc-go marks experimental; without it, calls are served as before.)
const streamWorkers = 64

// The caps of the health service, which a server serves on its own port
// and, in plaintext, on its health port (RunHealth), where anyone who
// reaches the port may call it: the kubelet's probes, from the node, and,
// where nothing keeps them out (Compose, a network plugin that enforces
// no NetworkPolicy), whatever else runs beside it.
const (
	// MaxHealthWatches is the most health watches
	// (grpc.health.v1.Health/Watch) a server serves at once on its own
	// port: a client-side health check keeps one on each connection of a
	// client, so a server has about as many as it has connections from
	// other services, a few dozen. Past it, a watch is refused with
	// RESOURCE_EXHAUSTED (Check still answers). A watch holds a stream and
	// its goroutine, some 13 KB: 12.4 MiB at the cap.
	MaxHealthWatches = 1_000
	// HealthPortMaxWatches is the most health watches the plaintext
	// health port serves at once, apart from the main port's: the
	// kubelet's probes call Check alone, so no one needs many, and anyone
	// who reaches the port may open them. Were they counted with the main
	// port's, 63 connections of 16 watches there would take every place,
	// and the other services' client-side health checks, refused with
	// RESOURCE_EXHAUSTED, would take their connections out of use.
	HealthPortMaxWatches = 32
	// HealthWatchBytes is the budget of one health watch: its stream and
	// goroutine hold 13 KB (TestHealthMemory).
	HealthWatchBytes = 16 << 10
	// HealthMaxStreams is the most calls one connection to the health port
	// has in flight at once (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS): a
	// probe makes one Check at a time, and a client's further calls wait.
	HealthMaxStreams = 16
	// HealthMaxConns is the most connections the health port holds at
	// once: at it, a new connection is taken, and the oldest of the
	// client (address) that holds the most is closed to make room. The
	// kubelet opens one a probe, and closes it, so a few are open at
	// once; 64 hold 4 MiB at most (HealthConnBytes), where before any
	// number could be opened, and kept, until the process ran out of
	// memory. A client that holds them all cannot keep a probe out: the
	// probe's connection is taken, and one of the client's closed.
	HealthMaxConns = 64
	// HealthConnBytes is the budget of one connection to the health port
	// once its calls are over: its goroutines, grpc-go's HTTP/2 state and
	// the socket, 15 KB idle; and what a client can make it keep from its
	// calls, as TestHealthMemory's connections do: the framer's read
	// buffer, as large as the largest frame other than DATA read (16 KiB),
	// HPACK's table of the header fields sent (4 KiB as HPACK counts:
	// 10 KB of the smallest fields), and the HPACK decoder's buffer of a
	// field split across frames (12 KB, bounded by healthMaxHeaderBytes).
	// Such a connection holds 54 KB (TestHealthMemory).
	HealthConnBytes = 64 << 10
	// The health port's keepalive: a connection with no call in flight
	// for HealthMaxConnectionIdle is closed, and any connection after
	// HealthMaxConnectionAge, its calls in flight given
	// HealthMaxConnectionAgeGrace to end (a watch ends with it, and the
	// watcher opens it again). So that a connection holds its place for a
	// while at most: a probe's lasts a second.
	HealthMaxConnectionIdle     = 30 * time.Second
	HealthMaxConnectionAge      = 2 * time.Minute
	HealthMaxConnectionAgeGrace = 5 * time.Second
	// healthHandshakeTimeout bounds the wait for a new connection's HTTP/2
	// preface (grpc-go's default is 2 minutes): a connection that sends
	// nothing gives its place back within it.
	healthHandshakeTimeout = 5 * time.Second
	// MaxHeaderBytes is the most header bytes a call to a server's main
	// port may send (HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE, as for the
	// health port's healthMaxHeaderBytes): our calls send well under 1
	// KiB (the authority, a request id, a trace's context), the
	// tutorial's clients less. Without it grpc-go takes 16 MiB of
	// headers a call, and a connection keeps the HPACK decoder's buffer
	// of a field split across frames as long as it lasts.
	MaxHeaderBytes = 16 << 10
	// healthMaxHeaderBytes is the most header bytes a call to the health
	// port may send (HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE; a field
	// counts its name, its value and 32): a probe sends some 500. Past it
	// the call is refused, and a connection whose header field is longer
	// closed. Without it grpc-go takes 16 MiB of headers, and x/net's
	// HPACK decoder keeps the buffer that held a field split across frames
	// as long as the connection lasts: a client could make the server keep
	// megabytes a connection (101 KB a connection with a header of 64 KiB).
	healthMaxHeaderBytes = 2 << 10
	// healthMaxRecvBytes is the largest message the health port takes: a
	// HealthCheckRequest is a service's name.
	healthMaxRecvBytes = 1 << 10
)

// ServerConfig is what every Bookshop gRPC server is made of. The zero
// value of each field but Logger means its default.
type ServerConfig struct {
	// Logger receives the access log and errors. Required.
	Logger *slog.Logger
	// DrainTimeout bounds a graceful shutdown: calls still running after it
	// are cut off.
	DrainTimeout time.Duration
	// TLS, when set, makes the server speak TLS only; mutual TLS when it
	// requires client certificates (see ServerTLS).
	TLS *tls.Config
	// ClientIdentity is how a verified client certificate names its
	// caller, for authorization (see Authorize), Identity and the access
	// log. The zero value is certs.SPIFFEOnly, the default; NewServer
	// logs an error for a rule that is not one, and uses the default.
	ClientIdentity certs.IdentityRule
	// Authorization, when set, lets a call through only if the policy
	// allows its caller's identity (named by ClientIdentity) to call the
	// method, after the access log and recovery and before the
	// interceptors below. Authorize sets it when callers have identities.
	Authorization Policy
	// Interceptors run after authorization and before validation.
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// Ready, when set, holds the services NOT_SERVING after Run starts,
	// until it is closed: for a service that must load something first.
	// Optional: without it, Run marks them SERVING at once.
	Ready <-chan struct{}
	// Validators are the request rules of the services served, checked
	// after the interceptors above. Optional.
	Validators Validators
	// MaxConnectionAge closes each client connection after about this long
	// (with a grace period for calls in flight), so that clients re-resolve
	// and spread their calls over replicas that started since.
	MaxConnectionAge time.Duration
	// MaxRecvMessageSize is the largest message the server accepts.
	MaxRecvMessageSize int
	// MaxConcurrentStreams is the most calls one client connection may
	// have in flight (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS): a client
	// waits for one to end before it starts another, and the server
	// refuses a stream past it.
	MaxConcurrentStreams uint32
	// Metrics, when set, counts every call, by method and status code,
	// and times it. Optional.
	Metrics *telemetry.Metrics
	// Tracing, when set, makes a server span of each call, the child of
	// the caller's span. Optional: without it, no tracing work is done.
	Tracing *telemetry.Tracing
}

// ServiceConfig returns the ServerConfig of a slice's server in a
// process: the process's logger, drain timeout, TLS and rule of client
// identities, metrics and tracing, the slice's request rules, and, when
// the TLS verifies client certificates, authorization by the slice's
// policy merged with CommonPolicy. Errors: the policies disagree (see Merge).
func ServiceConfig(deps process.Deps, policy Policy, validators Validators) (ServerConfig, error) {
	merged, err := Merge(CommonPolicy(), policy)
	if err != nil {
		return ServerConfig{}, err
	}
	cfg := ServerConfig{
		Logger:         deps.Logger,
		DrainTimeout:   deps.DrainTimeout,
		TLS:            deps.ServerTLS,
		ClientIdentity: deps.ClientIdentity,
		Metrics:        deps.Metrics,
		Tracing:        deps.Tracing,
		Validators:     validators,
	}
	Authorize(&cfg, merged)
	return cfg, nil
}

// Server is a gRPC server with what every Bookshop server has: the
// interceptors, keepalive, message limits, the standard health service
// (grpc.health.v1) and server reflection. Register services on it as on a
// *grpc.Server, then call Run.
type Server struct {
	*grpc.Server
	health      *health.Server
	healthInit  sync.Once
	healthWatch *drainingHealth // the main port's
	// healthPortWatch is the plaintext health port's: the same statuses,
	// its own cap on watches.
	healthPortWatch *drainingHealth
	metrics         *telemetry.Metrics
	logger          *slog.Logger
	drainTimeout    time.Duration
	ready           <-chan struct{}
	// healthKeepalive is the health port's (see HealthMaxConnectionIdle);
	// the tests of this package shorten it.
	healthKeepalive keepalive.ServerParameters
	// draining ends when shutdown begins: Draining's channel, and what
	// ends the health watches and, through OnDrain, the streams of the
	// services that never end by themselves.
	draining context.Context
	drain    context.CancelFunc
	// The health status is SERVING while both hold (see setState):
	// running, from Run's start (or Ready) to its shutdown, and no
	// failing check (see Watch).
	stateMu  sync.Mutex
	running  bool
	checkErr error
}

// LivenessService is the health service name that says only that the
// server runs, for a liveness probe: SERVING from the start of Run until
// it shuts down, whatever the checks of Watch say, where every other name
// ("" and each service's) follows them. A database that goes away then
// takes the replicas out of the balancers (readiness, NOT_SERVING) without
// the kubelet restarting every one of them (liveness), which would not
// bring the database back, and would drop the caches and streams that
// still serve reads into a crash loop until it came back.
const LivenessService = "liveness"

// ErrDraining is the status a long-lived stream ends with when its server
// shuts down (see Draining): UNAVAILABLE, which a client takes as "try
// again", and a message that says to open the stream again, which a
// client with several servers to choose from does elsewhere.
var ErrDraining = status.Error(codes.Unavailable, "the server is shutting down: open the stream again")

// Draining returns a channel closed when the server begins to shut down.
// A handler of a stream that would otherwise last as long as its client
// stays (a watch, a live session) ends on it with ErrDraining, so that
// the drain ends as soon as the calls in flight do, rather than waiting
// the whole drain timeout for the stream and then cutting it off.
func (s *Server) Draining() <-chan struct{} { return s.draining.Done() }

// OnDrain calls f, in a goroutine of its own, when the server begins to
// shut down: for a service whose long-lived streams end on a call (as the
// Catalog's watches end on StopWatches) rather than on Draining. It
// returns a function that cancels the call if it has not begun.
func (s *Server) OnDrain(f func()) (stop func() bool) { return context.AfterFunc(s.draining, f) }

// NewServer returns a Server made as cfg says; opts are passed on to
// grpc.NewServer after Bookshop's own.
func NewServer(cfg ServerConfig, opts ...grpc.ServerOption) *Server {
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.MaxConnectionAge <= 0 {
		cfg.MaxConnectionAge = DefaultMaxConnectionAge
	}
	if cfg.MaxRecvMessageSize <= 0 {
		cfg.MaxRecvMessageSize = DefaultMaxRecvMessageSize
	}
	if cfg.MaxConcurrentStreams == 0 {
		cfg.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if _, err := certs.ParseIdentityRule(string(cfg.ClientIdentity)); err != nil {
		// Such a rule names callers as the default does, the strictest
		// (see certs.IdentityRule): say so, rather than let the mistake
		// pass unseen. Commands parse the rule and refuse a bad one.
		cfg.Logger.Error("unknown rule of client identities: naming callers by spiffe, the default", "err", err)
		cfg.ClientIdentity = certs.SPIFFEOnly
	}
	// The metrics, the access log and request id, recovery,
	// authorization, the given interceptors and validation, in one
	// interceptor of each kind (see serverCalls). As the only ones in
	// grpc-go's chains, they are called directly; interceptors that opts
	// chain run inside them.
	calls := newServerCalls(cfg)
	base := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(calls.unary),
		grpc.ChainStreamInterceptor(calls.stream),
		grpc.MaxRecvMsgSize(cfg.MaxRecvMessageSize),
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge: cfg.MaxConnectionAge,
			// New calls go to a new connection at once; calls in flight,
			// live streams among them, may finish on the old one for up
			// to half an hour, rather than every shopper's live panel
			// being cut every few minutes.
			MaxConnectionAgeGrace: 30 * time.Minute,
			Time:                  time.Minute, // ping an idle client after a minute
			Timeout:               20 * time.Second,
		}),
		// Clients may ping every 20s (ours ping every 30s), even without calls.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 20 * time.Second, PermitWithoutStream: true}),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.StaticStreamWindowSize(streamWindow),
		grpc.StaticConnWindowSize(connWindow),
		// A request that does not decode is the caller's mistake (see
		// requestCodec). (An option that grpc-go marks experimental.)
		grpc.ForceServerCodecV2(newRequestCodec()),
	}
	if cfg.TLS != nil {
		base = append(base, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	if cfg.Tracing != nil {
		// A stats handler, not an interceptor: it sees the call before the
		// interceptors do, so that the access log has the trace id.
		base = append(base, grpc.StatsHandler(cfg.Tracing.ServerHandler()))
	}
	draining, drain := context.WithCancel(context.Background())
	s := &Server{
		draining:     draining,
		drain:        drain,
		Server:       grpc.NewServer(append(base, opts...)...),
		health:       health.NewServer(),
		metrics:      cfg.Metrics,
		logger:       cfg.Logger,
		drainTimeout: cfg.DrainTimeout,
		ready:        cfg.Ready,
		healthKeepalive: keepalive.ServerParameters{
			MaxConnectionIdle:     HealthMaxConnectionIdle,
			MaxConnectionAge:      HealthMaxConnectionAge,
			MaxConnectionAgeGrace: HealthMaxConnectionAgeGrace,
		},
	}
	s.healthWatch = &drainingHealth{Server: s.health, draining: draining, max: MaxHealthWatches}
	s.healthPortWatch = &drainingHealth{Server: s.health, draining: draining, max: HealthPortMaxWatches}
	// Nothing is served until Run: probes see NOT_SERVING until then.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.Server, s.healthWatch)
	reflection.Register(s.Server)
	return s
}

// SetServing marks the whole server and each registered service SERVING
// or NOT_SERVING, as health probes and client-side health checks see it.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for name := range s.GetServiceInfo() {
		s.health.SetServingStatus(name, st)
	}
	s.health.SetServingStatus("", st)
}

// setState changes the server's state with change, and marks the
// services SERVING if it is running and no check fails, NOT_SERVING
// otherwise.
func (s *Server) setState(change func()) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	change()
	s.SetServing(s.running && s.checkErr == nil)
}

// DefaultWatchInterval is how often Watch checks by default: a database
// that goes away is seen within a few seconds, and a check costs a round
// trip.
const DefaultWatchInterval = 3 * time.Second

// Watch checks what the services depend on, such as their database, with
// check, at once and then every interval (DefaultWatchInterval when 0),
// until ctx ends: while check fails, the services are NOT_SERVING, so
// that probes and balancers send their calls to another replica; when it
// passes again, they are SERVING again (once Run serves, and until it
// shuts down). It logs each change, with check's error, which must name
// no secret. It returns nil when ctx ends: run it beside Run, in
// process.RunAll.
func (s *Server) Watch(ctx context.Context, interval time.Duration, check func(context.Context) error) error {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	return process.Watch(ctx, interval, check, func(err error) {
		switch {
		case err != nil:
			s.logger.Warn("not ready: a dependency fails its check; serving NOT_SERVING until it passes", "err", err)
		case s.checkFailed():
			s.logger.Info("ready again: the dependency passes its check")
		}
		s.setState(func() { s.checkErr = err })
	})
}

// checkFailed reports whether the last check failed.
func (s *Server) checkFailed() bool {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.checkErr != nil
}

// initHealth marks every registered service NOT_SERVING, once, before
// either port serves: services are registered by then, and a probe that
// asks for one before Run must hear "not yet", not "unknown service". Their
// methods appear in the metrics, at zero, from then on.
func (s *Server) initHealth() {
	s.healthInit.Do(func() {
		s.SetServing(false)
		s.health.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_NOT_SERVING)
		s.metrics.InitServer(s.Server)
	})
}

// Run serves on lis until ctx is done or serving fails. At the start it
// marks LivenessService SERVING, and every registered service SERVING (or
// once ServerConfig.Ready is closed). When ctx is done it marks them all
// NOT_SERVING and ends health watches, so that balancers stop sending
// calls, lets calls in flight finish for up to the drain timeout, then
// stops hard. It returns nil after a shutdown asked for by ctx.
func (s *Server) Run(ctx context.Context, lis net.Listener) error {
	s.initHealth()
	s.health.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	if s.ready == nil {
		s.setState(func() { s.running = true })
	} else {
		go func() {
			select {
			case <-s.ready:
				s.setState(func() { s.running = true }) // after shutdown began, the health server ignores it
			case <-ctx.Done():
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()

	select {
	case err := <-served:
		s.health.Shutdown()
		return fmt.Errorf("serve gRPC on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}

	s.logger.Info("gRPC server shutting down", "addr", lis.Addr().String(), "drain_timeout", s.drainTimeout)
	s.health.Shutdown()
	s.drain() // health watches end, and the streams that end on Draining
	stopped := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.drainTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.logger.Warn("gRPC drain timed out; closing remaining calls", "addr", lis.Addr().String())
		s.Stop()
		<-stopped
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve gRPC on %s: %w", lis.Addr(), err)
	}
	return nil
}

// RunWithHealth runs the server on lis and, when healthLis is not nil, its
// health alone on healthLis (see RunHealth), until ctx is done or either
// fails.
func (s *Server) RunWithHealth(ctx context.Context, lis, healthLis net.Listener) error {
	if healthLis == nil {
		return s.Run(ctx, lis)
	}
	s.logger.Info("health serving in plaintext", "addr", healthLis.Addr().String())
	return process.RunAll(ctx,
		func(ctx context.Context) error { return s.Run(ctx, lis) },
		func(ctx context.Context) error { return s.RunHealth(ctx, healthLis) })
}

// RunHealth serves only the health service, in plaintext, on lis until ctx
// is done: for probes that cannot present a client certificate, such as
// Kubernetes' grpc probe, when the main port requires mutual TLS. It shows
// the same statuses as the main port. Anyone who reaches the port may call
// it, so it takes small messages and headers, HealthMaxStreams calls a
// connection and HealthMaxConns connections (at the cap, the oldest of the client that
// holds the most makes room for a new one), closes them idle or old
// (HealthMaxConnectionIdle, HealthMaxConnectionAge), and serves
// HealthPortMaxWatches watches, which take none of the main port's
// MaxHealthWatches.
func (s *Server) RunHealth(ctx context.Context, lis net.Listener) error {
	s.initHealth()
	// grpc-go's codec: a request that does not decode is INTERNAL here.
	// requestCodec needs serverCalls' interceptor, which refuses what it
	// marks: without it, a Check that did not decode would be read as
	// one of the whole server, and answered.
	hs := grpc.NewServer(
		grpc.MaxConcurrentStreams(HealthMaxStreams),
		grpc.MaxRecvMsgSize(healthMaxRecvBytes),
		grpc.MaxHeaderListSize(healthMaxHeaderBytes),
		// No read buffer: grpc-go's 32 KiB a connection, two thirds of
		// what an idle one held, for requests of a few bytes.
		grpc.ReadBufferSize(0),
		grpc.KeepaliveParams(s.healthKeepalive),
		grpc.ConnectionTimeout(healthHandshakeTimeout), // an option grpc-go marks experimental
	)
	healthpb.RegisterHealthServer(hs, s.healthPortWatch)
	served := make(chan error, 1)
	capped := capConns(lis, HealthMaxConns, s.logger)
	go func() { served <- hs.Serve(capped) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve health on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	hs.Stop() // health calls are short and watches end at shutdown
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve health on %s: %w", lis.Addr(), err)
	}
	return nil
}

// drainingHealth is the standard health server, except that its watches
// end at shutdown, after telling the watcher NOT_SERVING, and that it
// serves at most max of them at once. A watch is a call like any other,
// and a client-side health check keeps one open on every connection:
// without this, each would hold a graceful stop open until the drain
// timeout. Each port has its own, over the one health.Server.
type drainingHealth struct {
	*health.Server
	draining context.Context // ends when shutdown begins
	max      int32           // watches at once
	watches  atomic.Int32    // running
}

// Watch implements grpc.health.v1.Health/Watch. Errors: RESOURCE_EXHAUSTED
// past the port's cap (MaxHealthWatches, HealthPortMaxWatches);
// UNAVAILABLE at shutdown.
func (h *drainingHealth) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	if h.watches.Add(1) > h.max {
		h.watches.Add(-1)
		return status.Errorf(codes.ResourceExhausted, "this port serves %d health watches already: use Check, or watch again later", h.max)
	}
	defer h.watches.Add(-1)
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	// Called by the drain's cancellation, without a goroutine that waits.
	defer context.AfterFunc(h.draining, cancel)()
	err := h.Server.Watch(req, &watchStream{ServerStreamingServer: stream, ctx: ctx})
	if h.draining.Err() != nil {
		// The inner watch may have ended before it sent the last status.
		_ = stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
		return status.Error(codes.Unavailable, "the server is shutting down")
	}
	return err
}

type watchStream struct {
	grpc.ServerStreamingServer[healthpb.HealthCheckResponse]
	ctx context.Context
}

func (w *watchStream) Context() context.Context { return w.ctx }
