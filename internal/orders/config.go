package orders

import (
	"github.com/bookshop-go/bookshop/internal/orders/ordersclient"
	"github.com/bookshop-go/bookshop/internal/orders/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
)

// DefaultPort is the Orders service's gRPC port, as its callers know it.
const DefaultPort = ordersclient.DefaultPort

// Config is the Orders service's own configuration; see Flags for each
// setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory
}

// DefaultConfig returns the Orders service's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "orders.db"}
}

// Flags declares the Orders service's settings on s, namespace "orders",
// with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Orders service's gRPC port")
	s.String(&c.DB, "db", c.DB, "the orders database file (SQLite), created on first start; every order is kept in it for good; "+sqlite.Memory+" keeps it in memory, and loses every order at exit")
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for orders that live in memory", s.Setting("db"), sqlite.Memory)
	}
	return nil
}
