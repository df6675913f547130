package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Server is a gRPC server with what every Bookshop server has: the standard
// health service (grpc.health.v1) and server reflection. Register services
// on it as on a *grpc.Server, then call Run.
type Server struct {
	*grpc.Server
	health       *health.Server
	logger       *slog.Logger
	drainTimeout time.Duration
}

// NewServer returns a Server whose Run waits up to drainTimeout for calls
// in flight at shutdown before it cuts them off.
func NewServer(logger *slog.Logger, drainTimeout time.Duration, opts ...grpc.ServerOption) *Server {
	opts = append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(recoverUnary(logger)),
		grpc.ChainStreamInterceptor(recoverStream(logger)),
	}, opts...)
	s := &Server{
		Server:       grpc.NewServer(opts...),
		health:       health.NewServer(),
		logger:       logger,
		drainTimeout: drainTimeout,
	}
	// Nothing is served until Run: probes see NOT_SERVING until then.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.Server, s.health)
	reflection.Register(s.Server)
	return s
}

// Run serves on lis until ctx is done or serving fails. At the start it
// marks every registered service SERVING. When ctx is done it marks them
// NOT_SERVING, lets calls in flight finish for up to the drain timeout, then
// stops hard. It returns nil after a shutdown asked for by ctx.
func (s *Server) Run(ctx context.Context, lis net.Listener) error {
	for name := range s.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

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

// recoverUnary turns a panic in a unary handler into INTERNAL for the
// caller, with the panic and its stack in the log only, so that one bad
// call cannot take the server down.
func recoverUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = logPanic(ctx, logger, info.FullMethod, p)
			}
		}()
		return handler(ctx, req)
	}
}

// recoverStream is recoverUnary for streaming handlers.
func recoverStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = logPanic(ss.Context(), logger, info.FullMethod, p)
			}
		}()
		return handler(srv, ss)
	}
}

func logPanic(ctx context.Context, logger *slog.Logger, method string, p any) error {
	logger.ErrorContext(ctx, "panic in gRPC handler", "method", method,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// Target turns a host or host:port, as people write RECOMMENDATIONS_HOST,
// into a gRPC target, adding defaultPort when no port is given. A value that
// already names a resolver scheme ("dns:///host:port", "passthrough:///...")
// is returned as it is.
func Target(hostport string, defaultPort int) (string, error) {
	hostport = strings.TrimSpace(hostport)
	if hostport == "" {
		return "", errors.New("empty address: want host or host:port")
	}
	if strings.Contains(hostport, ":///") {
		return hostport, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare host name, IPv4 address, or IPv6 address with or
		// without brackets.
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
		port = strconv.Itoa(defaultPort)
	}
	if host == "" || strings.ContainsAny(host, " /?#@") {
		return "", fmt.Errorf("%q is not a host or host:port", hostport)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%q: port must be a number from 1 to 65535", hostport)
	}
	return net.JoinHostPort(host, port), nil
}
