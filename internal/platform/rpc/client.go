package rpc

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"

	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// DefaultCallTimeout is the deadline of a unary call whose context has
// none.
const DefaultCallTimeout = 5 * time.Second

// Int32 fits n into a message's int32 field: n itself when it fits, else
// the nearest of math.MinInt32 and math.MaxInt32, so that a number too
// large for the field reaches the server as too large, to be refused
// there, rather than wrapped around to a small or negative one.
func Int32(n int) int32 {
	return int32(max(min(n, math.MaxInt32), math.MinInt32))
}

// ClientConfig is what every Bookshop gRPC client is made of. The zero
// value is a plaintext client with the defaults.
type ClientConfig struct {
	// TLS, when set, makes the client speak TLS; with a client certificate
	// it can talk to a server that requires mutual TLS (see ClientTLS). A
	// handshake that fails over the server's certificate says what to do
	// about it: a certificate with a Common Name but no subject
	// alternative name, which Go refuses, needs one for the host name.
	TLS *tls.Config
	// CallTimeout is the deadline of a unary call whose context has none.
	CallTimeout time.Duration
	// Metrics, when set, counts every call, by method and status code,
	// and times it. Optional.
	Metrics *telemetry.Metrics
	// Tracing, when set, makes a client span of each call and passes its
	// trace context on to the server. Optional: without it, no tracing
	// work is done.
	Tracing *telemetry.Tracing
	// ReconnectMaxDelay is the longest wait between two attempts to
	// connect to a server that cannot be reached; 0 is
	// DefaultReconnectMaxDelay.
	ReconnectMaxDelay time.Duration
}

// DefaultReconnectMaxDelay is how long at most a client waits between
// two attempts to connect to a server that cannot be reached. gRPC's own
// default, 120 s, keeps a page degraded for up to two minutes after the
// service it needs is back; an attempt every 5 s costs a server that is
// down nothing it notices. (An address that drops packets rather than
// refusing the connection also takes an attempt's deadline, 20 s.)
const DefaultReconnectMaxDelay = 5 * time.Second

// serviceConfig is the service config of every Bookshop client:
//   - round_robin over every address the target resolves to, so that the
//     calls of one client spread over all the replicas of a service, not
//     only the one its first connection reached;
//   - client-side health checking: a replica whose health is not SERVING
//     (starting, draining, or failed) gets no calls;
//   - retries of UNAVAILABLE, the status of a call that did not reach a
//     healthy server, up to 3 attempts with backoff, with retry throttling
//     so that retries cannot pile on a service that is down: each failure
//     costs a token, each success gives a tenth back, and retries stop
//     below half of 100 tokens, so that a replica dying with a few dozen
//     calls in flight does not use them up.
const serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": ""},
  "methodConfig": [{
    "name": [{}],
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }],
  "retryThrottling": {"maxTokens": 100, "tokenRatio": 0.1}
}`

// backoffConfig is gRPC's default backoff between attempts to connect
// (1 s, growing 1.6 times each attempt, 20% jitter), with longest as its
// longest wait: the first too, which gRPC takes as it is.
func backoffConfig(longest time.Duration) backoff.Config {
	c := backoff.DefaultConfig
	c.BaseDelay, c.MaxDelay = min(c.BaseDelay, longest), longest
	return c
}

// Dial returns a client connection to target with Bookshop's client
// settings (see serviceConfig), keepalive, a request id and a default
// deadline on every call. target is a gRPC target ("localhost:50051",
// "dns:///recommendations:50051") or, to spread calls over a fixed set of
// replicas, "static:///host1:port1,host2:port2". It does not connect until
// the first call. Create one per target, share it between clients, and
// close it when done.
func Dial(target string, cfg ClientConfig, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = explainingTLS{credentials.NewTLS(cfg.TLS)}
	}
	unary := []grpc.UnaryClientInterceptor{clientUnary(cfg.CallTimeout)}
	stream := []grpc.StreamClientInterceptor{clientStream()}
	if cfg.Metrics != nil {
		// Outermost: a call's time is all of it, retries included.
		u, s := cfg.Metrics.ClientInterceptors()
		unary, stream = append([]grpc.UnaryClientInterceptor{u}, unary...), append([]grpc.StreamClientInterceptor{s}, stream...)
	}
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithResolvers(staticResolver{}),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoffConfig(cmp.Or(cfg.ReconnectMaxDelay, DefaultReconnectMaxDelay)),
			// gRPC's default, said again: with ConnectParams, 0 would be
			// a deadline of none at all for each attempt.
			MinConnectTimeout: 20 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
		grpc.WithStaticStreamWindowSize(streamWindow),
		grpc.WithStaticConnWindowSize(connWindow),
	}
	if cfg.Tracing != nil {
		base = append(base, grpc.WithStatsHandler(cfg.Tracing.ClientHandler()))
	}
	conn, err := grpc.NewClient(target, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("gRPC client for %q: %w", target, err)
	}
	return conn, nil
}

// Target turns what people write in RECOMMENDATIONS_HOST into a gRPC
// target: a host or host:port (defaultPort is added when there is none);
// several, separated by commas, for a static list of replicas; or a target
// that already names a resolver ("dns:///host:port"), returned as it is.
func Target(hosts string, defaultPort int) (string, error) {
	hosts = strings.TrimSpace(hosts)
	if hosts == "" {
		return "", errors.New("empty address: want host or host:port")
	}
	if strings.Contains(hosts, ":///") {
		return hosts, nil
	}
	parts := strings.Split(hosts, ",")
	for i, p := range parts {
		addr, err := hostPort(strings.TrimSpace(p), defaultPort)
		if err != nil {
			return "", err
		}
		parts[i] = addr
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return staticScheme + ":///" + strings.Join(parts, ","), nil
}

// hostPort checks one host or host:port and adds defaultPort if needed.
func hostPort(hostport string, defaultPort int) (string, error) {
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

// staticScheme is the resolver scheme of a fixed list of addresses.
const staticScheme = "static"

// staticResolver resolves "static:///a:1,b:2" to those addresses, once:
// the list of replicas for local runs (bookshop up -replicas N) and for
// deployments without DNS. It is given to each client with
// grpc.WithResolvers, not registered globally.
type staticResolver struct{}

func (staticResolver) Scheme() string { return staticScheme }

func (staticResolver) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	var addrs []resolver.Address
	for _, a := range strings.Split(t.Endpoint(), ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		// Each replica is its own authority: TLS checks its certificate
		// against its own host name, not against the whole list. The list
		// comes from the operator's configuration, which is trusted.
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("static target %q: %w", t.URL.String(), err)
		}
		addrs = append(addrs, resolver.Address{Addr: a, ServerName: host})
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("static target %q lists no address", t.URL.String())
	}
	if err := cc.UpdateState(resolver.State{Addresses: addrs}); err != nil {
		return nil, err
	}
	return staticResolver{}, nil
}

func (staticResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (staticResolver) Close()                                {}
