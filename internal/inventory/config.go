package inventory

import (
	"fmt"
	"time"

	"github.com/bookshop-go/bookshop/internal/inventory/inventoryclient"
	"github.com/bookshop-go/bookshop/internal/inventory/postgres"
	"github.com/bookshop-go/bookshop/internal/inventory/sqlite"
	"github.com/bookshop-go/bookshop/internal/platform/config"
	"github.com/bookshop-go/bookshop/internal/platform/pgdb"
)

// DefaultPort is the Inventory's gRPC port, as its callers know it.
const DefaultPort = inventoryclient.DefaultPort

// Config is the Inventory's own configuration; see Flags for each
// setting.
type Config struct {
	Port int    // the gRPC port
	DB   string // the database file, or sqlite.Memory; unused with Database.URL
	// ReservationTTL is how long a reservation holds its copies when its
	// caller does not say.
	ReservationTTL time.Duration
	// Database, when its URL is set, keeps the stock in PostgreSQL, in
	// schema inventory, instead of the file DB: see pgdb.Settings.
	Database pgdb.Settings
	// Seed is the stock a new database starts with, by book id; no
	// setting sets it. DefaultConfig's is SeedStock's.
	Seed map[int32]int
	// ReadyInterval is how often the database is checked for readiness
	// (rpc.Server.Watch); rpc.DefaultWatchInterval when 0. No setting
	// sets it: for tests.
	ReadyInterval time.Duration
}

// DefaultConfig returns the Inventory's defaults.
func DefaultConfig() Config {
	return Config{Port: DefaultPort, DB: "inventory.db", Database: pgdb.DefaultSettings(), ReservationTTL: DefaultTTL, Seed: SeedStock()}
}

// Flags declares the Inventory's settings on s, namespace "inventory",
// with c's values as defaults.
func (c *Config) Flags(s *config.Set) {
	s.Port(&c.Port, "port", c.Port, "the Inventory's gRPC port")
	s.String(&c.DB, "db", c.DB, "the stock's database file (SQLite), created on first start with some copies of each built-in book; "+sqlite.Memory+" keeps the stock in memory, lost at exit; unused with -"+s.Flag("database-url"))
	c.Database.Flags(s, postgres.Schema)
	s.Duration(&c.ReservationTTL, "reservation-ttl", c.ReservationTTL,
		fmt.Sprintf("how long a checkout's reservation holds its copies, unless committed or released before, when the checkout does not say: %v to %v; expired reservations are swept every %v", MinTTL, MaxTTL, SweepInterval))
}

// Validate checks c after parsing, naming the setting at fault through s.
func (c *Config) Validate(s *config.Set) error {
	if err := s.CheckPort("port", c.Port); err != nil {
		return err
	}
	if c.DB == "" {
		return config.UsageErrorf("%s: want a file path, or %s for a stock that lives in memory", s.Setting("db"), sqlite.Memory)
	}
	if err := c.Database.Validate(s); err != nil {
		return err
	}
	if c.ReservationTTL < MinTTL || c.ReservationTTL > MaxTTL {
		return config.UsageErrorf("%s %v: want %v to %v, such as 10m", s.Setting("reservation-ttl"), c.ReservationTTL, MinTTL, MaxTTL)
	}
	return nil
}
