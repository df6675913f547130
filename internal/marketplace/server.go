// Package marketplace is the Bookshop web front end: the pages a shopper
// opens in a browser. It asks a [bookshop.Recommender] (the Recommendations
// service, over gRPC, in production) for the books it shows.
//
// NewServer returns the whole site as one http.Handler; every route is in
// routes.go, and each handler is made by a handleX method.
package marketplace

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/bookshop-go/bookshop/internal/bookshop"
)

// Config is what the Marketplace needs to run.
type Config struct {
	// Logger receives the access log and every error. Required.
	Logger *slog.Logger
	// Recommender answers the homepage's recommendations. Required.
	Recommender bookshop.Recommender
	// RecommendTimeout bounds each call to Recommender. If it passes, the
	// page is served without recommendations. Required.
	RecommendTimeout time.Duration
}

// server holds the dependencies of the handlers.
type server struct {
	logger           *slog.Logger
	recommender      bookshop.Recommender
	recommendTimeout time.Duration
	pages            *pages
	assets           *assets
	mux              *http.ServeMux
}

// NewServer returns the Marketplace's HTTP handler. It fails only when cfg
// is incomplete or the embedded templates are broken.
func NewServer(cfg Config) (http.Handler, error) {
	switch {
	case cfg.Logger == nil:
		return nil, errors.New("marketplace: Config.Logger is nil")
	case cfg.Recommender == nil:
		return nil, errors.New("marketplace: Config.Recommender is nil")
	case cfg.RecommendTimeout <= 0:
		return nil, fmt.Errorf("marketplace: Config.RecommendTimeout must be positive, got %v", cfg.RecommendTimeout)
	}
	assets, err := newAssets()
	if err != nil {
		return nil, fmt.Errorf("marketplace: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("marketplace: %w", err)
	}
	s := &server{
		logger:           cfg.Logger,
		recommender:      cfg.Recommender,
		recommendTimeout: cfg.RecommendTimeout,
		pages:            pages,
		assets:           assets,
		mux:              http.NewServeMux(),
	}
	s.routes()
	return s.middleware(s.mux), nil
}
