package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bookshop-go/bookshop/internal/catalog"
	catalogv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/catalog/v1"
	recommendationsv1 "github.com/bookshop-go/bookshop/internal/gen/bookshop/recommendations/v1"
	"github.com/bookshop-go/bookshop/internal/gen/recommendationspb"
	"github.com/bookshop-go/bookshop/internal/grpcapi"
	"github.com/bookshop-go/bookshop/internal/recommend"
	"github.com/bookshop-go/bookshop/internal/sqlite"
)

// DefaultRecommendationsPort is the tutorial's port for Recommendations.
const DefaultRecommendationsPort = 50051

// recommendationsConfig is the configuration of the Recommendations service.
type recommendationsConfig struct {
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
	srv, err := newRecommendationsServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer srv.close()
	lis, err := listen("", port, "-port or RECOMMENDATIONS_PORT")
	if err != nil {
		return err
	}
	logger.Info("Recommendations serving gRPC", "addr", lis.Addr().String())
	return srv.Run(ctx, lis)
}

// recommendationsService is the Recommendations process's gRPC server and
// the catalog database it serves.
type recommendationsService struct {
	*grpcapi.Server
	db *sqlite.DB
}

// close closes the catalog database; call it after Run returns.
func (s *recommendationsService) close() error { return s.db.Close() }

// newRecommendationsServer opens the catalog database (creating and seeding
// it on first start) and returns a gRPC server with the Recommendations,
// catalog and live-recommendation services registered, ready to Run.
func newRecommendationsServer(ctx context.Context, cfg recommendationsConfig, logger *slog.Logger) (*recommendationsService, error) {
	if cfg.drainTimeout <= 0 {
		return nil, usageErrorf("-shutdown-timeout %v: want a positive duration such as 10s", cfg.drainTimeout)
	}
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
		"seed", cmp(cfg.catalogPath, "built-in"))

	srv := grpcapi.NewServer(grpcapi.ServerConfig{Logger: logger, DrainTimeout: cfg.drainTimeout})
	recommendationspb.RegisterRecommendationsServer(srv,
		grpcapi.NewRecommendationsServer(recommend.New(books, nil), logger))
	recommendationsv1.RegisterLiveRecommendationsServiceServer(srv, grpcapi.NewLiveServer(
		func() grpcapi.LiveSession { return recommend.NewSession(books, nil) }, logger))
	catalogv1.RegisterCatalogServiceServer(srv, grpcapi.NewCatalogServer(books, books, logger))
	return &recommendationsService{Server: srv, db: books}, nil
}

// cmp returns s, or def when s is empty.
func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
