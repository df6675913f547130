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
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/bookshop-go/bookshop/internal/bookshop"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/platform/telemetry"
)

// Options are what the Marketplace's handler is made of (see NewServer).
type Options struct {
	// Logger receives the access log and every error. Required.
	Logger *slog.Logger
	// Recommender answers the homepage's recommendations, and the first
	// list of a book page's panel. Required.
	Recommender bookshop.Recommender
	// RecommendTimeout bounds each call the site makes to a service:
	// Recommender, Catalog, Searcher, Accounts (three times it for a
	// sign-in or sign-up, which hash a password) and Carts. If it passes,
	// the page is served without what it asked for, with a notice in its
	// place. Required. (Its name is from when Recommender was the only
	// service; it is kept so as not to break callers.)
	RecommendTimeout time.Duration
	// Catalog serves the book pages and the category pages. Required.
	Catalog bookshop.Catalog
	// Accounts signs shoppers up, in and out, and tells who holds a
	// session cookie. Required.
	Accounts bookshop.Accounts
	// Carts keeps the shoppers' carts, and counts them for the header of
	// every page. Required.
	Carts bookshop.Carts
	// Inventory says how many copies of each book are left, for the pages
	// and the cart. Required.
	Inventory bookshop.Inventory
	// Checkout prices a cart for the checkout page and places orders, and
	// Orders shows a customer's orders. Required.
	Checkout bookshop.Checkout
	Orders   bookshop.Orders
	// Promotions says what the promotion's banner shows, and what it
	// takes off a cart. Required.
	Promotions bookshop.Promotions
	// Searcher answers the search page, /search. Required: the Catalog's
	// client is one.
	Searcher bookshop.Searcher
	// Live keeps the "you may also like" panel of the book pages up to
	// date: one stream per browser session. Required.
	Live bookshop.LiveRecommender
	// MaxLiveSessions caps the live sessions open at once,
	// MaxLiveSessionsPerClient those of one client (as the rate limit
	// tells clients apart: an IPv4 address, an IPv6 /64) and
	// MaxLiveSessionsPerNetwork those of one network (an IPv4 /24, an
	// IPv6 /48); past any, new ones are refused with 503. Zero means
	// DefaultMaxLiveSessions, DefaultMaxLiveSessionsPerClient and
	// DefaultMaxLiveSessionsPerNetwork. Each session holds about
	// LiveSessionBytes of memory.
	MaxLiveSessions           int
	MaxLiveSessionsPerClient  int
	MaxLiveSessionsPerNetwork int
	// LiveHeartbeat is how often an idle live event stream sends a comment,
	// so that proxies keep the connection. Zero means DefaultLiveHeartbeat.
	LiveHeartbeat time.Duration
	// LiveSessionMaxAge is how long a live session may last: at its first
	// heartbeat past it, its event stream ends, and the browser opens a
	// new session, as after any break. Its cookie lasts as long, so that a
	// browser does not keep one for every book page it opened. Zero means
	// DefaultLiveSessionMaxAge.
	LiveSessionMaxAge time.Duration
	// Shutdown, once closed, ends every live event stream, which would
	// otherwise hold a graceful shutdown until its timeout, and turns
	// /readyz to 503. Optional.
	Shutdown <-chan struct{}
	// Ready reports whether Recommendations can be reached, for /readyz,
	// which calls it with a deadline of 1s and answers 503 when it returns
	// an error: one that wraps context.DeadlineExceeded says it did not
	// answer in time. It must return when its context is done. Optional:
	// nil means ready whenever the web server runs, as /healthz.
	Ready func(ctx context.Context) error

	// RateLimit is how many requests a second each client may make, on
	// average, and RateBurst how many it may make at once; a client past
	// them gets 429, with a Retry-After header. /healthz, /readyz and the
	// static files are not limited. Zero means DefaultRateLimit and
	// DefaultRateBurst; a RateLimit of rate.Inf turns limiting off.
	RateLimit rate.Limit
	RateBurst int
	// MaxRateClients caps the clients whose rate is tracked at once; past
	// it, the least recently seen is forgotten. Zero means
	// DefaultMaxRateClients.
	MaxRateClients int
	// TrustedProxies is the number of reverse proxies in front of the
	// Marketplace, each of which adds the address it got a request from to
	// X-Forwarded-For. Zero, the default, ignores X-Forwarded-For, which
	// any client can write, and takes the client from the connection: set
	// it only when every request comes through that many proxies.
	TrustedProxies int

	// Metrics, when set, times every request, by method, route and status
	// code, and counts the live sessions open. Optional.
	Metrics *telemetry.Metrics
	// Tracing, when set, makes a server span of each request, the child
	// of the caller's when the request carries a traceparent header, and
	// the parent of the calls the request makes, when the clients of
	// Recommender, Catalog and Live trace them too. The health checks and
	// static files are not traced. Optional: without it, no tracing work
	// is done.
	Tracing *telemetry.Tracing
}

// The defaults of the live panel's settings.
const (
	// DefaultMaxLiveSessions fits the Marketplace's memory budget: at
	// LiveSessionBytes each, 6,000 sessions take some 120 MiB, and the
	// 256 MiB a replica is given in Kubernetes leaves room for the pages
	// served meanwhile (docs/capacity.md).
	DefaultMaxLiveSessions = 6_000
	// A shopper has a session per open book page; an office behind one
	// address has many shoppers.
	DefaultMaxLiveSessionsPerClient = 50
	// A network (a site's /48, a /24) holds many clients; with this cap,
	// it takes 20 networks to fill every place.
	DefaultMaxLiveSessionsPerNetwork = 300
	DefaultLiveHeartbeat             = 15 * time.Second
	// A book page open longer than a working day is rare; one that is
	// opens a new session after it.
	DefaultLiveSessionMaxAge = 12 * time.Hour
)

// LiveSessionBytes is the memory one live session holds, at most, on the
// Marketplace: its goroutines (its own, one reading the connection, and
// the LiveRecommender stream's), the stream, the connection. Measured:
// 17 KiB (TestLiveSessionMemory), down from 48 KiB when net/http served
// the whole session; docs/capacity.md budgets with it.
const LiveSessionBytes = 20 << 10

// maxBodyBytes is the largest request body the site reads, whatever the
// route: the largest is the sign-up form, under 2 KiB even with every
// field at its longest and escaped. A handler reading past it gets an
// *http.MaxBytesError. POST /live/{session}/events, a JSON event of a few
// dozen bytes, reads at most maxEventBytes.
const (
	maxBodyBytes  = 8 << 10
	maxEventBytes = 1 << 10
)

// server holds the dependencies of the handlers.
type server struct {
	logger      *slog.Logger
	recommender bookshop.Recommender
	callTimeout time.Duration
	catalog     bookshop.Catalog
	accounts    bookshop.Accounts
	carts       bookshop.Carts
	inventory   bookshop.Inventory
	checkout    bookshop.Checkout
	orders      bookshop.Orders
	stocks      *inventoryclient.StockCache // what Inventory said lately
	promotions  bookshop.Promotions
	offers      *offers // what Promotions said lately
	searcher    bookshop.Searcher
	live        bookshop.LiveRecommender
	sessions    *liveSessions
	signedIn    *signedIn // sessions Accounts vouched for lately
	// accountsOutage, cartOutage and inventoryOutage remember a failure of
	// Accounts, Cart or Inventory for a few seconds (see outage);
	// catalogOutage one of the Catalog for a book's page, only so that it
	// is logged as a warning once per outage.
	accountsOutage, cartOutage, inventoryOutage, promotionsOutage, catalogOutage outage
	known                                                                        knownBooks       // books the catalog has confirmed
	recommended                                                                  recommendedBooks // what Recommendations said of the books it recommended
	liveHeartbeat                                                                time.Duration
	liveMaxAge                                                                   time.Duration // of a live session
	shutdown                                                                     <-chan struct{}
	readiness                                                                    *readiness
	limiter                                                                      *clientLimiter // nil when requests are not limited
	trustedProxies                                                               int
	pages                                                                        *pages
	homeShells                                                                   *shells
	assets                                                                       *assets
	metrics                                                                      *telemetry.Metrics
	traced                                                                       bool // requests have spans
	mux                                                                          *http.ServeMux
}

// NewServer returns the Marketplace's HTTP handler. It fails only when cfg
// is incomplete or the embedded templates are broken.
func NewServer(cfg Options) (http.Handler, error) {
	switch {
	case cfg.Logger == nil:
		return nil, errors.New("marketplace: Options.Logger is nil")
	case cfg.Recommender == nil:
		return nil, errors.New("marketplace: Options.Recommender is nil")
	case cfg.RecommendTimeout <= 0:
		return nil, fmt.Errorf("marketplace: Options.RecommendTimeout must be positive, got %v", cfg.RecommendTimeout)
	case cfg.Catalog == nil:
		return nil, errors.New("marketplace: Options.Catalog is nil")
	case cfg.Searcher == nil:
		return nil, errors.New("marketplace: Options.Searcher is nil")
	case cfg.Live == nil:
		return nil, errors.New("marketplace: Options.Live is nil")
	case cfg.Accounts == nil:
		return nil, errors.New("marketplace: Options.Accounts is nil")
	case cfg.Carts == nil:
		return nil, errors.New("marketplace: Options.Carts is nil")
	case cfg.Inventory == nil:
		return nil, errors.New("marketplace: Options.Inventory is nil")
	case cfg.Checkout == nil:
		return nil, errors.New("marketplace: Options.Checkout is nil")
	case cfg.Orders == nil:
		return nil, errors.New("marketplace: Options.Orders is nil")
	case cfg.Promotions == nil:
		return nil, errors.New("marketplace: Options.Promotions is nil")
	case cfg.MaxLiveSessions < 0:
		return nil, fmt.Errorf("marketplace: Options.MaxLiveSessions must be zero or more, got %d", cfg.MaxLiveSessions)
	case cfg.MaxLiveSessionsPerClient < 0:
		return nil, fmt.Errorf("marketplace: Options.MaxLiveSessionsPerClient must be zero or more, got %d", cfg.MaxLiveSessionsPerClient)
	case cfg.MaxLiveSessionsPerNetwork < 0:
		return nil, fmt.Errorf("marketplace: Options.MaxLiveSessionsPerNetwork must be zero or more, got %d", cfg.MaxLiveSessionsPerNetwork)
	case cfg.LiveHeartbeat < 0:
		return nil, fmt.Errorf("marketplace: Options.LiveHeartbeat must be zero or more, got %v", cfg.LiveHeartbeat)
	case cfg.LiveSessionMaxAge < 0:
		return nil, fmt.Errorf("marketplace: Options.LiveSessionMaxAge must be zero or more, got %v", cfg.LiveSessionMaxAge)
	case !(cfg.RateLimit >= 0): // NaN too
		return nil, fmt.Errorf("marketplace: Options.RateLimit must be zero or more, got %v", cfg.RateLimit)
	case cfg.RateBurst < 0:
		return nil, fmt.Errorf("marketplace: Options.RateBurst must be zero or more, got %d", cfg.RateBurst)
	case cfg.MaxRateClients < 0:
		return nil, fmt.Errorf("marketplace: Options.MaxRateClients must be zero or more, got %d", cfg.MaxRateClients)
	case cfg.TrustedProxies < 0:
		return nil, fmt.Errorf("marketplace: Options.TrustedProxies must be zero or more, got %d", cfg.TrustedProxies)
	}
	maxSessions := cfg.MaxLiveSessions
	if maxSessions == 0 {
		maxSessions = DefaultMaxLiveSessions
	}
	perClient := cmp.Or(cfg.MaxLiveSessionsPerClient, DefaultMaxLiveSessionsPerClient)
	perNetwork := cmp.Or(cfg.MaxLiveSessionsPerNetwork, DefaultMaxLiveSessionsPerNetwork)
	heartbeat := cfg.LiveHeartbeat
	if heartbeat == 0 {
		heartbeat = DefaultLiveHeartbeat
	}
	var limiter *clientLimiter
	if cfg.RateLimit != rate.Inf {
		limit, burst, maxClients := cfg.RateLimit, cfg.RateBurst, cfg.MaxRateClients
		if limit == 0 {
			limit = DefaultRateLimit
		}
		if burst == 0 {
			burst = DefaultRateBurst
		}
		if maxClients == 0 {
			maxClients = DefaultMaxRateClients
		}
		limiter = newClientLimiter(limit, burst, maxClients, time.Now)
	}
	assets, err := newAssets()
	if err != nil {
		return nil, fmt.Errorf("marketplace: %w", err)
	}
	pages, err := parsePages(assets.urls)
	if err != nil {
		return nil, fmt.Errorf("marketplace: %w", err)
	}
	s := &server{
		logger:         cfg.Logger,
		recommender:    cfg.Recommender,
		callTimeout:    cfg.RecommendTimeout,
		catalog:        cfg.Catalog,
		accounts:       cfg.Accounts,
		signedIn:       newSignedIn(time.Now),
		carts:          cfg.Carts,
		inventory:      cfg.Inventory,
		checkout:       cfg.Checkout,
		orders:         cfg.Orders,
		stocks:         newStockCache(),
		promotions:     cfg.Promotions,
		offers:         newOffers(time.Now),
		searcher:       cfg.Searcher,
		live:           cfg.Live,
		sessions:       newLiveSessions(maxSessions, perClient, perNetwork, telemetry.Register(cfg.Metrics, prometheus.NewGauge(prometheus.GaugeOpts{Name: "bookshop_live_sessions", Help: "Live recommendation sessions of shoppers' browsers open on the Marketplace."}))),
		liveHeartbeat:  heartbeat,
		liveMaxAge:     cmp.Or(cfg.LiveSessionMaxAge, DefaultLiveSessionMaxAge),
		shutdown:       cfg.Shutdown,
		readiness:      newReadiness(cfg.Ready, cfg.Logger),
		limiter:        limiter,
		trustedProxies: cfg.TrustedProxies,
		pages:          pages,
		assets:         assets,
		metrics:        cfg.Metrics,
		traced:         cfg.Tracing != nil,
		mux:            http.NewServeMux(),
	}
	s.homeShells = newShells(pages.home, s.shellLayout)
	s.routes()
	// Every request that changes something (a POST) must come from the
	// site's own pages: see routes.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusForbidden, messageCrossOrigin)
	}))
	h := s.middleware(csrf.Handler(s.mux))
	if cfg.Tracing != nil {
		// Outside the middleware, so that its log line has the trace id.
		h = cfg.Tracing.HTTPHandler(h, untraced, tracedPath)
	}
	return h, nil
}

// shellLayout is the layout of the homepage's shells: the account bar is
// put in for each page (see shell.go).
func (s *server) shellLayout(c bookshop.Category) layout {
	return layout{Title: siteTitle, Head: s.pages.head, Nav: s.pages.navFor(c), Account: accountMarker}
}

// untraced reports whether a request is left out of traces: the probes'
// health checks, made every few seconds, and the static files.
func untraced(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || strings.HasPrefix(p, "/static/")
}

// tracedPath is the path that a request's span records: its own, but
// under /live/, where the one route's paths hold a live session's id,
// that route's pattern, as the log says it (see loggedPath). A trace
// must not hold what lets whoever reads it post to a session.
func tracedPath(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/live/") {
		return "/live/{session}/events"
	}
	return r.URL.Path
}

// messageCrossOrigin answers a POST that another site made the browser
// send.
const messageCrossOrigin = "This request came from another site, so we did not act on it. Please use the form on our page."
