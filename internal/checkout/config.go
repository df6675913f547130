package checkout

import (
	"fmt"
	"strings"
	"time"

	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/checkout/checkoutclient"
	"github.com/bookshop-go/bookshop/internal/checkout/postgres"
	"github.com/bookshop-go/bookshop/internal/checkout/sqlite"
	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/payments/paymentsclient"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
	"github.com/bookshop-go/bookshop/internal/promotions/promotionsclient"
)

// DefaultPort is the Checkout's gRPC port, as its callers know it.
const DefaultPort = checkoutclient.DefaultPort

// DefaultRecoverInterval is how often the recoverer looks for unfinished
// checkouts, by default.
const DefaultRecoverInterval = 10 * time.Second

// The bounds of the settings.
const (
	MinHoldTTL      = time.Second
	MaxHoldTTL      = time.Hour // the Inventory's longest hold
	MaxPlaceTimeout = 5 * time.Minute
	MaxCallTimeout  = time.Minute
	MaxCheckouts    = 10_000
)

// Config is the Checkout's own configuration; see Flags for each setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the saga log's database file, or sqlite.Memory; unused with Database.URL
	// Database, when its URL is set, keeps the saga log in PostgreSQL, in
	// schema checkout, instead of the file DB, so that replicas share it:
	// see pgdb.Settings.
	Database pgdb.Settings
	// HoldTTL, PlaceTimeout, CallTimeout and MaxCheckouts are the
	// Service's Options of those names.
	HoldTTL      time.Duration
	PlaceTimeout time.Duration
	CallTimeout  time.Duration
	MaxCheckouts int
	// RecoverInterval is how often the unfinished checkouts are taken up.
	RecoverInterval time.Duration
	// CatalogCache is how long a book read from the Catalog is kept to
	// price quotes and orders (see catalogclient.Cache); 0 for not at all.
	CatalogCache time.Duration
	// StockCache is how long what the Inventory said of a book's stock is
	// kept for the quotes (see inventoryclient.StockCache); 0 for not at
	// all. Orders reserve the stock itself, never a kept count.
	StockCache time.Duration
	// CartHost, CatalogHost, InventoryHost, PaymentsHost, OrdersHost and
	// PromotionsHost are where the services the Checkout calls are: host,
	// host:port or a gRPC target each.
	CartHost, CatalogHost, InventoryHost, PaymentsHost, OrdersHost, PromotionsHost string
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Checkout's defaults.
func DefaultConfig() Config {
	return Config{
		Port: DefaultPort, DB: "checkout.db", Database: pgdb.DefaultSettings(),
		HoldTTL: DefaultHoldTTL, PlaceTimeout: DefaultPlaceTimeout, CallTimeout: DefaultCallTimeout,
		MaxCheckouts: DefaultMaxCheckouts, RecoverInterval: DefaultRecoverInterval, CatalogCache: catalogclient.DefaultCacheTTL,
		StockCache: inventoryclient.DefaultStockTTL,
		CartHost:   "localhost", CatalogHost: "localhost", InventoryHost: "localhost", PaymentsHost: "localhost", OrdersHost: "localhost",
		PromotionsHost: "localhost",
	}
}

// Flags declares the Checkout's settings on s, namespace "checkout", with
// c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Checkout's gRPC port")
	s.String(&c.DB, "db", c.DB, "the saga log's database file (SQLite), created on first start: every checkout's steps, so that one cut off by a crash is finished or undone at the next start; "+sqlite.Memory+" keeps it in memory, and loses that at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.Duration(&c.HoldTTL, "hold-ttl", c.HoldTTL, fmt.Sprintf("how long a checkout holds the stock it buys (the Inventory's reservation), from %s to %s and longer than -place-timeout: a checkout that could not finish within it is refunded", MinHoldTTL, MaxHoldTTL))
	s.Duration(&c.PlaceTimeout, "place-timeout", c.PlaceTimeout, fmt.Sprintf("the longest a checkout runs, its steps and their undoing included, up to %s; a caller that stops waiting sooner gets UNAVAILABLE, and the checkout goes on", MaxPlaceTimeout))
	s.Duration(&c.CallTimeout, "call-timeout", c.CallTimeout, fmt.Sprintf("the deadline of each call to another service, up to %s and no more than -place-timeout", MaxCallTimeout))
	s.Int(&c.MaxCheckouts, "max-checkouts", c.MaxCheckouts, fmt.Sprintf("the most checkouts run at once, 1 to %d; more wait for one to end", MaxCheckouts))
	s.Duration(&c.RecoverInterval, "recover-interval", c.RecoverInterval, "how often the checkouts left unfinished (by a crash, or a service down) are finished or undone, from 100ms to 1h; also at start")
	catalogclient.CacheFlag(s, &c.CatalogCache, "quotes and orders")
	s.Duration(&c.StockCache, "stock-cache", c.StockCache, fmt.Sprintf("how long the stock the Inventory gave for a book is kept to tell a quote's shopper how many copies are left, up to %s; 0 asks the Inventory at every quote. A hint only: an order reserves its copies at the Inventory itself", inventoryclient.MaxStockTTL))
}

// Dependencies declares, on the process's set, where the services that
// the Checkout calls are: CART_HOST, CATALOG_HOST, INVENTORY_HOST,
// PAYMENTS_HOST, ORDERS_HOST and PROMOTIONS_HOST. `bookshop up` wires them
// itself and does not declare them.
func (c *Config) Dependencies(s *config.Set) {
	for _, d := range c.dependencies() {
		s.String(d.host, d.name+"-host", *d.host, fmt.Sprintf("%s: host or host:port (default port %d), or a gRPC target such as dns:///%s:%[2]d", d.what, d.port, d.name))
	}
}

// dependency is a service the Checkout calls, and where it is.
type dependency struct {
	name, what string
	host       *string
	port       int
}

func (c *Config) dependencies() []dependency {
	return []dependency{
		{"cart", "the Cart, whose carts are checked out", &c.CartHost, cartclient.DefaultPort},
		{"catalog", "the Catalog, which prices every line", &c.CatalogHost, catalogclient.DefaultPort},
		{"inventory", "the Inventory, which holds the stock", &c.InventoryHost, inventoryclient.DefaultPort},
		{"payments", "the Payments service, which charges the cards", &c.PaymentsHost, paymentsclient.DefaultPort},
		{"orders", "the Orders service, which records the orders", &c.OrdersHost, ordersclient.DefaultPort},
		{"promotions", "the Promotions service, which gives an order the promotion's discount, once per customer (while it cannot be reached, carts are quoted and charged at their full price)", &c.PromotionsHost, promotionsclient.DefaultPort},
	}
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	switch {
	case c.DB == "":
		return config.UsageErrorf("%s: want a file path, or %s for a saga log that lives in memory", s.Setting("db"), sqlite.Memory)
	case c.PlaceTimeout < time.Second || c.PlaceTimeout > MaxPlaceTimeout:
		return config.UsageErrorf("%s %s: want from 1s to %s, such as 30s", s.Setting("place-timeout"), c.PlaceTimeout, MaxPlaceTimeout)
	case c.CallTimeout < 10*time.Millisecond || c.CallTimeout > min(MaxCallTimeout, c.PlaceTimeout):
		return config.UsageErrorf("%s %s: want from 10ms to %s (and -place-timeout at most), such as 5s", s.Setting("call-timeout"), c.CallTimeout, MaxCallTimeout)
	case c.HoldTTL < MinHoldTTL || c.HoldTTL > MaxHoldTTL || c.HoldTTL <= c.PlaceTimeout:
		return config.UsageErrorf("%s %s: want from %s to %s, and longer than -place-timeout (%s), such as 10m", s.Setting("hold-ttl"), c.HoldTTL, MinHoldTTL, MaxHoldTTL, c.PlaceTimeout)
	case c.MaxCheckouts < 1 || c.MaxCheckouts > MaxCheckouts:
		return config.UsageErrorf("%s %d: want from 1 to %d", s.Setting("max-checkouts"), c.MaxCheckouts, MaxCheckouts)
	case c.RecoverInterval < 100*time.Millisecond || c.RecoverInterval > time.Hour:
		return config.UsageErrorf("%s %s: want from 100ms to 1h, such as 10s", s.Setting("recover-interval"), c.RecoverInterval)
	}
	if err := catalogclient.CheckCacheFlag(s, c.CatalogCache); err != nil {
		return err
	}
	if c.StockCache < 0 || c.StockCache > inventoryclient.MaxStockTTL {
		return config.UsageErrorf("%s %s: want from 0 (no cache) to %s, such as 2s", s.Setting("stock-cache"), c.StockCache, inventoryclient.MaxStockTTL)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	for _, d := range c.dependencies() {
		if _, err := rpc.Target(*d.host, d.port); err != nil {
			return config.UsageErrorf("-%s-host or %s_HOST: %v", d.name, strings.ToUpper(d.name), err)
		}
	}
	return nil
}

// options returns the Service's Options for c.
func (c *Config) options() Options {
	return Options{HoldTTL: c.HoldTTL, PlaceTimeout: c.PlaceTimeout, CallTimeout: c.CallTimeout, MaxCheckouts: c.MaxCheckouts}
}
