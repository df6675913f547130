package orders

import (
	"time"

	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/orders/postgres"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// DefaultPort is the Orders service's gRPC port, as its callers know it.
const DefaultPort = ordersclient.DefaultPort

// Config is the Orders service's own configuration; see Flags for each
// setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory; unused with Database.URL
	// Database, when its URL is set, keeps the orders in PostgreSQL, in
	// schema orders, instead of the file DB, so that replicas may share
	// them: see pgdb.Settings.
	Database pgdb.Settings
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Orders service's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "orders.db", Database: pgdb.DefaultSettings()}
}

// Flags declares the Orders service's settings on s, namespace "orders",
// with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Orders service's gRPC port")
	s.String(&c.DB, "db", c.DB, "the orders database file (SQLite), created on first start; every order is kept in it for good; "+sqlite.Memory+" keeps it in memory, and loses every order at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for orders that live in memory", s.Setting("db"), sqlite.Memory)
	}
	return c.Database.Validate(s)
}
