package tool

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/bookshop-go/bookshop/internal/demo"
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
// services on one port, with health, reflection and graceful shutdown.
// When it is ready it prints "Demo server listening on ADDR" to stdout.
func runDemoServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop demo serve", "Serves the four demo services on one port: the tutorial's\n/unary.Unary and /bidirectional.Bidirectional, and\nbookshop.demo.v1's ServerStreamingService and ClientStreamingService,\nwith the standard health service and server reflection.", stderr)
	var (
		pf   launch.Process
		port int
	)
	fs.IntVar(&port, "port", DefaultDemoPort, "TCP port to serve gRPC on, on every interface (env DEMO_PORT)")
	fs.BindEnv("port", "DEMO_PORT")
	pf.Register(fs.Process(), true, false, "")
	if err := fs.Parse(args, getenv); err != nil {
		return err
	}
	if port < 0 || port > 65535 {
		return usageErrorf("-port or DEMO_PORT %d: want a port number from 1 to 65535 (0 picks a free one)", port)
	}
	if err := pf.CheckTLS(); err != nil {
		return err
	}
	r, err := pf.Start(ctx, getenv, stderr, "demo")
	if err != nil {
		return err
	}
	defer r.Close(ctx)
	lis, err := launch.Listen("", port, "-port or DEMO_PORT")
	if err != nil {
		return err
	}
	deps, err := r.Deps("demo", lis, pf.Server, launch.ClientTLS{})
	if err != nil {
		lis.Close()
		return err
	}
	if deps.HealthListener, err = r.HealthListener(); err != nil {
		lis.Close()
		return err
	}
	scfg := rpc.ServerConfig{Logger: deps.Logger, DrainTimeout: deps.DrainTimeout, TLS: deps.ServerTLS, ClientIdentity: deps.ClientIdentity, Metrics: deps.Metrics, Tracing: deps.Tracing}
	policy, err := rpc.Merge(rpc.CommonPolicy(), demo.Policy())
	if err != nil {
		deps.Close()
		return err
	}
	rpc.Authorize(&scfg, policy)
	srv := rpc.NewServer(scfg)
	demo.Register(srv)
	deps.Logger.Info("demo services serving gRPC", "addr", lis.Addr().String())
	fmt.Fprintf(stdout, "Demo server listening on %s\n", lis.Addr())
	return process.RunAll(ctx,
		func(ctx context.Context) error { return srv.RunWithHealth(ctx, lis, deps.HealthListener) },
		r.ServeAdmin)
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
