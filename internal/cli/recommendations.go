package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/grpcapi"
	"github.com/bookshop-go/bookshop/internal/recommend"
	"github.com/bookshop-go/bookshop/internal/sqlite"
	"github.com/bookshop-go/bookshop/internal/telemetry"
)

// DefaultRecommendationsPort is the tutorial's port for Recommendations.
const DefaultRecommendationsPort = 50051

// recommendationsConfig is the configuration of the Recommendations service.
type recommendationsConfig struct {
	tls          serverTLSFlags
	healthAddr   string
	dbPath       string
	catalogPath  string
	drainTimeout time.Duration
}

func (c *recommendationsConfig) register(fs *flag.FlagSet) map[string]string {
	fs.StringVar(&c.dbPath, "db", "bookshop.db", "catalog database file (SQLite), created and seeded on first start; "+sqlite.Memory+" keeps it in memory (env CATALOG_DB)")
	fs.StringVar(&c.catalogPath, "catalog", "", "catalog CSV file that seeds a new database, instead of the built-in catalog (env CATALOG_FILE; format in the README)")
	return map[string]string{"db": "CATALOG_DB", "catalog": "CATALOG_FILE"}
}

// RunRecommendations is the `recommendations` command: the Recommendations
// gRPC service, alone.
func RunRecommendations(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	fs := flagSet("recommendations", "Runs the Recommendations gRPC service (/Recommendations/Recommend), with\nthe standard health service and server reflection.", stderr)
	var (
		cfg  recommendationsConfig
		obsf observeFlags
		logc logConfig
		port int
	)
	fs.IntVar(&port, "port", DefaultRecommendationsPort, "TCP port to serve gRPC on, on every interface (env RECOMMENDATIONS_PORT)")
	fs.StringVar(&cfg.healthAddr, "health-addr", "", "also serve the health service alone, in plaintext, on this address (such as :8086), for probes that cannot use the main port's mutual TLS (env HEALTH_ADDR)")
	env := withEnv(cfg.register(fs), drainFlag(fs, &cfg.drainTimeout), cfg.tls.register(fs), obsf.register(fs, ""), logEnv,
		map[string]string{"port": "RECOMMENDATIONS_PORT", "health-addr": "HEALTH_ADDR"})
	logc.register(fs)
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	if err := checkPort("port", port); err != nil {
		return err
	}
	logger, closeLog, err := logc.serviceLogger(stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	obs, logger, err := newObserver(ctx, obsf, getenv, logger, "recommendations")
	if err != nil {
		return err
	}
	defer obs.close(ctx, logger)
	tracing := obs.tracing("recommendations")
	books, err := openCatalog(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer books.Close()
	srv, err := newRecommendationsServer(books, cfg, logger, obs.metrics, tracing)
	if err != nil {
		return err
	}
	lis, err := listen("", port, "-port or RECOMMENDATIONS_PORT")
	if err != nil {
		return err
	}
	logger.Info("Recommendations serving gRPC", "addr", lis.Addr().String(), "tracing", tracing != nil)
	return runRecommendations(ctx, srv, lis, cfg.healthAddr, obs, logger)
}

// openCatalog opens the catalog database (creating and seeding it on
// first start).
func openCatalog(ctx context.Context, cfg recommendationsConfig, logger *slog.Logger) (*sqlite.DB, error) {
	if cfg.dbPath == "" {
		return nil, usageErrorf("-db: want a file path, or %s for a catalog that lives in memory", sqlite.Memory)
	}
	var (
		seed *catalog.Catalog
		err  error
	)
	if cfg.catalogPath == "" {
		seed, err = catalog.Builtin()
	} else {
		seed, err = catalog.Open(cfg.catalogPath)
	}
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	books, err := sqlite.Open(ctx, cfg.dbPath, seed.Books())
	if err != nil {
		return nil, err
	}
	logger.Info("catalog database open", "path", cfg.dbPath, "books", books.Len(),
		"seed", cmp.Or(cfg.catalogPath, "built-in"))
	return books, nil
}

// newRecommendationsServer returns a gRPC server with the Recommendations,
// catalog and live-recommendation services registered over books, ready
// to Run. metrics and tracing are optional.
func newRecommendationsServer(books *sqlite.DB, cfg recommendationsConfig, logger *slog.Logger, metrics *telemetry.Metrics, tracing *telemetry.Tracing) (*grpcapi.Server, error) {
	if cfg.drainTimeout <= 0 {
		return nil, usageErrorf("-shutdown-timeout %v: want a positive duration such as 10s", cfg.drainTimeout)
	}
	scfg := grpcapi.ServerConfig{Logger: logger, DrainTimeout: cfg.drainTimeout, Metrics: metrics, Tracing: tracing}
	if err := cfg.tls.apply(&scfg); err != nil {
		return nil, err
	}
	srv := grpcapi.NewServer(scfg)
	recommendationspb.RegisterRecommendationsServer(srv,
		grpcapi.NewRecommendationsServer(metrics.Recommender(recommend.New(books, nil)), logger))
	recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, grpcapi.NewLiveServer(
		func() grpcapi.LiveSession { return recommend.NewSession(books, nil) }, logger))
	catalogv1.RegisterCatalogServiceServer(srv, grpcapi.NewCatalogServer(books, metrics.Importer(books), logger))
	return srv, nil
}

// runRecommendations serves srv on lis, its health alone on healthAddr
// when that is set, and the admin endpoints of obs, until ctx is done.
func runRecommendations(ctx context.Context, srv *grpcapi.Server, lis net.Listener, healthAddr string, obs *observer, logger *slog.Logger) error {
	run := []func(context.Context) error{
		func(ctx context.Context) error { return srv.Run(ctx, lis) },
		func(ctx context.Context) error { return obs.serveAdmin(ctx, logger) },
	}
	if healthAddr != "" {
		hlis, err := net.Listen("tcp", healthAddr)
		if err != nil {
			lis.Close()
			return fmt.Errorf("listen for health on %s: %w", healthAddr, err)
		}
		logger.Info("health serving in plaintext", "addr", hlis.Addr().String())
		run = append(run, func(ctx context.Context) error { return srv.RunHealth(ctx, hlis) })
	}
	return runAll(ctx, run...)
}
