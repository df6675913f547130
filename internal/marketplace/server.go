// Package marketplace is the Bookshop web front end: the pages a shopper
// opens in a browser. It asks a [bookshop.Recommender] (the Recommendations
// service, over gRPC, in production) for the books it recommends, a
// [bookshop.Catalog] for the books of the book and category pages, and a
// [bookshop.LiveRecommender] for the live "you may also like" panel, which
// it bridges to the browser with Server-Sent Events.
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
	// Recommender answers the homepage's recommendations, and the first
	// list of a book page's panel. Required.
	Recommender bookshop.Recommender
	// RecommendTimeout bounds each call to Recommender, and each call to
	// Catalog. If it passes, the page is served without recommendations,
	// or with a notice in place of the books. Required.
	RecommendTimeout time.Duration
	// Catalog serves the book pages and the category pages. Required.
	Catalog bookshop.Catalog
	// Live keeps the "you may also like" panel of the book pages up to
	// date: one stream per browser session. Required.
	Live bookshop.LiveRecommender
	// MaxLiveSessions caps the live sessions open at once; past it, new
	// ones are refused with 503. Zero means DefaultMaxLiveSessions.
	MaxLiveSessions int
	// LiveHeartbeat is how often an idle live event stream sends a comment,
	// so that proxies keep the connection. Zero means DefaultLiveHeartbeat.
	LiveHeartbeat time.Duration
	// Shutdown, once closed, ends every live event stream, which would
	// otherwise hold a graceful shutdown until its timeout. Optional.
	Shutdown <-chan struct{}
}

// The defaults of the live panel's settings.
const (
	DefaultMaxLiveSessions = 10_000
	DefaultLiveHeartbeat   = 15 * time.Second
)

// server holds the dependencies of the handlers.
type server struct {
	logger           *slog.Logger
	recommender      bookshop.Recommender
	recommendTimeout time.Duration
	catalog          bookshop.Catalog
	live             bookshop.LiveRecommender
	sessions         *liveSessions
	liveHeartbeat    time.Duration
	shutdown         <-chan struct{}
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
	case cfg.Catalog == nil:
		return nil, errors.New("marketplace: Config.Catalog is nil")
	case cfg.Live == nil:
		return nil, errors.New("marketplace: Config.Live is nil")
	case cfg.MaxLiveSessions < 0:
		return nil, fmt.Errorf("marketplace: Config.MaxLiveSessions must be zero or more, got %d", cfg.MaxLiveSessions)
	case cfg.LiveHeartbeat < 0:
		return nil, fmt.Errorf("marketplace: Config.LiveHeartbeat must be zero or more, got %v", cfg.LiveHeartbeat)
	}
	maxSessions := cfg.MaxLiveSessions
	if maxSessions == 0 {
		maxSessions = DefaultMaxLiveSessions
	}
	heartbeat := cfg.LiveHeartbeat
	if heartbeat == 0 {
		heartbeat = DefaultLiveHeartbeat
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
		catalog:          cfg.Catalog,
		live:             cfg.Live,
		sessions:         newLiveSessions(maxSessions),
		liveHeartbeat:    heartbeat,
		shutdown:         cfg.Shutdown,
		pages:            pages,
		assets:           assets,
		mux:              http.NewServeMux(),
	}
	s.routes()
	return s.middleware(s.mux), nil
}
