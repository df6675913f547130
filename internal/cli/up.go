package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
)

// RunUp is the `bookshop up` command: the whole system in one process on
// embedded defaults. Recommendations and the Marketplace each listen on
// their own port and talk real gRPC over loopback, as they would on two
// machines.
func RunUp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flagSet("bookshop up", "Runs the whole system on this machine: Recommendations and the Marketplace,\neach on its own port, talking gRPC over loopback. Prints the URL to open.", stderr)
	var (
		recsCfg  recommendationsConfig
		webCfg   marketplaceConfig
		logc     logConfig
		host     string
		port     int
		recsPort int
	)
	fs.StringVar(&host, "host", "localhost", "interface to listen on; use 0.0.0.0 to be reachable from other machines")
	fs.IntVar(&port, "port", DefaultMarketplacePort, "Marketplace HTTP port (env PORT)")
	fs.IntVar(&recsPort, "recommendations-port", DefaultRecommendationsPort, "Recommendations gRPC port (env RECOMMENDATIONS_PORT)")
	env := withEnv(recsCfg.register(fs), webCfg.register(fs), drainFlag(fs, &recsCfg.drainTimeout), logEnv,
		map[string]string{"port": "PORT", "recommendations-port": "RECOMMENDATIONS_PORT"})
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
	logger, err := logc.logger(stderr)
	if err != nil {
		return err
	}

	recsSrv, err := newRecommendationsServer(ctx, recsCfg, logger)
	if err != nil {
		return err
	}
	defer recsSrv.close()
	recsLis, err := listen(host, recsPort, "-recommendations-port or RECOMMENDATIONS_PORT")
	if err != nil {
		return err
	}
	webLis, err := listen(host, port, "-port or PORT")
	if err != nil {
		recsLis.Close()
		return err
	}
	target := loopbackAddr(recsLis.Addr())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 2)
	go func() { done <- recsSrv.Run(ctx, recsLis) }()
	go func() { done <- serveMarketplace(ctx, webCfg, target, webLis, logger) }()

	fmt.Fprintf(stdout, "Bookshop is up.\n  Marketplace:     http://%s/\n  Recommendations: %s (gRPC)\nPress Ctrl-C to stop.\n",
		loopbackAddr(webLis.Addr()), target)

	// When either service stops, for a signal or a failure, stop the other.
	first := <-done
	cancel()
	return errors.Join(first, <-done)
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
