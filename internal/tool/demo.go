package tool

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/demo"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/launch"
	"github.com/bookshop-go/bookshop/internal/platform/process"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultDemoPort is the tutorial's port for its demo services.
const DefaultDemoPort = 50051

// RunDemo is the `bookshop demo` command: the tutorial's demo services, one
// for each of the four kinds of gRPC call, and a client for each. It
// dispatches to its own subcommands.
func RunDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "bookshop demo", "The tutorial's demo services: one for each of the four kinds of gRPC call.\nRun `bookshop demo serve` in one terminal and a client in another.", []subcommand{
		{"serve", "serve the four demo services on one port", runDemoServe},
		{"unary", "call the unary demo: one request, one response", demoClient("unary",
			"Sends the tutorial's unary request to /unary.Unary/GetServerResponse and\nprints the request and the response.",
			func(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer) error {
				return demo.CallUnary(ctx, conn, out, demo.UnaryMessage)
			})},
		{"server-streaming", "call the server-streaming demo: one request, a stream of responses", demoClient("server-streaming",
			"Asks /bookshop.demo.v1.ServerStreamingService/StreamReplies for three\nreplies and prints the request and each reply as it arrives.",
			func(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer) error {
				return demo.CallServerStreaming(ctx, conn, out, demo.ServerStreamingMessage, demo.ServerStreamingCount)
			})},
		{"client-streaming", "call the client-streaming demo: a stream of requests, one response", demoClient("client-streaming",
			"Streams three messages to /bookshop.demo.v1.ClientStreamingService/CollectMessages\nand prints each message and the server's summary.",
			func(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer) error {
				return demo.CallClientStreaming(ctx, conn, out, demo.ClientStreamingMessages())
			})},
		{"bidirectional", "call the bidirectional demo: both sides stream at once", demoClient("bidirectional",
			"Streams the tutorial's five messages to /bidirectional.Bidirectional/GetServerResponse\nwhile it prints each echo as it arrives.",
			func(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer) error {
				return demo.CallBidirectional(ctx, conn, out, demo.BidirectionalMessages())
			})},
	}, args, getenv, stdout, stderr)
}

// runDemoServe is the `bookshop demo serve` command: the four demo
// services on one port, with health, reflection and graceful shutdown,
// run as any service is (launch.Alone), its settings in the namespace
// DEMO. When it is ready it prints "Demo server listening on ADDR" to
// stdout.
func runDemoServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	port := DefaultDemoPort
	s := &launch.Service{
		Name:   "demo",
		Title:  "Demo",
		About:  "Serves the four demo services on one port: the tutorial's\n/unary.Unary and /bidirectional.Bidirectional, and\nbookshop.demo.v1's ServerStreamingService and ClientStreamingService,\nwith the standard health service and server reflection.",
		Serves: true,
		Flags: func(own *config.Set) {
			own.Port(&port, "port", port, "TCP port to serve gRPC on, on every interface")
		},
		Validate: func(own *config.Set) error { return own.CheckPort("port", port) },
		Port:     func() int { return port },
		Run: func(ctx context.Context, deps process.Deps) error {
			scfg := rpc.ServerConfig{Logger: deps.Logger, DrainTimeout: deps.DrainTimeout, TLS: deps.ServerTLS, ClientIdentity: deps.ClientIdentity, Metrics: deps.Metrics, Tracing: deps.Tracing}
			policy, err := rpc.Merge(rpc.CommonPolicy(), demo.Policy())
			if err != nil {
				deps.Close()
				return err
			}
			rpc.Authorize(&scfg, policy)
			srv := rpc.NewServer(scfg)
			demo.Register(srv)
			deps.Logger.Info("demo services serving gRPC", "addr", deps.Listener.Addr().String())
			fmt.Fprintf(stdout, "Demo server listening on %s\n", deps.Listener.Addr())
			return srv.RunWithHealth(ctx, deps.Listener, deps.HealthListener)
		},
	}
	return launch.Alone("bookshop demo serve", s)(ctx, args, getenv, stdout, stderr)
}

// demoCall is one demo client's call: it writes what it sends and receives
// to out.
type demoCall func(ctx context.Context, conn grpc.ClientConnInterface, out io.Writer) error

// demoClient returns the `bookshop demo <name>` command, which connects to
// the demo server at -addr and makes call, within -timeout, writing to
// stdout.
func demoClient(name, summary string, call demoCall) Command {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		fs := flagSet("bookshop demo "+name, summary, stderr)
		var (
			addr     string
			timeout  time.Duration
			tlsFlags launch.ClientTLS
		)
		fs.StringVar(&addr, "addr", fmt.Sprintf("localhost:%d", DefaultDemoPort), "demo server: host or host:port (default port 50051), or a gRPC target such as dns:///host:port (env DEMO_ADDR)")
		fs.DurationVar(&timeout, "timeout", 10*time.Second, "deadline of the call (env DEMO_TIMEOUT)")
		env := withEnv(tlsFlags.Register(fs), map[string]string{"addr": "DEMO_ADDR", "timeout": "DEMO_TIMEOUT"})
		if err := parseFlags(fs, args, getenv, env); err != nil {
			return err
		}
		if timeout <= 0 {
			return usageErrorf("-timeout %v: want a positive duration such as 10s", timeout)
		}
		target, err := rpc.Target(addr, DefaultDemoPort)
		if err != nil {
			return usageErrorf("-addr or DEMO_ADDR: %v", err)
		}
		// Plaintext unless -tls-ca says otherwise, as the tutorial's demos
		// talk.
		tracing, flush, err := launch.ClientTracing(ctx, "bookshop-demo", getenv, stderr)
		if err != nil {
			return err
		}
		defer flush()
		ccfg := rpc.ClientConfig{CallTimeout: timeout, Tracing: tracing}
		if err := tlsFlags.Apply(&ccfg); err != nil {
			return err
		}
		conn, err := rpc.Dial(target, ccfg)
		if err != nil {
			return fmt.Errorf("demo client for %q: %w", target, err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := call(ctx, conn, stdout); err != nil {
			return fmt.Errorf("call the demo server at %s: %w", target, err)
		}
		return nil
	}
}
