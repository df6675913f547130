package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bookshop-go/bookshop/internal/catalog"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/grpcapi"
	"github.com/bookshop-go/bookshop/internal/recommend"
)

// DefaultRecommendationsPort is the tutorial's port for Recommendations.
const DefaultRecommendationsPort = 50051

// recommendationsConfig is the configuration of the Recommendations service.
type recommendationsConfig struct {
	catalogPath  string
	drainTimeout time.Duration
}

func (c *recommendationsConfig) register(fs *flag.FlagSet) map[string]string {
	fs.StringVar(&c.catalogPath, "catalog", "", "catalog CSV file to serve instead of the built-in catalog (env CATALOG_FILE; format in the README)")
	return map[string]string{"catalog": "CATALOG_FILE"}
}

// RunRecommendations is the `recommendations` command: the Recommendations
// gRPC service, alone.
func RunRecommendations(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	fs := flagSet("recommendations", "Runs the Recommendations gRPC service (/Recommendations/Recommend), with\nthe standard health service and server reflection.", stderr)
	var (
		cfg  recommendationsConfig
		logc logConfig
		port int
	)
	fs.IntVar(&port, "port", DefaultRecommendationsPort, "TCP port to serve gRPC on, on every interface (env RECOMMENDATIONS_PORT)")
	env := withEnv(cfg.register(fs), drainFlag(fs, &cfg.drainTimeout), logEnv,
		map[string]string{"port": "RECOMMENDATIONS_PORT"})
	logc.register(fs)
	if err := parseFlags(fs, args, getenv, env); err != nil {
		return err
	}
	if err := checkPort("port", port); err != nil {
		return err
	}
	logger, err := logc.logger(stderr)
	if err != nil {
		return err
	}
	srv, err := newRecommendationsServer(cfg, logger)
	if err != nil {
		return err
	}
	lis, err := listen("", port, "-port or RECOMMENDATIONS_PORT")
	if err != nil {
		return err
	}
	logger.Info("Recommendations serving gRPC", "addr", lis.Addr().String())
	return srv.Run(ctx, lis)
}

// newRecommendationsServer loads the catalog and returns a gRPC server with
// the Recommendations service registered, ready to Run.
func newRecommendationsServer(cfg recommendationsConfig, logger *slog.Logger) (*grpcapi.Server, error) {
	if cfg.drainTimeout <= 0 {
		return nil, usageErrorf("-shutdown-timeout %v: want a positive duration such as 10s", cfg.drainTimeout)
	}
	var (
		books *catalog.Catalog
		err   error
	)
	if cfg.catalogPath == "" {
		books, err = catalog.Builtin()
	} else {
		books, err = catalog.Open(cfg.catalogPath)
	}
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	logger.Info("catalog loaded", "books", books.Len(), "source", cmp(cfg.catalogPath, "built-in"))

	srv := grpcapi.NewServer(logger, cfg.drainTimeout)
	recommendationspb.RegisterRecommendationsServer(srv,
		grpcapi.NewRecommendationsServer(recommend.New(books, nil), logger))
	return srv, nil
}

// cmp returns s, or def when s is empty.
func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
