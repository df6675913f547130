package cart

import (
	"time"

	"github.com/bookshop-go/bookshop/internal/cart/cartclient"
	"github.com/bookshop-go/bookshop/internal/cart/postgres"
	"github.com/bookshop-go/bookshop/internal/cart/sqlite"
	"github.com/bookshop-go/bookshop/internal/catalog/catalogclient"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
	"github.com/bookshop-go/bookshop/internal/platform/rpc"
)

// DefaultPort is the Cart's gRPC port, as its callers know it.
const DefaultPort = cartclient.DefaultPort

// Config is the Cart's own configuration; see Flags for each setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory; unused with Database.URL
	// GuestTTL is how long a guest's cart is kept after its last change.
	GuestTTL time.Duration
	// CatalogHost is the Catalog that prices the carts: host, host:port or
	// a gRPC target.
	CatalogHost string
	// CatalogCache is how long a book read from the Catalog is kept to
	// price carts (see catalogclient.Cache); 0 for not at all.
	CatalogCache time.Duration
	// Database, when its URL is set, keeps the carts in PostgreSQL, in
	// schema cart, instead of the file DB: see pgdb.Settings.
	Database pgdb.Settings
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Cart's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "cart.db", Database: pgdb.DefaultSettings(), GuestTTL: DefaultGuestTTL, CatalogHost: "localhost", CatalogCache: catalogclient.DefaultCacheTTL}
}

// Flags declares the Cart's settings on s, namespace "cart", with c's
// values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Cart's gRPC port")
	s.String(&c.DB, "db", c.DB, "the carts' database file (SQLite), created on first start; "+sqlite.Memory+" keeps the carts in memory, lost at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.Duration(&c.GuestTTL, "guest-ttl", c.GuestTTL, "how long a guest's cart is kept after its last change (customers' carts are kept for good); bounds the database to the guests' carts of this period, 50 lines each at most")
	catalogclient.CacheFlag(s, &c.CatalogCache, "carts")
}

// Dependencies declares, on the process's set, where the services that
// the Cart calls are: CATALOG_HOST. `bookshop up` wires them itself and
// does not declare them.
func (c *Config) Dependencies(s *config.Set) {
	s.String(&c.CatalogHost, "catalog-host", c.CatalogHost, "the Catalog that prices the carts: host or host:port (default port 50060), or a gRPC target such as dns:///catalog:50060")
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for carts that live in memory", s.Setting("db"), sqlite.Memory)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	if c.GuestTTL < time.Hour {
		return config.UsageErrorf("%s %v: want 1h or more, such as 720h for 30 days", s.Setting("guest-ttl"), c.GuestTTL)
	}
	if err := catalogclient.CheckCacheFlag(s, c.CatalogCache); err != nil {
		return err
	}
	if _, err := rpc.Target(c.CatalogHost, catalogclient.DefaultPort); err != nil {
		return config.UsageErrorf("-catalog-host or CATALOG_HOST: %v", err)
	}
	return nil
}
