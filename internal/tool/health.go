package tool

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/recommendations"
)

// RunHealth is the `bookshop health` command: a probe for container health
// checks, where images have no shell or curl. It checks a gRPC server's
// standard health service, or fetches an HTTP URL, once, and exits 0 when
// healthy and 1 otherwise.
func RunHealth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop health", "Checks once whether a service is healthy, for container health checks:\n-grpc asks a gRPC server's health service, -http fetches a URL (2xx is healthy).\nExits 0 when healthy, 1 when not.", stderr)
	var (
		grpcAddr, service, url string
		timeout                time.Duration
		tlsFlags               = launch.ClientTLS{Tool: true, NoEnv: true}
	)
	fs.StringVar(&grpcAddr, "grpc", "", "gRPC server to check: host:port")
	fs.StringVar(&service, "service", "", "the service whose health to ask; empty for the whole server")
	fs.StringVar(&url, "http", "", "URL to fetch instead, such as http://localhost:8080/readyz")
	fs.DurationVar(&timeout, "timeout", 2*time.Second, "give up after this long")
	// TLS settings come from flags only: in a server's container, TLS_CERT
	// and TLS_KEY name the server's certificate, not a client's.
	fs.StringVar(&tlsFlags.CA, "tls-ca", "", "check over TLS, trusting servers certified by this CA (PEM)")
	fs.StringVar(&tlsFlags.Cert, "tls-cert", "", "for mutual TLS, present this client certificate (PEM)")
	fs.StringVar(&tlsFlags.Key, "tls-key", "", "the private key of -tls-cert (PEM)")
	if err := parseFlags(fs, args, getenv, nil); err != nil {
		return err
	}
	if (grpcAddr == "") == (url == "") {
		return usageErrorf("give one of -grpc host:port or -http URL")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if url != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return usageErrorf("-http %q: %v", url, err)
		}
		if (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
			return usageErrorf("-http %q: want an http:// or https:// URL, such as http://localhost:8080/readyz", url)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("unhealthy: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("unhealthy: %s answered %s", url, resp.Status)
		}
		fmt.Fprintf(stdout, "healthy: %s answered %s\n", url, resp.Status)
		return nil
	}

	var ccfg rpc.ClientConfig
	if err := tlsFlags.Apply(&ccfg); err != nil {
		return err
	}
	target, err := rpc.Target(grpcAddr, recommendations.DefaultPort)
	if err != nil {
		return usageErrorf("-grpc: %v", err)
	}
	// Without client-side health checking, which sends no call to a
	// server whose overall status is not SERVING: health asks for the
	// status of one name (liveness, say) whatever the others'.
	conn, err := rpc.Dial(target, ccfg, grpc.WithDisableHealthCheck())
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("unhealthy: %s is %s", grpcAddr, resp.GetStatus())
	}
	fmt.Fprintf(stdout, "healthy: %s is SERVING\n", grpcAddr)
	return nil
}
