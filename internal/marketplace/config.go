package marketplace

import (
	"fmt"
	"time"

	"github.com/bookshop-go/bookshop/internal/accounts/accountsclient"
	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
	"github.com/bookshop-go/bookshop/internal/recommendations/recommendationsclient"
)

// DefaultPort is the Marketplace's HTTP port.
const DefaultPort = 8080

// Config is the Marketplace's own configuration; see Flags.
type Config struct {
	Port int // the HTTP port
	// The services the Marketplace calls: host, host:port or a gRPC
	// target each.
	RecommendationsHost string
	CatalogHost         string
	AccountsHost        string
	CartHost            string
	InventoryHost       string
	CheckoutHost        string
	OrdersHost          string
	PromotionsHost      string
	CallTimeout         time.Duration
	RateLimit           float64
	RateBurst           int
	TrustedProxies      int
	// LiveSessions, LivePerClient and LivePerNetwork cap the live
	// sessions (see Options.MaxLiveSessions).
	LiveSessions   int
	LivePerClient  int
	LivePerNetwork int
	// DrainGrace is how long the Marketplace goes on serving at shutdown,
	// its /readyz answering 503 and every answer closing its connection,
	// before it stops accepting (see web.Drain).
	DrainGrace time.Duration
}

// DefaultConfig returns the Marketplace's defaults.
func DefaultConfig() Config {
	return Config{
		Port:                DefaultPort,
		RecommendationsHost: "localhost",
		CatalogHost:         "localhost",
		AccountsHost:        "localhost",
		CartHost:            "localhost",
		InventoryHost:       "localhost",
		CheckoutHost:        "localhost",
		OrdersHost:          "localhost",
		PromotionsHost:      "localhost",
		CallTimeout:         time.Second,
		RateLimit:           float64(DefaultRateLimit),
		RateBurst:           DefaultRateBurst,
		LiveSessions:        DefaultMaxLiveSessions,
		LivePerClient:       DefaultMaxLiveSessionsPerClient,
		LivePerNetwork:      DefaultMaxLiveSessionsPerNetwork,
	}
}

// Flags declares the Marketplace's own settings on s, namespace
// "marketplace", with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Marketplace's HTTP port")
	s.Duration(&c.CallTimeout, "call-timeout", c.CallTimeout, "deadline of each call to the services (three times it for a sign-in, which hashes a password); past it the page is served without what it asked for, with a notice")
	s.Float64(&c.RateLimit, "rate-limit", c.RateLimit, "requests a second each client may make on average; 0 turns limiting off")
	s.Int(&c.RateBurst, "rate-burst", c.RateBurst, "requests each client may make at once")
	s.Int(&c.LiveSessions, "live-sessions", c.LiveSessions, fmt.Sprintf("live panels (open book pages) open at once, each holding about %d KiB: raise it with the memory limit (docs/capacity.md)", LiveSessionBytes>>10))
	s.Int(&c.LivePerClient, "live-sessions-per-client", c.LivePerClient, "live panels (open book pages) each client (an IPv4 address, an IPv6 /64) may have at once")
	s.Int(&c.LivePerNetwork, "live-sessions-per-network", c.LivePerNetwork, "live panels (open book pages) the clients of one network (an IPv4 /24, an IPv6 /48) may have at once")
	s.Duration(&c.DrainGrace, "drain-grace", c.DrainGrace, "at shutdown, serve this long more, /readyz answering 503 and every answer closing its connection, so that keep-alive clients move elsewhere before the listener closes; 0 skips it (a deployment sets it: Kubernetes' preStop pause and terminationGracePeriodSeconds agree with it)")
	s.Int(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "how many reverse proxies, each adding to X-Forwarded-For, stand in front of the Marketplace; 0 ignores X-Forwarded-For and X-Forwarded-Proto (which, from a proxy, says the site is served over HTTPS: then cookies are Secure, with the __Host- prefix)")
}

// Dependencies declares, on the process's set, where the services the
// Marketplace calls are: RECOMMENDATIONS_HOST, CATALOG_HOST, ACCOUNTS_HOST,
// CART_HOST, INVENTORY_HOST, CHECKOUT_HOST, ORDERS_HOST and
// PROMOTIONS_HOST. `bookshop up`
// wires them itself and does not declare them.
func (c *Config) Dependencies(s *config.Set) {
	s.String(&c.RecommendationsHost, "recommendations-host", c.RecommendationsHost, "the Recommendations service: host or host:port (default port 50051), or a gRPC target such as dns:///host:port")
	s.String(&c.CatalogHost, "catalog-host", c.CatalogHost, "the Catalog service: host or host:port (default port 50060), or a gRPC target such as dns:///host:port")
	s.String(&c.AccountsHost, "accounts-host", c.AccountsHost, fmt.Sprintf("the Accounts service: host or host:port (default port %d), or a gRPC target such as dns:///host:port", accountsclient.DefaultPort))
	s.String(&c.CartHost, "cart-host", c.CartHost, fmt.Sprintf("the Cart service: host or host:port (default port %d), or a gRPC target such as dns:///host:port", cartclient.DefaultPort))
	s.String(&c.InventoryHost, "inventory-host", c.InventoryHost, fmt.Sprintf("the Inventory service: host or host:port (default port %d), or a gRPC target such as dns:///host:port", inventoryclient.DefaultPort))
	s.String(&c.CheckoutHost, "checkout-host", c.CheckoutHost, fmt.Sprintf("the Checkout service: host or host:port (default port %d), or a gRPC target such as dns:///host:port", checkoutclient.DefaultPort))
	s.String(&c.OrdersHost, "orders-host", c.OrdersHost, fmt.Sprintf("the Orders service: host or host:port (default port %d), or a gRPC target such as dns:///host:port", ordersclient.DefaultPort))
	s.String(&c.PromotionsHost, "promotions-host", c.PromotionsHost, fmt.Sprintf("the Promotions service: host or host:port (default port %d), or a gRPC target such as dns:///host:port", promotionsclient.DefaultPort))
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if _, err := rpc.Target(c.RecommendationsHost, recommendationsclient.DefaultPort); err != nil {
		return config.UsageErrorf("-recommendations-host or RECOMMENDATIONS_HOST: %v", err)
	}
	if _, err := rpc.Target(c.CatalogHost, catalogclient.DefaultPort); err != nil {
		return config.UsageErrorf("-catalog-host or CATALOG_HOST: %v", err)
	}
	if _, err := rpc.Target(c.AccountsHost, accountsclient.DefaultPort); err != nil {
		return config.UsageErrorf("-accounts-host or ACCOUNTS_HOST: %v", err)
	}
	for _, h := range []struct {
		host, flag, env string
		port            int
	}{
		{c.CartHost, "-cart-host", "CART_HOST", cartclient.DefaultPort},
		{c.InventoryHost, "-inventory-host", "INVENTORY_HOST", inventoryclient.DefaultPort},
		{c.CheckoutHost, "-checkout-host", "CHECKOUT_HOST", checkoutclient.DefaultPort},
		{c.OrdersHost, "-orders-host", "ORDERS_HOST", ordersclient.DefaultPort},
		{c.PromotionsHost, "-promotions-host", "PROMOTIONS_HOST", promotionsclient.DefaultPort},
	} {
		if _, err := rpc.Target(h.host, h.port); err != nil {
			return config.UsageErrorf("%s or %s: %v", h.flag, h.env, err)
		}
	}
	switch {
	case c.CallTimeout <= 0:
		return config.UsageErrorf("%s %v: want a positive duration such as 1s", s.Setting("call-timeout"), c.CallTimeout)
	case c.LiveSessions < 1:
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("live-sessions"), c.LiveSessions)
	case c.LivePerClient < 1:
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("live-sessions-per-client"), c.LivePerClient)
	case c.LivePerNetwork < 1:
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("live-sessions-per-network"), c.LivePerNetwork)
	case c.DrainGrace < 0 || c.DrainGrace > time.Minute:
		return config.UsageErrorf("%s %v: want 0 to 1m, such as 3s", s.Setting("drain-grace"), c.DrainGrace)
	case c.RateLimit < 0:
		return config.UsageErrorf("%s %v: want 0 (off) or more", s.Setting("rate-limit"), c.RateLimit)
	case c.RateBurst < 1:
		return config.UsageErrorf("%s %d: want 1 or more", s.Setting("rate-burst"), c.RateBurst)
	case c.TrustedProxies < 0:
		return config.UsageErrorf("%s %d: want 0 or more", s.Setting("trusted-proxies"), c.TrustedProxies)
	}
	return nil
}
