package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/bookshop-go/bookshop/internal/grpcapi"
)

// RunUp is the `bookshop up` command: the whole system in one process on
// embedded defaults. Recommendations and the Marketplace each listen on
// their own port and talk real gRPC over loopback, as they would on two
// machines.
func RunUp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop up", "Runs the whole system on this machine: Recommendations and the Marketplace,\neach on its own port, talking gRPC over loopback. Prints the URL to open.", stderr)
	var (
		recsCfg    recommendationsConfig
		webCfg     marketplaceConfig
		obsf       observeFlags
		logc       logConfig
		host       string
		port       int
		recsPort   int
		replicas   int
		tlsDirName string
	)
	fs.StringVar(&host, "host", "localhost", "interface to listen on; use 0.0.0.0 to be reachable from other machines")
	fs.IntVar(&port, "port", DefaultMarketplacePort, "Marketplace HTTP port (env PORT)")
	fs.IntVar(&recsPort, "recommendations-port", DefaultRecommendationsPort, "Recommendations gRPC port; with -replicas, the first of consecutive ports (env RECOMMENDATIONS_PORT)")
	fs.StringVar(&tlsDirName, "tls-dir", "", "run with mutual TLS between the services, with the certificates made by bookshop certs DIR (env TLS_DIR)")
	fs.IntVar(&replicas, "replicas", 1, "how many Recommendations replicas to run; the Marketplace balances its calls over them (env RECOMMENDATIONS_REPLICAS)")
	env := withEnv(recsCfg.register(fs), webCfg.register(fs), drainFlag(fs, &recsCfg.drainTimeout), obsf.register(fs, "localhost:9464"), logEnv,
		map[string]string{"port": "PORT", "recommendations-port": "RECOMMENDATIONS_PORT", "replicas": "RECOMMENDATIONS_REPLICAS", "tls-dir": "TLS_DIR"})
	logc.register(fs)
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	if err := checkPort("port", port); err != nil {
		return err
	}
	if err := checkPort("recommendations-port", recsPort); err != nil {
		return err
	}
	webCfg.drainTimeout = recsCfg.drainTimeout
	if err := webCfg.validate(); err != nil {
		return err
	}
	logger, closeLog, err := logc.serviceLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()

	if tlsDirName != "" {
		recsCfg.tls, webCfg.tls = tlsDir(tlsDirName, "marketplace")
	}
	if replicas < 1 || replicas > 32 {
		return usageErrorf("-replicas %d: want 1 to 32", replicas)
	}
	// One process, two services: each traces under its own name.
	obs, logger, err := newObserver(ctx, obsf, getenv, logger, "recommendations", "marketplace")
	if err != nil {
		return err
	}
	defer obs.close(ctx, logger)
	recsTracing, webTracing := obs.tracing("recommendations"), obs.tracing("marketplace")

	// The replicas share one catalog database: an import through any of
	// them is seen by all.
	books, err := openCatalog(ctx, recsCfg, logger)
	if err != nil {
		return err
	}
	defer books.Close()
	var (
		servers []*grpcapi.Server
		lis     []net.Listener
		addrs   []string
	)
	closeAll := func() {
		for _, l := range lis {
			l.Close()
		}
	}
	for i := range replicas {
		srv, err := newRecommendationsServer(books, recsCfg, logger, obs.metrics, recsTracing)
		if err != nil {
			closeAll()
			return err
		}
		p := recsPort
		if p != 0 {
			p += i // replicas take the ports that follow
		}
		l, err := listen(host, p, "-recommendations-port or RECOMMENDATIONS_PORT")
		if err != nil {
			closeAll()
			return err
		}
		servers, lis, addrs = append(servers, srv), append(lis, l), append(addrs, loopbackAddr(l.Addr()))
	}
	webLis, err := listen(host, port, "-port or PORT")
	if err != nil {
		closeAll()
		return err
	}
	target, err := grpcapi.Target(strings.Join(addrs, ","), DefaultRecommendationsPort)
	if err != nil {
		closeAll()
		webLis.Close()
		return err
	}

	run := []func(context.Context) error{
		func(ctx context.Context) error {
			return serveMarketplace(ctx, webCfg, target, webLis, logger, obs.metrics, webTracing)
		},
		func(ctx context.Context) error { return obs.serveAdmin(ctx, logger) },
	}
	for i, srv := range servers {
		run = append(run, func(ctx context.Context) error { return srv.Run(ctx, lis[i]) })
	}

	fmt.Fprintf(stdout, "Bookshop is up.\n  Marketplace:     http://%s/\n  Recommendations: %s (gRPC)\n",
		loopbackAddr(webLis.Addr()), strings.Join(addrs, ", "))
	if obs.admin != nil {
		fmt.Fprintf(stdout, "  Metrics:         http://%s/metrics\n", loopbackAddr(obs.admin.Addr()))
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	// When any service stops, for a signal or a failure, the others stop.
	return runAll(ctx, run...)
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
