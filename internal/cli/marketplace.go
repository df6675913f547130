package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/grpcapi"
	"github.com/bookshop-go/bookshop/internal/marketplace"
	"github.com/bookshop-go/bookshop/internal/telemetry"
)

// DefaultMarketplacePort is the Marketplace's HTTP port.
const DefaultMarketplacePort = 8080

// marketplaceConfig is the configuration of the Marketplace, apart from
// where it listens and where Recommendations is.
type marketplaceConfig struct {
	tls              clientTLSFlags
	recommendTimeout time.Duration
	drainTimeout     time.Duration
	rateLimit        float64
	rateBurst        int
	trustedProxies   int
	livePerClient    int
}

func (c *marketplaceConfig) register(fs *flag.FlagSet) map[string]string {
	fs.DurationVar(&c.recommendTimeout, "recommendations-timeout", time.Second, "deadline of each call to Recommendations; past it the page is served without recommendations (env RECOMMENDATIONS_TIMEOUT)")
	fs.Float64Var(&c.rateLimit, "rate-limit", float64(marketplace.DefaultRateLimit), "requests a second each client may make on average; 0 turns limiting off (env RATE_LIMIT)")
	fs.IntVar(&c.rateBurst, "rate-burst", marketplace.DefaultRateBurst, "requests each client may make at once (env RATE_BURST)")
	fs.IntVar(&c.livePerClient, "live-sessions-per-client", marketplace.DefaultMaxLiveSessionsPerClient, "live panels (open book pages) each client may have at once (env LIVE_SESSIONS_PER_CLIENT)")
	fs.IntVar(&c.trustedProxies, "trusted-proxies", 0, "how many reverse proxies, each adding to X-Forwarded-For, stand in front of the Marketplace; 0 ignores X-Forwarded-For (env TRUSTED_PROXIES)")
	return map[string]string{"recommendations-timeout": "RECOMMENDATIONS_TIMEOUT", "rate-limit": "RATE_LIMIT", "rate-burst": "RATE_BURST", "trusted-proxies": "TRUSTED_PROXIES", "live-sessions-per-client": "LIVE_SESSIONS_PER_CLIENT"}
}

func (c *marketplaceConfig) validate() error {
	if c.recommendTimeout <= 0 {
		return usageErrorf("-recommendations-timeout %v: want a positive duration such as 1s", c.recommendTimeout)
	}
	if c.drainTimeout <= 0 {
		return usageErrorf("-shutdown-timeout %v: want a positive duration such as 10s", c.drainTimeout)
	}
	if c.livePerClient < 1 {
		return usageErrorf("-live-sessions-per-client %d: want 1 or more", c.livePerClient)
	}
	if c.rateLimit < 0 || c.rateBurst < 1 || c.trustedProxies < 0 {
		return usageErrorf("-rate-limit %v, -rate-burst %d, -trusted-proxies %d: want a rate of 0 (off) or more, a burst of 1 or more, and 0 or more proxies", c.rateLimit, c.rateBurst, c.trustedProxies)
	}
	return nil
}

// RunMarketplace is the `marketplace` command: the web front end, alone,
// calling Recommendations at RECOMMENDATIONS_HOST.
func RunMarketplace(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	fs := flagSet("marketplace", "Runs the Marketplace web front end, which calls Recommendations over gRPC.", stderr)
	var (
		cfg      marketplaceConfig
		obsf     observeFlags
		logc     logConfig
		port     int
		recsHost string
	)
	fs.IntVar(&port, "port", DefaultMarketplacePort, "TCP port to serve HTTP on, on every interface (env PORT)")
	fs.StringVar(&recsHost, "recommendations-host", "localhost", "Recommendations service: host or host:port (default port 50051), or a gRPC target such as dns:///host:port (env RECOMMENDATIONS_HOST)")
	env := withEnv(cfg.register(fs), drainFlag(fs, &cfg.drainTimeout), cfg.tls.register(fs), obsf.register(fs, ""), logEnv,
		map[string]string{"port": "PORT", "recommendations-host": "RECOMMENDATIONS_HOST"})
	logc.register(fs)
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	if err := checkPort("port", port); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	target, err := grpcapi.Target(recsHost, DefaultRecommendationsPort)
	if err != nil {
		return usageErrorf("-recommendations-host or RECOMMENDATIONS_HOST: %v", err)
	}
	logger, closeLog, err := logc.serviceLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	obs, logger, err := newObserver(ctx, obsf, getenv, logger, "marketplace")
	if err != nil {
		return err
	}
	defer obs.close(ctx, logger)
	tracing := obs.tracing("marketplace")
	lis, err := listen("", port, "-port or PORT")
	if err != nil {
		return err
	}
	logger.Info("Marketplace serving HTTP", "addr", lis.Addr().String(), "recommendations", target, "tracing", tracing != nil)
	return runAll(ctx,
		func(ctx context.Context) error {
			return serveMarketplace(ctx, cfg, target, lis, logger, obs.metrics, tracing)
		},
		func(ctx context.Context) error { return obs.serveAdmin(ctx, logger) })
}

// serveMarketplace serves the Marketplace on lis, calling Recommendations
// at target, until ctx is done; then it shuts down gracefully. metrics and
// tracing are optional.
func serveMarketplace(ctx context.Context, cfg marketplaceConfig, target string, lis net.Listener, logger *slog.Logger, metrics *telemetry.Metrics, tracing *telemetry.Tracing) error {
	ccfg := grpcapi.ClientConfig{CallTimeout: cfg.recommendTimeout, Metrics: metrics, Tracing: tracing}
	if err := cfg.tls.apply(&ccfg); err != nil {
		lis.Close()
		return err
	}
	conn, err := grpcapi.Dial(target, ccfg)
	if err != nil {
		lis.Close()
		return err
	}
	defer conn.Close()
	client := grpcapi.NewRecommendationsClient(conn, cfg.recommendTimeout)
	limit := rate.Limit(cfg.rateLimit)
	if cfg.rateLimit == 0 {
		limit = rate.Inf
	}

	handler, err := marketplace.NewServer(marketplace.Config{
		Logger:                   logger,
		Recommender:              client,
		RecommendTimeout:         cfg.recommendTimeout,
		Catalog:                  grpcapi.NewCatalogClient(conn, cfg.recommendTimeout),
		Live:                     grpcapi.NewLiveClient(conn),
		Shutdown:                 ctx.Done(), // ends the live event streams, which never finish on their own
		Ready:                    grpcapi.HealthReady(conn, "Recommendations"),
		RateLimit:                limit,
		RateBurst:                cfg.rateBurst,
		TrustedProxies:           cfg.trustedProxies,
		MaxLiveSessionsPerClient: cfg.livePerClient,
		Metrics:                  metrics,
		Tracing:                  tracing,
	})
	if err != nil {
		lis.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      2*cfg.recommendTimeout + 10*time.Second, // a book page makes two calls, one after the other
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	return runHTTP(ctx, srv, lis, cfg.drainTimeout, logger)
}

// runHTTP serves srv on lis until ctx is done or serving fails. At shutdown
// it stops accepting, lets requests in flight finish for up to
// drainTimeout, then closes what is left.
func runHTTP(ctx context.Context, srv *http.Server, lis net.Listener, drainTimeout time.Duration, logger *slog.Logger) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("HTTP server shutting down", "addr", lis.Addr().String(), "drain_timeout", drainTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP drain timed out; closing remaining connections", "addr", lis.Addr().String())
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP on %s: %w", lis.Addr(), err)
	}
	return nil
}
